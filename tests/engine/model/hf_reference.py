"""Helpers shared by the model tests: tiny reference configs, the reference builder, the error metric."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import numpy as np

IMAGE, BOI, EOI, AUDIO, BOA, EOA, VIDEO = 500, 501, 502, 503, 504, 505, 506
WINDOW = 4

TEXT_BASE = {
    "vocab_size": 512,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 6,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "global_head_dim": 32,
    "num_global_key_value_heads": 1,
    "attention_k_eq_v": True,
    "sliding_window": WINDOW,
    "layer_types": ["sliding_attention", "sliding_attention", "full_attention"] * 2,
    "final_logit_softcapping": 30.0,
}

CONFIGS = {
    "T1": {},
    "T2": {"attention_k_eq_v": False},
    "T3": {"final_logit_softcapping": None},
    "T4": {"num_kv_shared_layers": 2, "use_double_wide_mlp": True},
    "ALL": {"use_bidirectional_attention": "all", "sliding_window": 6},
    "NONE": {"use_bidirectional_attention": None},
}


def rel_err(ours: mx.array, ref) -> float:
    """max |ours - ref| / max |ref| over every element (float64 on the host)."""
    a = np.array(ours, dtype=np.float64)
    b = (
        ref.detach().double().numpy()
        if hasattr(ref, "detach")
        else np.asarray(ref, dtype=np.float64)
    )
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a - b).max() / np.abs(b).max())


def build_reference(name: str, folder: Path, seed: int):
    import torch
    from transformers import Gemma4UnifiedConfig, Gemma4UnifiedForConditionalGeneration

    torch.manual_seed(seed)
    cfg = Gemma4UnifiedConfig(
        text_config={**TEXT_BASE, **CONFIGS[name]},
        vision_config={"mm_embed_dim": 48, "output_proj_dims": 48, "mm_posemb_size": 64},
        audio_config={"audio_embed_dim": 640},
        image_token_id=IMAGE,
        boi_token_id=BOI,
        eoi_token_id=EOI,
        audio_token_id=AUDIO,
        boa_token_id=BOA,
        eoa_token_index=EOA,
        video_token_id=VIDEO,
    )
    cfg._attn_implementation = "eager"
    model = Gemma4UnifiedForConditionalGeneration(cfg).eval()
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname.endswith(("norm.weight", "_ln1.weight", "_ln2.weight")):
                p.copy_(1 + 0.3 * torch.randn_like(p))
            elif pname.endswith(("norm.bias", "_ln1.bias", "_ln2.bias")):
                p.copy_(0.1 * torch.randn_like(p))
        for b_name, b in model.named_buffers():
            if b_name.endswith("layer_scalar"):
                b.copy_(torch.rand_like(b) + 0.5)
    model.save_pretrained(folder)
    return model


def text_ids(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(3, 500, size=(1, n)).astype(np.int64)


def image_inputs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two images: 6 patches (a 3x2 grid, longer than the window) and 4 patches (2x2) padded to 6 rows with -1."""
    rng = np.random.default_rng(seed)
    pixels = rng.uniform(0, 1, size=(2, 6, 6912)).astype(np.float32)
    first = [(x, y) for y in range(2) for x in range(3)]
    second = [(x, y) for y in range(2) for x in range(2)] + [(-1, -1), (-1, -1)]
    pixels[1, 4:] = 0
    return pixels, np.array([first, second], dtype=np.int64)


def audio_inputs(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two clips of 3 frame slots: an all-zero frame, a zero-padded tail frame, and one padding slot (mask False)."""
    rng = np.random.default_rng(seed)
    frames = rng.uniform(-1, 1, size=(2, 3, 640)).astype(np.float32)
    frames[0, 1] = 0  # an all-zero frame
    frames[1, 1, 200:] = 0  # the clip's last frame, zero-padded
    frames[1, 2] = 0  # padding slot
    mask = np.array([[True, True, True], [True, True, False]])
    return frames, mask


def video_inputs(frames: int, tokens: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`frames` frames of `tokens` patches each (a 3-wide grid), padded to 6 rows with -1."""
    rng = np.random.default_rng(seed)
    pixels = rng.uniform(0, 1, size=(frames, 6, 6912)).astype(np.float32)
    grid = [(i % 3, i // 3) for i in range(tokens)] + [(-1, -1)] * (6 - tokens)
    pixels[:, tokens:] = 0
    return pixels, np.array([grid] * frames, dtype=np.int64)


def prompt(*parts) -> np.ndarray:
    """Token ids from parts: ints, ("text", n, seed), ("image", n), ("audio", n) with their delimiters,
    or ("video", frames, n): per frame two timestamp tokens, then <|image>, n video tokens, <image|>."""
    ids: list[int] = [2]
    for part in parts:
        if part[0] == "text":
            ids += list(np.random.default_rng(part[2]).integers(3, 500, size=part[1]))
        elif part[0] == "image":
            ids += [BOI] + [IMAGE] * part[1] + [EOI]
        elif part[0] == "audio":
            ids += [BOA] + [AUDIO] * part[1] + [EOA]
        elif part[0] == "video":
            for frame in range(part[1]):
                ids += [40 + frame, 41] + [BOI] + [VIDEO] * part[2] + [EOI]
    return np.array([ids], dtype=np.int64)


def token_types(ids: np.ndarray) -> np.ndarray:
    """The processor's mm_token_type_ids: 1 image, 2 video, 3 audio soft token, 0 otherwise."""
    return np.where(ids == IMAGE, 1, np.where(ids == VIDEO, 2, np.where(ids == AUDIO, 3, 0)))


def block_ids(ids: np.ndarray) -> np.ndarray:
    """[L] index of the run of image/video placeholders each position belongs to, -1 elsewhere (row 0)."""
    vision = np.isin(ids[0], (IMAGE, VIDEO))
    starts = vision & ~np.concatenate([[False], vision[:-1]])
    return np.where(vision, np.cumsum(starts) - 1, -1)


def vision_rule_mask(ids: np.ndarray, window: int, sliding: bool) -> np.ndarray:
    """[L, L] bool, written per (query, key): the rule docs/mask-rules.md chooses for "vision" mode.

    Full layers: causal. Sliding layers: (causal OR same image block) AND |q - k| < window.
    """
    blocks = block_ids(ids)
    n = len(blocks)
    out = np.zeros((n, n), bool)
    for q in range(n):
        for k in range(n):
            if not sliding:
                out[q, k] = k <= q
                continue
            same = blocks[q] >= 0 and blocks[q] == blocks[k]
            out[q, k] = (k <= q or same) and abs(q - k) < window
    return out


def chosen_masks(ids: np.ndarray, window: int = WINDOW) -> dict:
    """The reference's attention_mask argument for the chosen rule: additive float masks per layer type."""
    import torch

    def additive(mask: np.ndarray):
        return torch.where(torch.tensor(mask), 0.0, torch.finfo(torch.float32).min)[None, None]

    return {"full_attention": additive(vision_rule_mask(ids, window, sliding=False)),
            "sliding_attention": additive(vision_rule_mask(ids, window, sliding=True))}


def reference_logits(ref, ids: np.ndarray, pixels=None, positions=None, frames=None, mask=None,
                     videos=None, rule: str = "chosen"):
    """The reference's logits. With a "vision" config, `rule="chosen"` runs it with the masks Tandem follows
    (docs/mask-rules.md); `rule="forward"` with those its forward() builds (the block OR-ed into every layer).
    `videos` is (pixel_values_videos, video_position_ids, frames per video)."""
    import torch

    kwargs = {}
    if videos is not None:
        kwargs.update(pixel_values_videos=torch.tensor(videos[0]),
                      video_position_ids=torch.tensor(videos[1]),
                      num_frames_per_video=torch.tensor(videos[2]))
    if pixels is not None:
        kwargs.update(pixel_values=torch.tensor(pixels), image_position_ids=torch.tensor(positions))
    if frames is not None:
        kwargs.update(input_features=torch.tensor(frames), input_features_mask=torch.tensor(mask))
    text = ref.config.get_text_config()
    if rule == "chosen" and text.use_bidirectional_attention == "vision":
        kwargs["attention_mask"] = chosen_masks(ids, text.sliding_window)
    with torch.no_grad():
        return ref(
            input_ids=torch.tensor(ids), mm_token_type_ids=torch.tensor(token_types(ids)), **kwargs
        ).logits
