"""Rendered prompt text to model inputs: media placeholders expanded, text tokenized, media stacked.

Contract:
- `encode_prompt(text, tokenizer, images=..., audios=..., image_budget=280) -> PromptInputs` replaces the
  k-th `<|image|>` of `text` with `<|image>` + N_k x `<|image|>` + `<image|>` and the k-th `<|audio|>`
  with `<|audio>` + M_k x `<|audio|>` + `<audio|>`, where N_k and M_k come from preprocessing the k-th
  image / audio item (as transformers' Gemma4UnifiedProcessor expands them), then tokenizes with no
  special tokens added (the template already wrote `<bos>`).
- Image items: a path, file bytes, a PIL image, or an `ImageInputs` already made with the same budget.
  Audio items: a path, file bytes, or 1-D float32 samples at 16 kHz. A clip over the model's 30 s
  budget (750 frames) is refused: split it into several clips with `engine.inputs.audio.split_audio`.
- `PromptInputs` holds input_ids (int32 [1, L]) and, for the model, pixel_values float32
  [images, budget, 6912], image_position_ids int32 [images, budget, 2], input_features float32
  [clips, frames, 640] (clips zero-padded to the longest) and input_features_mask bool [clips, frames];
  each is None when there is no such media.
- Video items: a path, file bytes, or a `VideoInputs` from `engine.inputs.video.read_video` (a path
  or bytes is read without its sound: the sound goes in as audio items, see
  `engine.inputs.video.with_soundtracks`). The k-th `<|video|>` becomes, per sampled frame,
  "mm:ss " + `<|image>` + F x `<|video|>` + `<image|>`, joined by spaces (the reference processor's
  expansion); the frames of all videos are stacked in `pixel_values_videos` float32
  [frames, budget, 6912] and `video_position_ids` int32 [frames, budget, 2] (all videos of one prompt
  share the per-frame budget).
- The number of placeholders and of items must match; otherwise `PromptError` says which.
- `load_tokenizer(checkpoint_dir)` gives mlx-lm's `TokenizerWrapper`; its streaming detokenizer keeps
  special tokens (`<turn|>`, `<|tool_call>`, ...) as text, which the output parser needs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

IMAGE_TOKEN, BOI, EOI = "<|image|>", "<|image>", "<image|>"
AUDIO_TOKEN, BOA, EOA = "<|audio|>", "<|audio>", "<audio|>"
VIDEO_TOKEN = "<|video|>"
MAX_AUDIO_FRAMES = 750  # 30 s at 40 ms per frame


class PromptError(ValueError):
    """The prompt text and its media items do not fit together."""


@dataclass
class PromptInputs:
    input_ids: np.ndarray
    pixel_values: np.ndarray | None = None
    image_position_ids: np.ndarray | None = None
    input_features: np.ndarray | None = None
    input_features_mask: np.ndarray | None = None
    pixel_values_videos: np.ndarray | None = None
    video_position_ids: np.ndarray | None = None
    image_token_counts: list[int] = field(default_factory=list)
    audio_token_counts: list[int] = field(default_factory=list)
    video_token_counts: list[int] = field(default_factory=list)

    def model_kwargs(self) -> dict[str, np.ndarray]:
        """The media arguments of the model's call, without the absent ones."""
        names = ("pixel_values", "image_position_ids", "input_features", "input_features_mask",
                 "pixel_values_videos", "video_position_ids")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


def load_tokenizer(checkpoint_dir: str | os.PathLike[str]) -> Any:
    """mlx-lm's TokenizerWrapper for a checkpoint folder (fast tokenizer + streaming detokenizer).

    Its `eos_token_ids` are those of generation_config.json (for the IT model `<eos>`, `<turn|>` and
    `<|tool_response>`), falling back to config.json and then to the tokenizer's own.
    """
    from mlx_lm.tokenizer_utils import load

    folder = Path(checkpoint_dir)
    if (
        not (folder / "tokenizer.json").is_file()
        and not (folder / "tokenizer_config.json").is_file()
    ):
        raise FileNotFoundError(
            f"no tokenizer files (tokenizer.json, tokenizer_config.json) in {folder}"
        )
    return load(folder, eos_token_ids=_eos_ids(folder))


def _eos_ids(folder: Path) -> list[int] | None:
    for name in ("generation_config.json", "config.json"):
        f = folder / name
        if f.is_file():
            value = json.loads(f.read_text(encoding="utf-8")).get("eos_token_id")
            if isinstance(value, int):
                return [value]
            if isinstance(value, list) and value:
                return [int(v) for v in value]
    return None


def _image_inputs(item: Any, budget: int, k: int) -> Any:
    from engine.inputs.image import ImageInputs, preprocess_image

    if isinstance(item, ImageInputs):
        if item.pixel_values.shape[0] != budget:
            raise PromptError(
                f"image {k} was preprocessed with a budget of {item.pixel_values.shape[0]} soft tokens, "
                f"but this prompt uses {budget}"
            )
        return item
    return preprocess_image(item, budget)


def _audio_frames(item: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
    from engine.inputs.audio import frame_audio, load_audio

    if isinstance(item, np.ndarray):
        samples = item
        if samples.ndim != 1:
            raise PromptError(
                f"audio {k} must be 1-D mono samples at 16 kHz, got shape {samples.shape}"
            )
    else:
        samples = load_audio(item)
    frames, mask = frame_audio(samples.astype(np.float32, copy=False))
    if len(frames) == 0:
        raise PromptError(f"audio {k} has no samples")
    if len(frames) > MAX_AUDIO_FRAMES:
        raise PromptError(
            f"audio {k} is {len(frames) * 0.04:.2f} s, over the model's 30 s per clip; "
            "split it with engine.inputs.audio.split_audio and send the clips in order"
        )
    return frames, mask


def _video_inputs(item: Any) -> Any:
    from engine.inputs.video import VideoInputs, read_video

    return item if isinstance(item, VideoInputs) else read_video(item, sound=False)


def _expand(text: str, token: str, counts: list[int], start: str, end: str) -> str:
    return _replace(text, token, [start + token * n + end for n in counts])


def _replace(text: str, token: str, replacements: list[str]) -> str:
    pieces = text.split(token)
    out = [pieces[0]]
    for replacement, piece in zip(replacements, pieces[1:]):
        out.append(replacement + piece)
    return "".join(out)


def encode_prompt(
    text: str,
    tokenizer: Any,
    *,
    images: Sequence[Any] = (),
    audios: Sequence[Any] = (),
    videos: Sequence[Any] = (),
    image_budget: int = 280,
) -> PromptInputs:
    """Expand media placeholders, tokenize, and stack the media for the model."""
    n_img, n_aud, n_vid = text.count(IMAGE_TOKEN), text.count(AUDIO_TOKEN), text.count(VIDEO_TOKEN)
    if n_img != len(images):
        raise PromptError(
            f"the prompt has {n_img} image placeholder(s) ({IMAGE_TOKEN}) but {len(images)} image(s)"
        )
    if n_aud != len(audios):
        raise PromptError(
            f"the prompt has {n_aud} audio placeholder(s) ({AUDIO_TOKEN}) but {len(audios)} clip(s)"
        )
    if n_vid != len(videos):
        raise PromptError(
            f"the prompt has {n_vid} video placeholder(s) ({VIDEO_TOKEN}) but {len(videos)} video(s)"
        )
    for marker in (BOI, EOI, BOA, EOA):
        if marker in text:
            raise PromptError(
                f"the prompt text already holds {marker}: pass it before placeholder expansion"
            )

    out = PromptInputs(input_ids=np.zeros((1, 0), np.int32))
    if images:
        prepared = [_image_inputs(im, image_budget, k) for k, im in enumerate(images)]
        out.image_token_counts = [int(p.num_soft_tokens) for p in prepared]
        out.pixel_values = np.stack([p.pixel_values for p in prepared]).astype(
            np.float32, copy=False
        )
        out.image_position_ids = np.stack([p.position_ids for p in prepared])
    if audios:
        framed = [_audio_frames(a, k) for k, a in enumerate(audios)]
        out.audio_token_counts = [int(m.sum()) for _, m in framed]
        longest = max(len(f) for f, _ in framed)
        out.input_features = np.zeros((len(framed), longest, framed[0][0].shape[1]), np.float32)
        out.input_features_mask = np.zeros((len(framed), longest), bool)
        for k, (f, m) in enumerate(framed):
            out.input_features[k, : len(f)] = f
            out.input_features_mask[k, : len(m)] = m

    replacements = []
    if videos:
        prepared_videos = [_video_inputs(v) for v in videos]
        budgets = {v.max_soft_tokens for v in prepared_videos}
        if len(budgets) > 1:
            raise PromptError(
                f"the videos of one prompt must share a soft-token budget per frame, got {sorted(budgets)}"
            )
        out.video_token_counts = [v.token_count for v in prepared_videos]
        out.pixel_values_videos = np.concatenate([v.pixel_values for v in prepared_videos])
        out.video_position_ids = np.concatenate([v.position_ids for v in prepared_videos])
        replacements = [v.prompt_text() for v in prepared_videos]

    expanded = _replace(text, VIDEO_TOKEN, replacements)
    expanded = _expand(expanded, IMAGE_TOKEN, out.image_token_counts, BOI, EOI)
    expanded = _expand(expanded, AUDIO_TOKEN, out.audio_token_counts, BOA, EOA)
    ids = tokenizer.encode(expanded, add_special_tokens=False)
    out.input_ids = np.asarray(ids, dtype=np.int32).reshape(1, -1)
    return out
