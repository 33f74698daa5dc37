"""config.json, generation_config.json and the drafter's config.json, as transformers 5.23.0 writes them.

`model_config(shape)` returns exactly the dict that `Gemma4UnifiedConfig(...).save_pretrained` writes
for the same parameters (keys sorted, `per_layer_config` instead of `global_head_dim`), plus
`"tandem_random_weights": true`. `drafter_config(shape)` does the same for
`Gemma4UnifiedAssistantConfig`. transformers itself is not imported here: the tests prove equality.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .shapes import FULL, Shape

TRANSFORMERS_VERSION = "5.23.0"
RANDOM_WEIGHTS_FIELD = "tandem_random_weights"

ROPE_PARAMETERS = {
    "full_attention": {
        "partial_rotary_factor": 0.25,
        "rope_theta": 1_000_000.0,
        "rope_type": "proportional",
    },
    "sliding_attention": {"rope_theta": 10_000.0, "rope_type": "default"},
}


def text_config(
    *,
    vocab_size: int,
    hidden_size: int,
    intermediate_size: int,
    layer_types: tuple[str, ...],
    num_attention_heads: int,
    num_key_value_heads: int,
    head_dim: int,
    global_head_dim: int,
    num_global_key_value_heads: int,
    attention_k_eq_v: bool,
    sliding_window: int,
    final_logit_softcapping: float | None,
    num_kv_shared_layers: int = 0,
) -> dict[str, Any]:
    """A `gemma4_unified_text` sub-config; full layers get their head_dim / kv heads via `per_layer_config`."""
    override: dict[str, int] = {"head_dim": global_head_dim}
    if attention_k_eq_v:
        override["num_key_value_heads"] = num_global_key_value_heads
    full = [i for i, t in enumerate(layer_types) if t == FULL]
    # transformers zero-pads the keys to the width of the largest index ("05", "11", ...).
    width = len(str(max(full))) if full else 1
    per_layer = {str(i).zfill(width): dict(override) for i in full}
    return {
        "attention_bias": False,
        "attention_dropout": 0.0,
        "attention_k_eq_v": attention_k_eq_v,
        "bos_token_id": 2,
        "eos_token_id": 1,
        "final_logit_softcapping": final_logit_softcapping,
        "head_dim": head_dim,
        "hidden_activation": "gelu_pytorch_tanh",
        "hidden_size": hidden_size,
        "initializer_range": 0.02,
        "intermediate_size": intermediate_size,
        "layer_types": list(layer_types),
        "max_position_embeddings": 262_144,
        "model_type": "gemma4_unified_text",
        "num_attention_heads": num_attention_heads,
        "num_hidden_layers": len(layer_types),
        "num_key_value_heads": num_key_value_heads,
        "num_kv_shared_layers": num_kv_shared_layers,
        "pad_token_id": 0,
        "per_layer_config": per_layer,
        "rms_norm_eps": 1e-06,
        "rope_parameters": json.loads(json.dumps(ROPE_PARAMETERS)),
        "sliding_window": sliding_window,
        "tie_word_embeddings": True,
        "use_bidirectional_attention": "vision",
        "use_cache": True,
        "use_double_wide_mlp": False,
        "vocab_size": vocab_size,
    }


def model_config(shape: Shape, *, quantization: dict[str, Any] | None = None) -> dict[str, Any]:
    """The target model's config.json content. `quantization` (bits, group_size, mode) marks an MLX-quantized folder."""
    ids = shape.media_ids
    cfg: dict[str, Any] = {
        "architectures": ["Gemma4UnifiedForConditionalGeneration"],
        "audio_config": {
            "audio_embed_dim": shape.audio_embed_dim,
            "initializer_range": 0.02,
            "model_type": "gemma4_unified_audio",
            "rms_norm_eps": 1e-06,
        },
        "audio_token_id": ids["audio"],
        "boa_token_id": ids["boa"],
        "boi_token_id": ids["boi"],
        "dtype": shape.dtype,
        "eoa_token_index": ids["eoa"],
        "eoi_token_id": ids["eoi"],
        "image_token_id": ids["image"],
        "initializer_range": 0.02,
        "model_type": "gemma4_unified",
        RANDOM_WEIGHTS_FIELD: True,
        "text_config": text_config(
            vocab_size=shape.vocab_size,
            hidden_size=shape.hidden_size,
            intermediate_size=shape.intermediate_size,
            layer_types=shape.layer_types,
            num_attention_heads=shape.num_attention_heads,
            num_key_value_heads=shape.num_key_value_heads,
            head_dim=shape.head_dim,
            global_head_dim=shape.global_head_dim,
            num_global_key_value_heads=shape.num_global_key_value_heads,
            attention_k_eq_v=shape.attention_k_eq_v,
            sliding_window=shape.sliding_window,
            final_logit_softcapping=shape.final_logit_softcapping,
        ),
        "tie_word_embeddings": True,
        "transformers_version": TRANSFORMERS_VERSION,
        "video_token_id": ids["video"],
        "vision_config": {
            "initializer_range": 0.02,
            "mm_embed_dim": shape.mm_embed_dim,
            "mm_posemb_size": shape.mm_posemb_size,
            "model_type": "gemma4_unified_vision",
            "output_proj_dims": shape.mm_embed_dim,
            "patch_size": shape.patch_size,
            "pooling_kernel_size": shape.pooling_kernel_size,
            "rms_norm_eps": 1e-06,
        },
    }
    if quantization is not None:
        # mlx-vlm's convert writes both spellings.
        cfg["quantization"] = dict(quantization)
        cfg["quantization_config"] = dict(quantization)
    return dict(sorted(cfg.items()))


def drafter_config(shape: Shape) -> dict[str, Any]:
    """The MTP assistant's config.json: its own narrow stack, the target's attention geometry, all layers shared."""
    d = shape.drafter
    return {
        "architectures": ["Gemma4UnifiedAssistantForCausalLM"],
        "backbone_hidden_size": shape.hidden_size,
        "centroid_intermediate_top_k": 32,
        "dtype": shape.dtype,
        "model_type": "gemma4_unified_assistant",
        "num_centroids": 2048,
        RANDOM_WEIGHTS_FIELD: True,
        "text_config": text_config(
            vocab_size=shape.vocab_size,
            hidden_size=d.hidden_size,
            intermediate_size=d.intermediate_size,
            layer_types=d.layer_types,
            num_attention_heads=d.num_attention_heads,
            num_key_value_heads=shape.num_key_value_heads,
            head_dim=shape.head_dim,
            global_head_dim=shape.global_head_dim,
            num_global_key_value_heads=shape.num_global_key_value_heads,
            attention_k_eq_v=shape.attention_k_eq_v,
            sliding_window=shape.sliding_window,
            final_logit_softcapping=None,
            num_kv_shared_layers=len(d.layer_types),
        ),
        "tie_word_embeddings": True,
        "transformers_version": TRANSFORMERS_VERSION,
        "use_ordered_embeddings": False,
    }


def generation_config(shape: Shape) -> dict[str, Any]:
    """Stop on <eos>, <turn|> and <|tool_response>; never emit end-of-image/audio; the released sampling defaults."""
    ids = shape.media_ids
    return {
        "bos_token_id": 2,
        "do_sample": True,
        "eos_token_id": [1, 106, 50],
        "pad_token_id": 0,
        "suppress_tokens": [ids["eoa"], ids["eoi"]],
        "temperature": 1.0,
        "top_k": 64,
        "top_p": 0.95,
        "transformers_version": TRANSFORMERS_VERSION,
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    """JSON as transformers writes it: two-space indent, sorted keys, trailing newline."""
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
