"""Load a Gemma 4 unified checkpoint into `engine.model.Model`.

`load_model(path_or_repo_id, dtype=None)` accepts:
- a Hugging Face layout folder (config.json + model.safetensors or shards listed in model.safetensors.index.json,
  tensor names `model.language_model.*`, `model.vision_embedder.*`, `model.embed_vision.*`, `model.embed_audio.*`);
- an mlx-vlm or mlx-lm converted folder (`language_model.model.*`, `vision_embedder.*`, ...), quantized or not,
  uniformly or with per-module bit widths (see `engine.loading.quantization`);
- a folder written by `engine.convert` (our own names, quantized);
- a Hugging Face repo id, resolved through huggingface_hub's cache.

A checkpoint without the vision embedder's or the audio projection's weights (a text-only build such as one
made by mlx-lm, which drops them) loads as a text-only model, whatever its config.json still says:
`model.has_vision` / `model.has_audio` tell which inputs it takes. Every problem with the files raises
`CheckpointError` with the file or tensor named. The default dtype is float32 on the CPU and bfloat16 on a GPU.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import mlx.core as mx
from mlx import nn
from mlx.utils import tree_flatten

from engine.model.config import ConfigError, ModelConfig
from engine.model.unified import Model, canonical_name

from .files import CheckpointError, read_raw_config, read_weights, resolve_path
from .quantization import apply_quantization

DTYPES = {"float32": mx.float32, "bfloat16": mx.bfloat16, "float16": mx.float16}
VISION_PREFIXES = ("vision_embedder.", "embed_vision.")
AUDIO_PREFIX = "embed_audio."


def default_dtype() -> mx.Dtype:
    # MLX's CPU bfloat16 path is several times slower than float32.
    return mx.bfloat16 if mx.default_device().type == mx.DeviceType.gpu else mx.float32


def resolve_dtype(dtype: mx.Dtype | str | None) -> mx.Dtype:
    """An MLX dtype from a name ("float32", "bfloat16", "float16"), a dtype, or None (the default)."""
    if dtype is None:
        return default_dtype()
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; use one of {sorted(DTYPES)}")
        return DTYPES[dtype]
    return dtype


def read_config(folder: Path) -> tuple[ModelConfig, dict[str, Any]]:
    """The typed config and the raw dict of `folder/config.json`."""
    raw = read_raw_config(folder)
    try:
        return ModelConfig.from_dict(raw), raw
    except (ConfigError, TypeError) as e:
        raise CheckpointError(f"{folder / 'config.json'}: {e}") from e


def without_missing_inputs(config: ModelConfig, names: set[str]) -> ModelConfig:
    """The config less the vision / audio parts whose weights are not among `names` (our tensor names)."""
    has_vision = any(n.startswith(VISION_PREFIXES) for n in names)
    has_audio = any(n.startswith(AUDIO_PREFIX) for n in names)
    return dataclasses.replace(
        config,
        vision_config=config.vision_config if has_vision else None,
        audio_config=config.audio_config if has_audio else None,
    )


def check_weights(model: nn.Module, weights: dict[str, mx.array]) -> None:
    expected = dict(tree_flatten(model.parameters()))
    missing = sorted(set(expected) - set(weights))
    if missing:
        raise CheckpointError(
            f"{len(missing)} tensor(s) missing from the checkpoint, e.g. {missing[:5]}"
        )
    unexpected = sorted(set(weights) - set(expected))
    if unexpected:
        raise CheckpointError(
            f"{len(unexpected)} unexpected tensor(s) in the checkpoint, e.g. {unexpected[:5]}"
        )
    for name, w in weights.items():
        if tuple(w.shape) != tuple(expected[name].shape):
            raise CheckpointError(
                f"tensor {name} has shape {tuple(w.shape)} in the checkpoint; the config needs "
                f"{tuple(expected[name].shape)}"
            )


def cast_floats(weights: dict[str, mx.array], dtype: mx.Dtype) -> dict[str, mx.array]:
    """Floating-point tensors in `dtype`; packed quantized weights and integer buffers as they are."""
    return {
        k: w.astype(dtype) if mx.issubdtype(w.dtype, mx.floating) else w for k, w in weights.items()
    }


def load_model(path_or_repo_id: str | Path, dtype: mx.Dtype | str | None = None) -> Model:
    """Load a checkpoint (folder or repo id) as a ready-to-run `Model`.

    Args:
        path_or_repo_id: a checkpoint folder, or a Hugging Face repo id.
        dtype: compute dtype for floating-point weights; default float32 on CPU, bfloat16 on GPU.

    Returns:
        The model, evaluated and in eval mode.
    """
    dtype = resolve_dtype(dtype)
    folder = resolve_path(path_or_repo_id)
    config, _ = read_config(folder)
    stored = read_weights(folder)
    config = without_missing_inputs(
        config, {n for n in map(canonical_name, stored) if n is not None}
    )
    model = Model(config)
    weights = model.sanitize(stored)
    if config.quantization:
        apply_quantization(model, config.quantization, weights, rename=canonical_name)
    check_weights(model, weights)
    model.load_weights(list(cast_floats(weights, dtype).items()), strict=True)
    mx.eval(model.parameters())
    model.eval()
    return model
