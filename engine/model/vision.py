"""The encoder-free vision embedder and the multimodal projection shared with audio.

`VisionEmbedder(config)(pixel_values, image_position_ids)` maps merged 48x48 patches [N, S, 6912] with their
(x, y) grid positions [N, S, 2] (padding rows -1) to [N, S, output_proj_dims]:
LayerNorm -> Dense -> LayerNorm -> + factorized 2-D position table -> LayerNorm. `MultimodalEmbedder` then applies
an RMSNorm without scale and a projection to the text hidden size. shared/reference/gemma4_unified.md §4.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from .config import VisionConfig

LAYER_NORM_EPS = 1e-5  # the reference uses torch's LayerNorm default


class VisionEmbedder(nn.Module):
    def __init__(self, config: VisionConfig) -> None:
        super().__init__()
        dim = config.mm_embed_dim
        self.patch_ln1 = nn.LayerNorm(config.patch_dim, eps=LAYER_NORM_EPS)
        self.patch_dense = nn.Linear(config.patch_dim, dim)
        self.patch_ln2 = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)
        self.pos_embedding = mx.zeros((config.mm_posemb_size, 2, dim))
        self.pos_norm = nn.LayerNorm(dim, eps=LAYER_NORM_EPS)

    def __call__(self, pixel_values: mx.array, image_position_ids: mx.array) -> mx.array:
        h = self.patch_ln2(self.patch_dense(self.patch_ln1(pixel_values.astype(self.patch_ln1.weight.dtype))))
        valid = (image_position_ids != -1)[..., None].astype(h.dtype)
        pos = mx.maximum(image_position_ids, 0)
        # Axis 0 of the table is indexed by x, axis 1 by y; padding coordinates contribute nothing.
        h = h + self.pos_embedding[pos[..., 0], 0] * valid[..., 0, :]
        h = h + self.pos_embedding[pos[..., 1], 1] * valid[..., 1, :]
        return self.pos_norm(h)


class MultimodalEmbedder(nn.Module):
    """RMSNorm without scale, then a bias-free projection into the text hidden size."""

    def __init__(self, in_dims: int, out_dims: int, eps: float) -> None:
        super().__init__()
        self.embedding_projection = nn.Linear(in_dims, out_dims, bias=False)
        self.eps = eps

    def __call__(self, x: mx.array) -> mx.array:
        return self.embedding_projection(mx.fast.rms_norm(x, None, self.eps))
