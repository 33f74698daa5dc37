"""The figures `tandem bench` measures, with the parameters of the full and the quick mode.

A figure names a measurement kind (the function each side runs, see `tandem_side` and `peer`), its parameters,
and its headline metric. The full mode uses the sizes the issue asks for (512/2048-token prefill, decode at
context 64/2048, a 768x768 image, 10 s of audio, 3 s/30 s of speech, a 30 s screen recording, turn 10). The quick mode runs the small
shape on a CPU in minutes, so it shrinks the token counts; `nominal` keeps the size the figure stands for and
the JSON carries both, so a reader never mistakes a quick number for a full one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TANDEM = "tandem"
PEER = "mlx-vlm"


@dataclass(frozen=True)
class Figure:
    name: str
    kind: str  # the measurement function on each side
    metric: str  # headline metric in the worker's result
    unit: str
    higher_is_better: bool
    full: dict[str, Any]
    quick: dict[str, Any]
    nominal: str  # what the figure stands for at full size
    peer: bool = True  # False: Tandem only (the peer has no such path)
    notes: str = ""
    extra: tuple[str, ...] = field(default=())  # further metrics worth a median and a ratio

    def params(self, quick: bool) -> dict[str, Any]:
        return dict(self.quick if quick else self.full)


# The video figures' input: a 30 s 1080p screen recording at 30 fps (`engine.bench.screen_clip`).
SCREEN_RECORDING = {"seconds": 30, "width": 1920, "height": 1080, "fps": 30}
VIDEO_TURN_EXTRA = ("preprocess_s", "prefill_s", "tokens", "frames", "preprocess_rss_gb", "prefill_mx_peak_gb")

FIGURES: tuple[Figure, ...] = (
    Figure("load", "load", "load_s", "s", False, {}, {}, "load the checkpoint (page cache warm)"),
    Figure(
        "peak_memory",
        "memory",
        "mx_peak_gb",
        "GB",
        False,
        {"prefill": 64, "decode": 4},
        {"prefill": 16, "decode": 4},
        "load, prefill 64 tokens, decode 4",
        extra=("rss_peak_gb", "mx_active_after_load_gb"),
        notes="MLX peak (mx.get_peak_memory) and the process's RSS peak (ru_maxrss)",
    ),
    Figure(
        "prefill_512",
        "prefill",
        "tok_s",
        "tok/s",
        True,
        {"tokens": 512},
        {"tokens": 16},
        "prefill 512 tokens",
        notes="time to first token of a random-token prompt, no cache",
    ),
    Figure(
        "prefill_2048",
        "prefill",
        "tok_s",
        "tok/s",
        True,
        {"tokens": 2048},
        {"tokens": 32},
        "prefill 2048 tokens",
        notes="time to first token of a random-token prompt, no cache",
    ),
    Figure(
        "decode_64",
        "decode",
        "tok_s",
        "tok/s",
        True,
        {"context": 64, "tokens": 16},
        {"context": 64, "tokens": 6},
        "decode at context 64",
        notes="steady gap between tokens; the cache is filled with random keys/values, not by a prefill",
    ),
    Figure(
        "decode_2048",
        "decode",
        "tok_s",
        "tok/s",
        True,
        {"context": 2048, "tokens": 16},
        {"context": 2048, "tokens": 6},
        "decode at context 2048",
        notes="steady gap between tokens; the cache is filled with random keys/values, not by a prefill",
    ),
    Figure(
        "image_embed",
        "image_embed",
        "seconds",
        "s",
        False,
        {"size": 768},
        {"size": 768},
        "embed a 768x768 image (256 soft tokens)",
        notes="preprocess + patch embedder + projection",
    ),
    Figure(
        "audio_project",
        "audio_project",
        "seconds",
        "s",
        False,
        {"seconds": 10.0},
        {"seconds": 10.0},
        "project 10 s of audio (250 frames)",
        notes="framing + projection",
    ),
    Figure(
        "ttft_image",
        "ttft_image",
        "seconds",
        "s",
        False,
        {"size": 768, "budget": 280},
        {"size": 192, "budget": 70},
        "time to first token, 768x768 image + text",
        notes="preprocess, embed, prefill and first token of a one-turn image+text prompt",
    ),
    Figure(
        "voice_3s",
        "voice",
        "seconds",
        "s",
        False,
        {"seconds": 3.0},
        {"seconds": 0.4},
        "end of speech to first token, 3 s of speech",
        notes="Tandem: audio streamed into a Session while it arrives; mlx-vlm: full prefill of the turn",
    ),
    Figure(
        "voice_30s",
        "voice",
        "seconds",
        "s",
        False,
        {"seconds": 30.0},
        {"seconds": 1.2},
        "end of speech to first token, 30 s of speech",
        notes="Tandem: audio streamed into a Session while it arrives; mlx-vlm: full prefill of the turn",
    ),
    Figure(
        "video_preprocess",
        "video_preprocess",
        "seconds",
        "s",
        False,
        {**SCREEN_RECORDING, "frames": 32, "sound": True},
        {**SCREEN_RECORDING, "frames": 32, "sound": True},
        "preprocess a 30 s 1080p screen recording: 32 frames (and, Tandem, its sound)",
        extra=("frames", "preprocess_rss_gb"),
        notes="no model: decoding, sampling, resizing and patches; mlx-vlm reads frames only "
        "(Tandem's figure includes the sound)",
    ),
    Figure(
        "video_30s",
        "video",
        "seconds",
        "s",
        False,
        {**SCREEN_RECORDING, "frames": 32, "sound": False},
        {**SCREEN_RECORDING, "frames": 4, "sound": False},
        "30 s 1080p screen recording, 32 frames + a question: preprocess and prefill to the first token",
        extra=VIDEO_TURN_EXTRA,
        notes="the file's decoding, sampling and patches, then the turn's prefill and first token; "
        "preprocess_rss_gb: how far the RSS rose while preprocessing (before the model loads)",
    ),
    Figure(
        "video_30s_sound",
        "video",
        "seconds",
        "s",
        False,
        {**SCREEN_RECORDING, "frames": 32, "sound": True},
        {**SCREEN_RECORDING, "frames": 4, "sound": True},
        "the same recording with its 30 s of sound (750 audio tokens after the frames)",
        peer=False,
        extra=VIDEO_TURN_EXTRA,
        notes="mlx-vlm does not read a video's sound",
    ),
    Figure(
        "turn10",
        "turn",
        "seconds",
        "s",
        False,
        {"turns": 10, "words": 40, "answer": 24},
        {"turns": 10, "words": 1, "answer": 1},
        "turn-10 time to first token",
        notes="Tandem: from the kept cache (ttft_reprefill_s: the same tokens re-prefilled); "
        "mlx-vlm: full re-prefill of the conversation",
        extra=("ttft_reprefill_s", "tokens"),
    ),
    Figure(
        "drafter",
        "drafter",
        "verify_over_decode",
        "x",
        False,
        {"context": 256, "num_draft": 4},
        {"context": 32, "num_draft": 4},
        "MTP drafter step costs",
        peer=False,
        extra=(
            "decode_ms",
            "verify_ms",
            "draft_ms",
            "draft_over_decode",
            "speedup_a0.5",
            "speedup_a0.7",
            "speedup_a0.9",
        ),
        notes="(K+1)-token verify and one draft step against one decode step; projected speed-up",
    ),
)

BY_NAME = {f.name: f for f in FIGURES}


def select(names: str | None) -> list[Figure]:
    """The figures named in a comma-separated list (all when None), in the registry's order."""
    if not names:
        return list(FIGURES)
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in BY_NAME]
    if unknown:
        raise ValueError(
            f"unknown figure(s) {', '.join(unknown)}; choose from {', '.join(BY_NAME)}"
        )
    return [f for f in FIGURES if f.name in wanted]
