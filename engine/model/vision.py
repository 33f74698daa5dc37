"""The encoder-free vision embedder and the multimodal projection shared with audio.

`VisionEmbedder(config)(pixel_values, image_position_ids)` maps merged 48x48 patches [N, S, 6912] with their
(x, y) grid positions [N, S, 2] (padding rows -1) to [N, S, output_proj_dims]:
LayerNorm -> Dense -> LayerNorm -> + factorized 2-D position table -> LayerNorm. `MultimodalEmbedder` then applies
an RMSNorm without scale and a projection to the text hidden size. shared/reference/gemma4_unified.md §4.
"""

from __future__ import annotations

import math

import mlx.core as mx
from mlx import nn

from .config import VisionConfig

LAYER_NORM_EPS = 1e-5  # the reference uses torch's LayerNorm default
DENSE_CHUNK = 256  # 6912 = 27 * 256


def _split(n: int) -> tuple[int, int]:
    """n = a * b with a the largest divisor not above sqrt(n)."""
    a = max(d for d in range(1, math.isqrt(n) + 1) if n % d == 0)
    return a, n // a


class LayerNorm(nn.LayerNorm):
    """LayerNorm whose mean and variance are summed in two levels.

    A flat float32 sum over the 6912 pixels of a patch loses about 1e-6 relative, enough to move the logits by
    1e-4; summing sqrt(n)-sized groups first keeps the patch statistics as exact as the reference's.
    """

    def __init__(self, dims: int, eps: float) -> None:
        super().__init__(dims, eps=eps)
        self._groups = _split(dims)

    def _mean(self, x: mx.array) -> mx.array:
        g = x.reshape(*x.shape[:-1], *self._groups).sum(-1).sum(-1, keepdims=True)
        return g / x.shape[-1]

    def __call__(self, x: mx.array) -> mx.array:
        # Statistics in float32 whatever the model dtype, as torch's LayerNorm computes them.
        xf = x.astype(mx.float32)
        c = xf - self._mean(xf)
        y = c * mx.rsqrt(self._mean(c * c) + self.eps) * self.weight + self.bias
        return y.astype(x.dtype)


class VisionEmbedder(nn.Module):
    def __init__(self, config: VisionConfig) -> None:
        super().__init__()
        dim = config.mm_embed_dim
        self.patch_ln1 = LayerNorm(config.patch_dim, LAYER_NORM_EPS)
        self.patch_dense = nn.Linear(config.patch_dim, dim)
        self.patch_ln2 = LayerNorm(dim, LAYER_NORM_EPS)
        self.pos_embedding = mx.zeros((config.mm_posemb_size, 2, dim))
        self.pos_norm = LayerNorm(dim, LAYER_NORM_EPS)

    def __call__(self, pixel_values: mx.array, image_position_ids: mx.array) -> mx.array:
        h = self.patch_ln2(
            self._dense(self.patch_ln1(pixel_values.astype(self.patch_ln1.weight.dtype)))
        )
        valid = (image_position_ids != -1)[..., None].astype(h.dtype)
        pos = mx.maximum(image_position_ids, 0)
        # Axis 0 of the table is indexed by x, axis 1 by y; padding coordinates contribute nothing.
        h = h + self.pos_embedding[pos[..., 0], 0] * valid[..., 0, :]
        h = h + self.pos_embedding[pos[..., 1], 1] * valid[..., 1, :]
        return self.pos_norm(h)

    def _dense(self, x: mx.array) -> mx.array:
        """patch_dense with its 6912-long dot products summed in chunks.

        MLX's CPU float32 matmul accumulates long dot products with ~2e-6 relative error, which the decoder
        amplifies past 1e-4 in the logits; partial sums over 256-wide chunks match the reference's precision.
        """
        dense = self.patch_dense
        # Lower precisions keep the single matmul, which accumulates in float32 internally.
        if (
            isinstance(dense, nn.QuantizedLinear)
            or x.dtype != mx.float32
            or x.shape[-1] % DENSE_CHUNK
        ):
            return dense(x)
        out = None
        for j in range(0, x.shape[-1], DENSE_CHUNK):
            part = x[..., j : j + DENSE_CHUNK] @ dense.weight[:, j : j + DENSE_CHUNK].T
            out = part if out is None else out + part
        return out + dense.bias


class MultimodalEmbedder(nn.Module):
    """RMSNorm without scale, then a bias-free projection into the text hidden size."""

    def __init__(self, in_dims: int, out_dims: int, eps: float) -> None:
        super().__init__()
        self.embedding_projection = nn.Linear(in_dims, out_dims, bias=False)
        self.eps = eps

    def __call__(self, x: mx.array) -> mx.array:
        return self.embedding_projection(mx.fast.rms_norm(x, None, self.eps))
