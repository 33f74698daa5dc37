"""The Gemma 4 unified text decoder in MLX.

`TextModel(config)(input_embeddings, cache, blocks)` runs the decoder layers on already-scaled embeddings and
returns the post-final-norm hidden state [B, L, H]. Caches follow mlx-lm's protocol: one per layer that owns keys
and values (engine.decode.cache's FullCache for full layers, SlidingCache for sliding ones); KV-shared layers own
no cache and attend to the keys and values their producer layer returned in the same call. Numerics follow transformers 5.23.0
(shared/reference/gemma4_unified.md §2): RMSNorm is x*w, attention scale 1.0, V = v_norm(raw k_proj) when
`attention_k_eq_v`, proportional RoPE on full layers, and every layer ends with `h *= layer_scalar`.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import mlx.core as mx
import numpy as np
from mlx import nn

from .config import FULL, SLIDING, ConfigError, TextConfig
from .masks import MaskBuilder


class RMSNorm(nn.Module):
    """RMSNorm whose weight is the full scale (x * w), not Gemma 2/3's (1 + w)."""

    def __init__(self, dims: int, eps: float) -> None:
        super().__init__()
        self.weight = mx.ones((dims,))
        self.eps = eps

    def __call__(self, x: mx.array) -> mx.array:
        return mx.fast.rms_norm(x, self.weight, self.eps)


@partial(mx.compile, shapeless=True)
def geglu(gate: mx.array, x: mx.array) -> mx.array:
    return nn.gelu_approx(gate) * x


def rope_periods(params: dict[str, Any], head_dim: int) -> mx.array:
    """Per-pair periods (1 / inverse frequency) for mx.fast.rope, computed as the reference does in float32.

    "proportional" keeps the full head: only the first partial_rotary_factor * head_dim / 2 pairs rotate, the
    rest get an infinite period (identity), and the exponent's denominator is the whole head_dim.
    """
    rope_type = params.get("rope_type", "default")
    theta = np.float32(params["rope_theta"])
    if rope_type == "default":
        inv = 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.float32) / np.float32(head_dim))
    elif rope_type == "proportional":
        angles = int(params.get("partial_rotary_factor", 1.0) * head_dim // 2)
        rotated = 1.0 / theta ** (
            np.arange(0, 2 * angles, 2, dtype=np.float32) / np.float32(head_dim)
        )
        inv = np.concatenate([rotated, np.zeros(head_dim // 2 - angles, np.float32)])
        inv = inv / np.float32(params.get("factor", 1.0))
    else:
        raise ConfigError(f"unsupported rope_type {rope_type!r}")
    with np.errstate(divide="ignore"):
        return mx.array(np.where(inv > 0, 1.0 / inv, np.inf).astype(np.float32))


class Attention(nn.Module):
    def __init__(self, config: TextConfig, layer: int) -> None:
        super().__init__()
        self.is_sliding = config.layer_types[layer] == SLIDING
        self.head_dim = config.head_dims[layer]
        self.n_heads = config.num_attention_heads
        self.n_kv_heads = config.kv_heads[layer]
        self.is_kv_shared = config.is_kv_shared(layer)
        hidden, bias, eps = config.hidden_size, config.attention_bias, config.rms_norm_eps
        self.eps = eps

        self.q_proj = nn.Linear(hidden, self.n_heads * self.head_dim, bias=bias)
        self.q_norm = RMSNorm(self.head_dim, eps)
        if not self.is_kv_shared:
            self.k_proj = nn.Linear(hidden, self.n_kv_heads * self.head_dim, bias=bias)
            self.k_norm = RMSNorm(self.head_dim, eps)
            # k_eq_v applies to full layers only: V is the raw k_proj output.
            self.k_eq_v = config.attention_k_eq_v and not self.is_sliding
            if not self.k_eq_v:
                self.v_proj = nn.Linear(hidden, self.n_kv_heads * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(self.n_heads * self.head_dim, hidden, bias=bias)
        self._periods = rope_periods(
            config.rope_parameters[config.layer_types[layer]], self.head_dim
        )

    def rope(self, x: mx.array, offset: int) -> mx.array:
        return mx.fast.rope(
            x,
            self.head_dim,
            traditional=False,
            base=None,
            scale=1.0,
            offset=offset,
            freqs=self._periods,
        )

    def __call__(
        self,
        x: mx.array,
        masks: MaskBuilder,
        offset: int,
        cache: Any = None,
        shared_kv: tuple[mx.array, mx.array] | None = None,
    ) -> tuple[mx.array, tuple[mx.array, mx.array]]:
        B, L, _ = x.shape
        q = self.q_norm(self.q_proj(x).reshape(B, L, self.n_heads, self.head_dim))
        q = self.rope(q.transpose(0, 2, 1, 3), offset)
        if shared_kv is not None:
            k, v = shared_kv
        else:
            k = self.k_proj(x).reshape(B, L, self.n_kv_heads, self.head_dim)
            v = (
                self.v_proj(x).reshape(B, L, self.n_kv_heads, self.head_dim)
                if not self.k_eq_v
                else k
            )
            k = self.rope(self.k_norm(k).transpose(0, 2, 1, 3), offset)
            v = mx.fast.rms_norm(v, None, self.eps).transpose(0, 2, 1, 3)
            if cache is not None:
                k, v = cache.update_and_fetch(k, v)
        mask = masks(self.is_sliding, k.shape[2])
        out = mx.fast.scaled_dot_product_attention(q, k, v, scale=1.0, mask=mask)
        out = out.transpose(0, 2, 1, 3).reshape(B, L, -1)
        return self.o_proj(out), (k, v)


class MLP(nn.Module):
    def __init__(self, config: TextConfig, layer: int) -> None:
        super().__init__()
        # The double-wide MLP applies to KV-shared layers only.
        wide = 2 if config.use_double_wide_mlp and config.is_kv_shared(layer) else 1
        hidden, inter = config.hidden_size, config.intermediate_size * wide
        self.gate_proj = nn.Linear(hidden, inter, bias=False)
        self.up_proj = nn.Linear(hidden, inter, bias=False)
        self.down_proj = nn.Linear(inter, hidden, bias=False)

    def __call__(self, x: mx.array) -> mx.array:
        return self.down_proj(geglu(self.gate_proj(x), self.up_proj(x)))


class DecoderLayer(nn.Module):
    def __init__(self, config: TextConfig, layer: int) -> None:
        super().__init__()
        eps, hidden = config.rms_norm_eps, config.hidden_size
        self.self_attn = Attention(config, layer)
        self.mlp = MLP(config, layer)
        self.input_layernorm = RMSNorm(hidden, eps)
        self.post_attention_layernorm = RMSNorm(hidden, eps)
        self.pre_feedforward_layernorm = RMSNorm(hidden, eps)
        self.post_feedforward_layernorm = RMSNorm(hidden, eps)
        self.layer_scalar = mx.ones((1,))

    def __call__(
        self,
        h: mx.array,
        masks: MaskBuilder,
        offset: int,
        cache: Any = None,
        shared_kv: tuple[mx.array, mx.array] | None = None,
    ) -> tuple[mx.array, tuple[mx.array, mx.array]]:
        a, kv = self.self_attn(self.input_layernorm(h), masks, offset, cache, shared_kv)
        h = h + self.post_attention_layernorm(a)
        h = h + self.post_feedforward_layernorm(self.mlp(self.pre_feedforward_layernorm(h)))
        return h * self.layer_scalar, kv


class TextModel(nn.Module):
    def __init__(self, config: TextConfig) -> None:
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = [DecoderLayer(config, i) for i in range(config.num_hidden_layers)]
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        owners = [i for i in range(config.num_hidden_layers) if not config.is_kv_shared(i)]
        # Index into the cache list for each layer that owns keys and values.
        self._cache_index: dict[int, int] = {layer: c for c, layer in enumerate(owners)}
        self._producers = {p for p in config.kv_producers if p is not None}

    def embed(self, input_ids: mx.array) -> mx.array:
        h = self.embed_tokens(input_ids)
        # The reference casts sqrt(hidden) to the weight dtype (61.9677 in float32, 62.0 in bfloat16).
        return h * mx.array(self.config.embed_scale, dtype=h.dtype)

    def __call__(
        self, h: mx.array, cache: list[Any] | None = None, blocks: np.ndarray | None = None
    ) -> mx.array:
        cfg = self.config
        if cache is not None and len(cache) != len(self._cache_index):
            raise ValueError(
                f"expected {len(self._cache_index)} caches (one per layer owning keys and values), "
                f"got {len(cache)}; use model.make_cache()"
            )
        offset = cache[0].offset if cache else 0
        masks = MaskBuilder(offset, h.shape[1], cfg.window, cfg.use_bidirectional_attention, blocks)
        produced: dict[int, tuple[mx.array, mx.array]] = {}
        for i, layer in enumerate(self.layers):
            producer = cfg.kv_producers[i]
            if producer is not None:
                h, _ = layer(h, masks, offset, shared_kv=produced[producer])
            else:
                c = cache[self._cache_index[i]] if cache else None
                h, kv = layer(h, masks, offset, cache=c)
                if i in self._producers:
                    produced[i] = kv
        return self.norm(h)

    def cache_layers(self) -> list[int]:
        """The layers that own a cache, in the order of make_cache()'s list."""
        return sorted(self._cache_index, key=self._cache_index.__getitem__)

    def last_layer_of_type(self, layer_type: str) -> int:
        """Cache index of the last layer of this type that owns a cache (the drafter reads its keys and values)."""
        if layer_type not in (SLIDING, FULL):
            raise ValueError(f"unknown layer type {layer_type!r}")
        owners = [i for i in self._cache_index if self.config.layer_types[i] == layer_type]
        if not owners:
            raise ValueError(f"the model has no {layer_type} layer")
        return self._cache_index[owners[-1]]
