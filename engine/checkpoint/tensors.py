"""Which tensors a checkpoint holds: names (as released), shapes, how each is drawn, and shard groups.

`target_shards(shape)` lists the target model's tensors in the released HF names
(`model.language_model.*`, `model.vision_embedder.*`, `model.embed_vision.embedding_projection.weight`,
`model.embed_audio.embedding_projection.weight`), grouped into shards: the embeddings, multimodal
embedders and final norm first, then the decoder layers. `drafter_tensors(shape)` lists the MTP
assistant's tensors (reference §7). `mlx_name` maps a released name to mlx-vlm's converted name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .shapes import FULL, Shape

# How a tensor is drawn: "dense" ~ N(0, 0.02) (projections and embeddings; the only quantizable kind),
# "normal" ~ N(0, 0.02) but never quantized (biases, position table), "norm" ~ 1 + 0.3 N(0, 1)
# (so x*w vs x*(1+w) bugs show), "scalar" ~ U[0.5, 1.5] (layer_scalar).
Init = Literal["dense", "normal", "norm", "scalar"]

# Decoder layers per shard; the first shard always holds embeddings, multimodal embedders and final norm.
LAYERS_PER_SHARD = {"tiny": 3, "small": 2, "12b": 1}


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    init: Init

    @property
    def numel(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


def _attention_geometry(shape: Shape, layer_type: str) -> tuple[int, int, bool]:
    """(head_dim, kv_heads, has_v_proj) of a target layer of this type."""
    if layer_type == FULL:
        if shape.attention_k_eq_v:
            return shape.global_head_dim, shape.num_global_key_value_heads, False
        return shape.global_head_dim, shape.num_key_value_heads, True
    return shape.head_dim, shape.num_key_value_heads, True


def _norms(prefix: str, hidden: int) -> list[TensorSpec]:
    names = (
        "input_layernorm",
        "post_attention_layernorm",
        "pre_feedforward_layernorm",
        "post_feedforward_layernorm",
    )
    out = [TensorSpec(f"{prefix}.{n}.weight", (hidden,), "norm") for n in names]
    out.append(TensorSpec(f"{prefix}.layer_scalar", (1,), "scalar"))
    return out


def _mlp(prefix: str, hidden: int, intermediate: int) -> list[TensorSpec]:
    return [
        TensorSpec(f"{prefix}.mlp.gate_proj.weight", (intermediate, hidden), "dense"),
        TensorSpec(f"{prefix}.mlp.up_proj.weight", (intermediate, hidden), "dense"),
        TensorSpec(f"{prefix}.mlp.down_proj.weight", (hidden, intermediate), "dense"),
    ]


def decoder_layer(shape: Shape, i: int) -> list[TensorSpec]:
    p = f"model.language_model.layers.{i}"
    h = shape.hidden_size
    d, kv, has_v = _attention_geometry(shape, shape.layer_types[i])
    q = shape.num_attention_heads * d
    out = _norms(p, h)
    out += [
        TensorSpec(f"{p}.self_attn.q_proj.weight", (q, h), "dense"),
        TensorSpec(f"{p}.self_attn.k_proj.weight", (kv * d, h), "dense"),
    ]
    if has_v:
        out.append(TensorSpec(f"{p}.self_attn.v_proj.weight", (kv * d, h), "dense"))
    out += [
        TensorSpec(f"{p}.self_attn.o_proj.weight", (h, q), "dense"),
        TensorSpec(f"{p}.self_attn.q_norm.weight", (d,), "norm"),
        TensorSpec(f"{p}.self_attn.k_norm.weight", (d,), "norm"),
    ]
    return out + _mlp(p, h, shape.intermediate_size)


def head_tensors(shape: Shape) -> list[TensorSpec]:
    """Embedding, final norm, vision embedder and the two multimodal projections."""
    h, e, pd = shape.hidden_size, shape.mm_embed_dim, shape.patch_dim
    v = "model.vision_embedder"
    return [
        TensorSpec("model.language_model.embed_tokens.weight", (shape.vocab_size, h), "dense"),
        TensorSpec("model.language_model.norm.weight", (h,), "norm"),
        TensorSpec(f"{v}.patch_ln1.weight", (pd,), "norm"),
        TensorSpec(f"{v}.patch_ln1.bias", (pd,), "normal"),
        TensorSpec(f"{v}.patch_dense.weight", (e, pd), "dense"),
        TensorSpec(f"{v}.patch_dense.bias", (e,), "normal"),
        TensorSpec(f"{v}.patch_ln2.weight", (e,), "norm"),
        TensorSpec(f"{v}.patch_ln2.bias", (e,), "normal"),
        TensorSpec(f"{v}.pos_embedding", (shape.mm_posemb_size, 2, e), "normal"),
        TensorSpec(f"{v}.pos_norm.weight", (e,), "norm"),
        TensorSpec(f"{v}.pos_norm.bias", (e,), "normal"),
        TensorSpec("model.embed_vision.embedding_projection.weight", (h, e), "dense"),
        TensorSpec(
            "model.embed_audio.embedding_projection.weight", (h, shape.audio_embed_dim), "dense"
        ),
    ]


def target_shards(shape: Shape) -> list[list[TensorSpec]]:
    per = LAYERS_PER_SHARD.get(shape.name, 1)
    shards = [head_tensors(shape)]
    for start in range(0, shape.num_hidden_layers, per):
        group: list[TensorSpec] = []
        for i in range(start, min(start + per, shape.num_hidden_layers)):
            group += decoder_layer(shape, i)
        shards.append(group)
    return shards


def drafter_tensors(shape: Shape) -> list[TensorSpec]:
    """The MTP assistant: no k/v projections (it reads the target's K/V), pre/post projections to the backbone."""
    d = shape.drafter
    h = d.hidden_size
    out = [TensorSpec("model.embed_tokens.weight", (shape.vocab_size, h), "dense")]
    for i, t in enumerate(d.layer_types):
        p = f"model.layers.{i}"
        hd = shape.global_head_dim if t == FULL else shape.head_dim
        q = d.num_attention_heads * hd
        out += _norms(p, h)
        out += [
            TensorSpec(f"{p}.self_attn.q_proj.weight", (q, h), "dense"),
            TensorSpec(f"{p}.self_attn.o_proj.weight", (h, q), "dense"),
            TensorSpec(f"{p}.self_attn.q_norm.weight", (hd,), "norm"),
        ]
        out += _mlp(p, h, d.intermediate_size)
    out += [
        TensorSpec("model.norm.weight", (h,), "norm"),
        TensorSpec("pre_projection.weight", (h, 2 * shape.hidden_size), "dense"),
        TensorSpec("post_projection.weight", (shape.hidden_size, h), "dense"),
    ]
    return out


def mlx_name(hf_name: str) -> str:
    """The name mlx-vlm's convert gives a released tensor: drop `model.`, nest the decoder under `language_model.model.`."""
    name = hf_name.removeprefix("model.")
    if name.startswith("language_model."):
        return "language_model.model." + name.removeprefix("language_model.")
    return name


def quantizable(spec: TensorSpec, group_size: int) -> bool:
    """mlx-vlm 0.7.10's rule: Linear/Embedding weights whose rows split into groups, except the vision
    embedder's (its converter skips module paths naming "vision"; the audio projection is quantized)."""
    if spec.init != "dense" or "vision" in spec.name:
        return False
    return spec.shape[-1] % group_size == 0


def is_media(spec: TensorSpec) -> bool:
    """A tensor of the vision embedder or the image / audio projections (what a text-only build drops)."""
    return spec.name.startswith(
        ("model.vision_embedder.", "model.embed_vision.", "model.embed_audio.")
    )


def parameter_count(shape: Shape) -> int:
    """Parameters of the target model of `shape` (the tied embedding counted once)."""
    return sum(s.numel for shard in target_shards(shape) for s in shard)
