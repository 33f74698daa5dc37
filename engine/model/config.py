"""Typed configuration of Gemma 4 unified, read from config.json as transformers 5.23 writes it.

`ModelConfig.from_dict(d)` accepts the composite config (`model_type == "gemma4_unified"`); each sub-config's
`from_dict` ignores unknown keys and raises `ConfigError` for missing required ones. Field names are the
config.json keys. Derived per-layer structure (head dims, KV heads, KV-sharing producers, the effective sliding
window) is resolved once here, following the reference rules in shared/reference/gemma4_unified.md §1.2.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

MODEL_TYPE = "gemma4_unified"
SLIDING = "sliding_attention"
FULL = "full_attention"


class ConfigError(ValueError):
    """config.json does not describe a model this package can build."""


def _build(cls: type, d: dict[str, Any], what: str, required: tuple[str, ...]):
    missing = [k for k in required if k not in d]
    if missing:
        raise ConfigError(f"{what} is missing required key(s): {', '.join(missing)}")
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class TextConfig:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    global_head_dim: int | None = None
    num_global_key_value_heads: int | None = None
    per_layer_config: dict[str, dict[str, Any]] | None = None
    hidden_activation: str = "gelu_pytorch_tanh"
    rms_norm_eps: float = 1e-6
    pad_token_id: int = 0
    tie_word_embeddings: bool = True
    rope_parameters: dict[str, dict[str, Any]] | None = None
    attention_bias: bool = False
    sliding_window: int = 1024
    max_position_embeddings: int = 262_144
    layer_types: list[str] | None = None
    final_logit_softcapping: float | None = None
    use_bidirectional_attention: str | None = "vision"
    attention_k_eq_v: bool = False
    num_kv_shared_layers: int = 0
    use_double_wide_mlp: bool = False
    hidden_size_per_layer_input: int = 0
    enable_moe_block: bool = False
    # Resolved per layer in __post_init__.
    head_dims: list[int] = field(init=False)
    kv_heads: list[int] = field(init=False)
    kv_producers: list[int | None] = field(init=False)

    REQUIRED = (
        "vocab_size",
        "hidden_size",
        "intermediate_size",
        "num_hidden_layers",
        "num_attention_heads",
        "num_key_value_heads",
        "head_dim",
    )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TextConfig:
        return _build(cls, d, "text_config", cls.REQUIRED)

    def __post_init__(self) -> None:
        n = self.num_hidden_layers
        if self.hidden_size_per_layer_input:
            raise ConfigError(
                "per-layer input embeddings (hidden_size_per_layer_input > 0) are not supported"
            )
        if self.enable_moe_block:
            raise ConfigError("mixture-of-experts blocks (enable_moe_block) are not supported")
        if self.hidden_activation not in ("gelu_pytorch_tanh", "gelu_tanh"):
            raise ConfigError(f"unsupported hidden_activation {self.hidden_activation!r}")
        if self.use_bidirectional_attention not in (None, "vision", "all"):
            raise ConfigError(
                f"unknown use_bidirectional_attention {self.use_bidirectional_attention!r}"
            )
        if self.layer_types is None:
            # The reference's default: every sixth layer is full attention.
            self.layer_types = [FULL if (i + 1) % 6 == 0 else SLIDING for i in range(n)]
        self.layer_types = list(self.layer_types)
        if len(self.layer_types) != n:
            raise ConfigError(f"layer_types has {len(self.layer_types)} entries for {n} layers")
        if bad := sorted({t for t in self.layer_types if t not in (SLIDING, FULL)}):
            raise ConfigError(f"unknown layer type(s) {bad}")
        self.layer_types[-1] = FULL  # the reference forces the last layer to full attention
        if self.rope_parameters is None:
            self.rope_parameters = {
                SLIDING: {"rope_type": "default", "rope_theta": 10_000.0},
                FULL: {
                    "rope_type": "proportional",
                    "partial_rotary_factor": 0.25,
                    "rope_theta": 1_000_000.0,
                },
            }
        self._resolve_heads()
        self._resolve_kv_sharing()

    def _resolve_heads(self) -> None:
        self.head_dims = [self.head_dim] * self.num_hidden_layers
        self.kv_heads = [self.num_key_value_heads] * self.num_hidden_layers
        if self.per_layer_config is not None:
            for key, overrides in self.per_layer_config.items():
                i = int(key)
                if not 0 <= i < self.num_hidden_layers:
                    raise ConfigError(
                        f"per_layer_config names layer {key} of {self.num_hidden_layers}"
                    )
                self.head_dims[i] = int(overrides.get("head_dim", self.head_dims[i]))
                self.kv_heads[i] = int(overrides.get("num_key_value_heads", self.kv_heads[i]))
            return
        # Same rule as the reference when `per_layer_config` is absent (global_head_dim defaults to 512).
        global_dim = self.global_head_dim or 512
        for i, t in enumerate(self.layer_types):
            if t == FULL:
                self.head_dims[i] = global_dim
                if self.attention_k_eq_v and self.num_global_key_value_heads is not None:
                    self.kv_heads[i] = self.num_global_key_value_heads

    def _resolve_kv_sharing(self) -> None:
        n, shared = self.num_hidden_layers, self.num_kv_shared_layers
        self.kv_producers = [None] * n
        if shared == 0:
            return
        first = n - shared
        for i in range(first, n):
            t = self.layer_types[i]
            producers = [j for j in range(first) if self.layer_types[j] == t]
            if not producers:
                raise ConfigError(
                    f"KV-shared layer {i} ({t}) has no earlier {t} layer to read keys and values from"
                )
            self.kv_producers[i] = producers[-1]

    def is_kv_shared(self, layer: int) -> bool:
        return self.kv_producers[layer] is not None

    @property
    def window(self) -> int:
        """The sliding window as the masks use it (the reference halves it once in "all" mode)."""
        if self.use_bidirectional_attention == "all":
            return self.sliding_window // 2 + 1
        return self.sliding_window

    @property
    def embed_scale(self) -> float:
        return math.sqrt(self.hidden_size)


@dataclass
class VisionConfig:
    patch_size: int = 16
    pooling_kernel_size: int = 3
    mm_embed_dim: int = 3840
    mm_posemb_size: int = 1120
    rms_norm_eps: float = 1e-6
    output_proj_dims: int = 3840

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VisionConfig:
        cfg = _build(cls, d, "vision_config", ())
        if "model_patch_size" in d and d["model_patch_size"] != cfg.model_patch_size:
            raise ConfigError(
                f"vision_config.model_patch_size {d['model_patch_size']} != patch_size * pooling_kernel_size "
                f"({cfg.model_patch_size})"
            )
        return cfg

    @property
    def model_patch_size(self) -> int:
        return self.patch_size * self.pooling_kernel_size

    @property
    def patch_dim(self) -> int:
        return self.model_patch_size**2 * 3  # RGB pixels of one merged patch: 48*48*3 = 6912


@dataclass
class AudioConfig:
    audio_embed_dim: int = 640  # one 40 ms frame at 16 kHz per soft token
    rms_norm_eps: float = 1e-6

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AudioConfig:
        d = dict(d)
        # Some converters write the embed dim under one of the reference's property names.
        for alias in ("output_proj_dims", "hidden_size", "audio_samples_per_token"):
            if "audio_embed_dim" not in d and alias in d:
                d["audio_embed_dim"] = d[alias]
        return _build(cls, d, "audio_config", ())


@dataclass
class ModelConfig:
    text_config: TextConfig
    vision_config: VisionConfig | None = None
    audio_config: AudioConfig | None = None
    model_type: str = MODEL_TYPE
    boi_token_id: int = 255_999
    eoi_token_id: int = 258_882
    image_token_id: int = 258_880
    video_token_id: int = 258_884
    boa_token_id: int = 256_000
    eoa_token_index: int = 258_883
    audio_token_id: int = 258_881
    tie_word_embeddings: bool = True
    quantization: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        model_type = d.get("model_type")
        if model_type != MODEL_TYPE:
            raise ConfigError(
                f"config.json describes a {model_type!r} model; only {MODEL_TYPE!r} can be loaded"
            )
        if "text_config" not in d:
            raise ConfigError("config is missing required key: text_config")
        d = dict(d)
        if "eoa_token_index" not in d and "eoa_token_id" in d:
            d["eoa_token_index"] = d["eoa_token_id"]
        d["text_config"] = TextConfig.from_dict(d["text_config"])
        for key, sub in (("vision_config", VisionConfig), ("audio_config", AudioConfig)):
            if d.get(key) is not None:
                d[key] = sub.from_dict(d[key])
        if not d["text_config"].tie_word_embeddings or not d.get("tie_word_embeddings", True):
            raise ConfigError("untied word embeddings (a separate lm_head) are not supported")
        return _build(cls, d, "config", ())
