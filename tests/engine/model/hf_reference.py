"""Helpers shared by the model tests: tiny reference configs, the reference builder, the error metric."""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx
import numpy as np

IMAGE, BOI, EOI, AUDIO, BOA, EOA, VIDEO = 500, 501, 502, 503, 504, 505, 506
WINDOW = 4

TEXT_BASE = dict(
    vocab_size=512,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=6,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
    global_head_dim=32,
    num_global_key_value_heads=1,
    attention_k_eq_v=True,
    sliding_window=WINDOW,
    layer_types=["sliding_attention", "sliding_attention", "full_attention"] * 2,
    final_logit_softcapping=30.0,
)

CONFIGS = {
    "T1": dict(),
    "T2": dict(attention_k_eq_v=False),
    "T3": dict(final_logit_softcapping=None),
    "T4": dict(num_kv_shared_layers=2, use_double_wide_mlp=True),
    "ALL": dict(use_bidirectional_attention="all", sliding_window=6),
    "NONE": dict(use_bidirectional_attention=None),
}


def rel_err(ours: mx.array, ref) -> float:
    """max |ours - ref| / max |ref| over every element (float64 on the host)."""
    a = np.array(ours, dtype=np.float64)
    b = ref.detach().double().numpy() if hasattr(ref, "detach") else np.asarray(ref, dtype=np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a - b).max() / np.abs(b).max())


def build_reference(name: str, folder: Path, seed: int):
    import torch
    from transformers import Gemma4UnifiedConfig, Gemma4UnifiedForConditionalGeneration

    torch.manual_seed(seed)
    cfg = Gemma4UnifiedConfig(
        text_config={**TEXT_BASE, **CONFIGS[name]},
        vision_config=dict(mm_embed_dim=48, output_proj_dims=48, mm_posemb_size=64),
        audio_config=dict(audio_embed_dim=640),
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
