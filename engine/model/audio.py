"""The encoder-free audio projector.

Each audio soft token is one raw 40 ms frame (640 samples at 16 kHz). `AudioEmbedder(config, hidden)(frames)` maps
[C, F, 640] to [C, F, hidden]: an RMSNorm without scale per frame (an all-zero frame stays zero), then a bias-free
projection. shared/reference/gemma4_unified.md §5.
"""

from __future__ import annotations

from .config import AudioConfig
from .vision import MultimodalEmbedder


class AudioEmbedder(MultimodalEmbedder):
    def __init__(self, config: AudioConfig, hidden_size: int) -> None:
        super().__init__(config.audio_embed_dim, hidden_size, config.rms_norm_eps)
