"""The builds of Gemma 4 12B that Tandem offers, in one place: where each lives, what it holds, what it needs.

Every Hugging Face repo id Tandem downloads by itself is named here. `RELEASES` lists the choices, best first;
`recommend(total_memory())` picks the best one that fits this machine's memory.

Sizes are computed, not copied from model cards: the 12B has 1.007e9 embedding, 2.406e9 attention, 8.493e9 MLP,
0.050e9 vision-embedder and 0.002e9 audio-projection parameters (engine.checkpoint's "12b" shape, which
tests/engine/test_releases.py checks these numbers against); its MTP drafter has 0.423e9. An MLX affine
quantization with groups of 64 and bfloat16 scales and biases costs bits/8 + 4/64 bytes per weight. What each
community build quantizes how was read from mlx-vlm 0.7.10's converter and the builds' model cards:

- google/gemma-4-12B-it: bfloat16, HF layout, text + images + audio. Tandem downloads it with its drafter and
  converts the text stack to uniform 4-bit once (`engine.convert`); the vision and audio embedders stay bfloat16.
- mlx-community/gemma-4-12B-it-4bit: mlx-vlm layout; attention and embedding 4-bit, every MLP projection
  8-bit (per-module entries in config.json): about 10.3 GiB.
- agentmish/gemma-4-12B-it-mlx-8bit: `mlx_vlm.convert -q --q-bits 8 --q-group-size 64` (mlx-vlm 0.6.1).
- mlx-community/gemma-4-12B-it-OptiQ-4bit: mlx-lm layout, per-layer 4 or 8 bits (5.22 bits per weight on
  average over the text stack, per its card); the vision and audio weights were dropped: text only.

The drafter is the same network for every build (it reads the target's hidden state and keys, and was trained on
the bfloat16 model); it stays bfloat16. Google's release ships it as google/gemma-4-12B-it-assistant (HF layout);
the MLX builds pair with its mlx-vlm conversion, agentmish/gemma-4-12B-it-assistant-mlx-bf16.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

GIB = 1024**3

# Parameters of the 12B by part (see the module docstring).
EMBED = 1_006_632_960
ATTENTION = 2_406_481_920
MLP = 8_493_465_600
VISION = 49_922_304
AUDIO = 2_457_600
NORMS = 769_840
DRAFTER = 422_856_964


def quantized_bytes(params: int, bits: int, group_size: int = 64) -> int:
    """Bytes of `params` weights quantized to `bits` with bfloat16 scale and bias per group."""
    return params * bits // 8 + params // group_size * 4


BF16_ALL = 2 * (EMBED + ATTENTION + MLP + VISION + AUDIO + NORMS)
MEDIA_BF16 = 2 * (VISION + AUDIO + NORMS)
DRAFTER_BYTES = 2 * DRAFTER
# Working memory beyond the weights: a 32K-token conversation's KV cache (0.8 GiB in bfloat16: 40 sliding
# layers x 1,024 positions and 8 full layers x 32K positions), prefill activations and the app itself.
RUNTIME_BYTES = 2 * GIB

GOOGLE_REPO = "google/gemma-4-12B-it"
GOOGLE_DRAFTER_REPO = "google/gemma-4-12B-it-assistant"
MLX_DRAFTER_REPO = "agentmish/gemma-4-12B-it-assistant-mlx-bf16"


@dataclass(frozen=True)
class Release:
    """One build the model manager offers.

    `weights_bytes` is what stays on disk (the target; the drafter comes on top), `download_bytes` what is
    fetched (target + drafter), `peak_disk_bytes` the free space the install needs at its fullest (a converted
    build holds the download and the 4-bit copy at once), `memory_bytes` the memory needed to run it.
    """

    key: str
    title: str
    summary: str
    repo_id: str
    drafter_repo_id: str
    weights_bytes: int
    has_vision: bool = True
    has_audio: bool = True
    convert_bits: int | None = None  # Tandem converts the download to this many bits once
    source_bytes: int = 0  # the target as downloaded, when Tandem converts it

    @property
    def folder_name(self) -> str:
        """The folder the installed build lives in, under the models folder."""
        name = self.repo_id.replace("/", "--")
        return f"{name}-{self.convert_bits}bit" if self.convert_bits else name

    @property
    def download_folder_name(self) -> str:
        return self.repo_id.replace("/", "--")

    @property
    def download_bytes(self) -> int:
        return (self.source_bytes or self.weights_bytes) + DRAFTER_BYTES

    @property
    def disk_bytes(self) -> int:
        return self.weights_bytes + DRAFTER_BYTES

    @property
    def peak_disk_bytes(self) -> int:
        return self.download_bytes + (self.weights_bytes if self.convert_bits else 0)

    @property
    def memory_bytes(self) -> int:
        return self.weights_bytes + DRAFTER_BYTES + RUNTIME_BYTES

    @property
    def inputs(self) -> str:
        """What it takes, in words: "text, images and audio" or "text only"."""
        if self.has_vision and self.has_audio:
            return "text, images and audio"
        if self.has_vision or self.has_audio:
            return "text and " + ("images" if self.has_vision else "audio")
        return "text only"


TANDEM_4BIT = Release(
    key="tandem-4bit",
    title="Gemma 4 12B, 4-bit (converted by Tandem)",
    summary="Google's release, converted to 4-bit on this Mac once. The smallest build with images and "
    "audio; the download is the full-precision model.",
    repo_id=GOOGLE_REPO,
    drafter_repo_id=GOOGLE_DRAFTER_REPO,
    weights_bytes=quantized_bytes(EMBED + ATTENTION + MLP, 4) + MEDIA_BF16,
    convert_bits=4,
    source_bytes=BF16_ALL,
)
COMMUNITY_4BIT = Release(
    key="community-4bit",
    title="Gemma 4 12B, 4-bit with 8-bit MLP (mlx-community)",
    summary="A ready MLX build: attention 4-bit, feed-forward layers 8-bit. Images and audio.",
    repo_id="mlx-community/gemma-4-12B-it-4bit",
    drafter_repo_id=MLX_DRAFTER_REPO,
    weights_bytes=quantized_bytes(EMBED + ATTENTION + AUDIO, 4)
    + quantized_bytes(MLP, 8)
    + 2 * (VISION + NORMS),
)
EIGHT_BIT = Release(
    key="8bit",
    title="Gemma 4 12B, 8-bit",
    summary="A ready MLX build, closest to the full-precision model. Images and audio.",
    repo_id="agentmish/gemma-4-12B-it-mlx-8bit",
    drafter_repo_id=MLX_DRAFTER_REPO,
    weights_bytes=quantized_bytes(EMBED + ATTENTION + MLP + AUDIO, 8) + 2 * (VISION + NORMS),
)
OPTIQ_4BIT = Release(
    key="optiq-4bit",
    title="Gemma 4 12B, OptiQ mixed 4/8-bit, text only",
    summary="A ready MLX build with sensitive layers at 8-bit. It has no vision or audio weights: "
    "no images, no voice.",
    repo_id="mlx-community/gemma-4-12B-it-OptiQ-4bit",
    drafter_repo_id=MLX_DRAFTER_REPO,
    weights_bytes=(EMBED + ATTENTION + MLP + NORMS) * 522 // 800,  # 5.22 bits per weight
    has_vision=False,
    has_audio=False,
)


# Best first: a build with images and audio ranks above a text-only one.
RELEASES: tuple[Release, ...] = (EIGHT_BIT, COMMUNITY_4BIT, TANDEM_4BIT, OPTIQ_4BIT)
DEFAULT = TANDEM_4BIT


def release(key: str) -> Release:
    """The release called `key`; ValueError naming the known keys otherwise."""
    for r in RELEASES:
        if r.key == key:
            return r
    raise ValueError(
        f"unknown model choice {key!r}; choose one of: {', '.join(r.key for r in RELEASES)}"
    )


def total_memory() -> int:
    """Installed memory in bytes (sysctl hw.memsize on macOS, sysconf elsewhere); 0 when unknown."""
    if sys.platform == "darwin":
        try:
            out = subprocess.run(
                ["sysctl", "-n", "hw.memsize"],
                capture_output=True,
                text=True,
                timeout=5,
                check=True,
            ).stdout
            return int(out.strip())
        except (OSError, ValueError, subprocess.SubprocessError):
            return 0
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def usable_memory(total: int) -> int:
    """What the model may use of `total`: macOS lets the GPU wire about 2/3 of memory up to 36 GiB, 3/4 above."""
    return total * 2 // 3 if total <= 36 * GIB else total * 3 // 4


def fits(choice: Release, total: int) -> bool:
    """Whether `choice` runs comfortably in `total` bytes of memory (unknown memory: assume it does)."""
    return total <= 0 or choice.memory_bytes <= usable_memory(total)


def recommend(total: int) -> Release | None:
    """The best release that fits `total` bytes of memory; DEFAULT when memory is unknown; None if none fits."""
    if total <= 0:
        return DEFAULT
    return next((r for r in RELEASES if fits(r, total)), None)
