"""The Gemma 4 MTP assistant drafter (`gemma4_unified_assistant`) in MLX.

One draft step maps (a target token, a target-sized hidden state) to (draft logits, the next hidden state):

    x = pre_projection([E_target[tok] * sqrt(H_target) || g])      (2 * H_target -> H)
    x = decoder layers (q_proj / q_norm / RoPE(q) only) attending to the target's shared K/V
    n = final norm(x)
    logits = n @ E_draft^T   (or the ordered-embeddings centroid head);   g_next = post_projection(n)

The drafter owns no cache and computes no keys: each layer attends to the keys and values of the target's LAST
layer of its own type (`SharedKV`). Numerics follow transformers 5.23.0 (`Gemma4UnifiedAssistantForCausalLM`);
see shared/reference/gemma4_unified.md §7.

Position convention (the reference doc's §7 "main disagreement"): the query sits at `position` and sliding
layers see the last `window` shared sliding entries. Tandem follows vLLM/mlx-vlm: with a target cache holding
P tokens, position = P - 1 (the token whose hidden state g is fed) and window = W. transformers uses
position = P and W + 1 entries; `draft_geometry(P, W, position_offset=1)` gives that for parity tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mlx.core as mx
import mlx.nn as nn

from .config import ConfigError, TextConfig
from .text import RMSNorm, geglu, rope_periods

MODEL_TYPE = "gemma4_unified_assistant"

# Keys and values of the target's last sliding and last full layer, each [B, n_kv_heads, S, head_dim].
SharedKV = dict[str, tuple[mx.array, mx.array]]


@dataclass
class DrafterConfig:
    text_config: TextConfig
    backbone_hidden_size: int = 3840
    use_ordered_embeddings: bool = False
    num_centroids: int = 2048
    centroid_intermediate_top_k: int = 32
    tie_word_embeddings: bool = True
    model_type: str = MODEL_TYPE

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DrafterConfig:
        if d.get("model_type") != MODEL_TYPE:
            raise ConfigError(f"config.json describes a {d.get('model_type')!r} model, not {MODEL_TYPE!r}")
        if "text_config" not in d:
            raise ConfigError("drafter config is missing required key: text_config")
        # Every drafter layer reads the target's K/V (the reference sets num_kv_shared_layers = all layers);
        # parse the stack as a plain one, since TextConfig rejects sharing without producers.
        text = TextConfig.from_dict({**d["text_config"], "num_kv_shared_layers": 0})
        names = {"backbone_hidden_size", "use_ordered_embeddings", "num_centroids", "centroid_intermediate_top_k",
                 "tie_word_embeddings"}
        return cls(text_config=text, **{k: v for k, v in d.items() if k in names})


def draft_geometry(cache_len: int, window: int, position_offset: int = 0) -> tuple[int, int]:
    """(query position, number of visible sliding entries) for a target cache holding `cache_len` tokens.

    `position_offset=0` is the vLLM/mlx-vlm convention used by Tandem; 1 reproduces transformers 5.23.0.
    """
    return cache_len - 1 + position_offset, window + position_offset


class DrafterAttention(nn.Module):
    """Queries only: keys and values come from the target."""

    def __init__(self, config: TextConfig, layer: int) -> None:
        super().__init__()
        self.layer_type = config.layer_types[layer]
        self.head_dim = config.head_dims[layer]
        self.n_heads = config.num_attention_heads
        self.q_proj = nn.Linear(config.hidden_size, self.n_heads * self.head_dim, bias=config.attention_bias)
        self.q_norm = RMSNorm(self.head_dim, config.rms_norm_eps)
        self.o_proj = nn.Linear(self.n_heads * self.head_dim, config.hidden_size, bias=config.attention_bias)
        self._periods = rope_periods(config.rope_parameters[self.layer_type], self.head_dim)

    def __call__(self, x: mx.array, kv: tuple[mx.array, mx.array], position: int) -> mx.array:
        B, L, _ = x.shape
        q = self.q_norm(self.q_proj(x).reshape(B, L, self.n_heads, self.head_dim)).transpose(0, 2, 1, 3)
        q = mx.fast.rope(q, self.head_dim, traditional=False, base=None, scale=1.0, offset=position,
                         freqs=self._periods)
        k, v = kv
        # All given keys are visible (the caller already cut the sliding window), so no mask.
        out = mx.fast.scaled_dot_product_attention(q, k, v, scale=1.0)
        return self.o_proj(out.transpose(0, 2, 1, 3).reshape(B, L, -1))


class DrafterMLP(nn.Module):
    def __init__(self, config: TextConfig) -> None:
        super().__init__()
        # Every drafter layer is a KV-shared layer, so the double-wide MLP (if configured) applies to all.
        inter = config.intermediate_size * (2 if config.use_double_wide_mlp else 1)
        self.gate_proj = nn.Linear(config.hidden_size, inter, bias=False)
        self.up_proj = nn.Linear(config.hidden_size, inter, bias=False)
        self.down_proj = nn.Linear(inter, config.hidden_size, bias=False)

    def __call__(self, x: mx.array) -> mx.array:
        return self.down_proj(geglu(self.gate_proj(x), self.up_proj(x)))


class DrafterLayer(nn.Module):
    def __init__(self, config: TextConfig, layer: int) -> None:
        super().__init__()
        eps, hidden = config.rms_norm_eps, config.hidden_size
        self.self_attn = DrafterAttention(config, layer)
        self.mlp = DrafterMLP(config)
        self.input_layernorm = RMSNorm(hidden, eps)
        self.post_attention_layernorm = RMSNorm(hidden, eps)
        self.pre_feedforward_layernorm = RMSNorm(hidden, eps)
        self.post_feedforward_layernorm = RMSNorm(hidden, eps)
        self.layer_scalar = mx.ones((1,))

    def __call__(self, h: mx.array, kv: tuple[mx.array, mx.array], position: int) -> mx.array:
        h = h + self.post_attention_layernorm(self.self_attn(self.input_layernorm(h), kv, position))
        h = h + self.post_feedforward_layernorm(self.mlp(self.pre_feedforward_layernorm(h)))
        return h * self.layer_scalar


class DrafterStack(nn.Module):
    """Named `model` in the checkpoint: the tied embedding, the layers and the final norm."""

    def __init__(self, config: TextConfig) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.layers = [DrafterLayer(config, i) for i in range(config.num_hidden_layers)]
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps)


class MaskedEmbedder(nn.Module):
    """The ordered-embeddings head: score only the tokens of the top-k centroids.

    Unselected tokens get `min(selected logits) - 1` (the minimum over the whole call, as the reference does),
    so the argmax is always a selected token.
    """

    def __init__(self, config: DrafterConfig) -> None:
        super().__init__()
        text = config.text_config
        self.top_k = config.centroid_intermediate_top_k
        self.num_centroids = config.num_centroids
        self.vocab_size = text.vocab_size
        if text.vocab_size % config.num_centroids:
            raise ConfigError(f"vocab_size {text.vocab_size} is not a multiple of num_centroids {config.num_centroids}")
        self.centroids = nn.Linear(text.hidden_size, config.num_centroids, bias=False)
        self.token_ordering = mx.zeros((text.vocab_size,), dtype=mx.int32)

    def __call__(self, h: mx.array, embed_tokens: nn.Module) -> mx.array:
        B, L, D = h.shape
        centroid_logits = self.centroids(h)
        top = mx.argpartition(-centroid_logits, kth=self.top_k - 1, axis=-1)[..., : self.top_k]  # [B, L, k]
        clusters = self.token_ordering.reshape(self.num_centroids, -1)
        ids = clusters[top].reshape(B, L, -1)  # [B, L, k * V / C] canonical token ids
        selected = (embed_tokens(ids) @ h[..., None]).squeeze(-1)  # [B, L, k * V / C]; works when quantized
        out = mx.full((B, L, self.vocab_size), selected.min() - 1.0, dtype=h.dtype)
        return mx.put_along_axis(out, ids, selected, axis=-1)


class Drafter(nn.Module):
    def __init__(self, config: DrafterConfig) -> None:
        super().__init__()
        self.config = config
        text = config.text_config
        self.model = DrafterStack(text)
        self.pre_projection = nn.Linear(2 * config.backbone_hidden_size, text.hidden_size, bias=False)
        self.post_projection = nn.Linear(text.hidden_size, config.backbone_hidden_size, bias=False)
        if not config.tie_word_embeddings:
            self.lm_head = nn.Linear(text.hidden_size, text.vocab_size, bias=False)
        if config.use_ordered_embeddings:
            self.masked_embedding = MaskedEmbedder(config)

    @property
    def dtype(self) -> mx.Dtype:
        """The activation dtype (norms are never quantized)."""
        return self.model.norm.weight.dtype

    def __call__(self, inputs_embeds: mx.array, shared_kv: SharedKV, position: int) -> tuple[mx.array, mx.array]:
        """One draft step.

        Args:
            inputs_embeds: [B, L, 2 * backbone_hidden_size], the scaled target embedding of the last token
                followed by the target-sized hidden state g.
            shared_kv: the target's K/V per layer type; sliding entries already cut to the visible window.
            position: the RoPE position of the query (see `draft_geometry`).

        Returns:
            (logits [B, L, vocab], projected hidden [B, L, backbone_hidden_size]).
        """
        h = self.pre_projection(inputs_embeds)
        for layer in self.model.layers:
            h = layer(h, shared_kv[layer.self_attn.layer_type], position)
        n = self.model.norm(h)
        return self.logits(n), self.post_projection(n)

    def logits(self, n: mx.array) -> mx.array:
        # No softcap, even if the text config names one: the reference assistant never applies it.
        if self.config.use_ordered_embeddings:
            return self.masked_embedding(n, self.model.embed_tokens)
        if self.config.tie_word_embeddings:
            return self.model.embed_tokens.as_linear(n)
        return self.lm_head(n)

    def sanitize(self, weights: dict[str, mx.array]) -> dict[str, mx.array]:
        out = {}
        for k, v in weights.items():
            if "rotary_emb" in k or (k == "lm_head.weight" and self.config.tie_word_embeddings):
                continue
            if k == "masked_embedding.token_ordering":
                v = v.astype(mx.int32)  # stored as int64
            out[k] = v
        return out

