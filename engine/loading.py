"""Load a Gemma 4 unified checkpoint into `engine.model.Model`.

`load_model(path_or_repo_id, dtype=None)` accepts:
- a Hugging Face layout folder (config.json + model.safetensors or shards listed in model.safetensors.index.json,
  tensor names `model.language_model.*`, `model.vision_embedder.*`, `model.embed_vision.*`, `model.embed_audio.*`);
- an mlx-vlm converted folder (`language_model.model.*`, `vision_embedder.*`, ...), quantized or not;
- a folder written by `engine.convert` (our own names, quantized);
- a Hugging Face repo id, resolved through huggingface_hub's cache (`snapshot_download`).

Quantized folders carry a "quantization" entry in config.json (mlx-lm's format: group_size, bits, mode and
optional per-layer overrides); a layer is quantized when its `.scales` tensor is present. Every problem with the
files (missing shard, truncated file, wrong tensor shape, missing or unexpected tensor, wrong model type) raises
`CheckpointError` with the file or tensor named. The default dtype is float32 on the CPU and bfloat16 on a GPU.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import mlx.core as mx
from mlx import nn
from mlx.utils import tree_flatten

from engine.model.config import ConfigError, ModelConfig
from engine.model.unified import Model

INDEX_FILE = "model.safetensors.index.json"
# What a repo download needs: config, weights, tokenizer, template, processor files.
HUB_PATTERNS = ["*.json", "*.safetensors", "*.jinja", "*.model", "*.txt"]
_DTYPES = {"float32": mx.float32, "bfloat16": mx.bfloat16, "float16": mx.float16}


class CheckpointError(Exception):
    """A checkpoint folder or file cannot be loaded; the message names the file or tensor at fault."""


def default_dtype() -> mx.Dtype:
    # MLX's CPU bfloat16 path is several times slower than float32.
    return mx.bfloat16 if mx.default_device().type == mx.DeviceType.gpu else mx.float32


def resolve_dtype(dtype: mx.Dtype | str | None) -> mx.Dtype:
    if dtype is None:
        return default_dtype()
    if isinstance(dtype, str):
        if dtype not in _DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; use one of {sorted(_DTYPES)}")
        return _DTYPES[dtype]
    return dtype


def resolve_path(path_or_repo_id: str | Path) -> Path:
    """A local folder as is, or a repo id ("owner/name") through the Hugging Face cache."""
    path = Path(path_or_repo_id).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise CheckpointError(f"{path} is a file; expected a checkpoint folder")
    repo_id = str(path_or_repo_id)
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", repo_id):
        raise CheckpointError(f"{repo_id} is neither a folder nor a Hugging Face repo id")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, allow_patterns=HUB_PATTERNS))
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as e:
        raise CheckpointError(f"cannot fetch {repo_id} from Hugging Face: {e}") from e


def read_config(folder: Path) -> tuple[ModelConfig, dict[str, Any]]:
    """The typed config and the raw dict of `folder/config.json`."""
    path = folder / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{folder} has no config.json")
    try:
        raw = json.loads(path.read_text())
        return ModelConfig.from_dict(raw), raw
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path} is not valid JSON: {e}") from e
    except (ConfigError, TypeError) as e:
        raise CheckpointError(f"{path}: {e}") from e


def weight_files(folder: Path) -> list[Path]:
    """The safetensors files of a checkpoint, from its index when there is one."""
    index = folder / INDEX_FILE
    if index.is_file():
        names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        for name in names:
            if not (folder / name).is_file():
                raise CheckpointError(
                    f"shard {name} listed in {INDEX_FILE} is missing from {folder}"
                )
        return [folder / n for n in names]
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise CheckpointError(f"{folder} holds no .safetensors file")
    return files


def check_safetensors(path: Path) -> dict[str, Any]:
    """Validate a safetensors file's header against its size (catches truncated downloads); return the header."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else -1
        if n < 0 or 8 + n > size:
            raise CheckpointError(
                f"{path.name} is truncated or not a safetensors file ({size} bytes)"
            )
        try:
            header = json.loads(f.read(n))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise CheckpointError(f"{path.name} has a corrupt safetensors header: {e}") from e
    end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    if 8 + n + end > size:
        raise CheckpointError(
            f"{path.name} is truncated: {size} bytes on disk, its header needs {8 + n + end}"
        )
    return header


def load_safetensors(path: Path) -> dict[str, mx.array]:
    check_safetensors(path)
    try:
        return mx.load(str(path))
    except (RuntimeError, ValueError) as e:
        raise CheckpointError(f"cannot read {path.name}: {e}") from e


def apply_quantization(
    model: nn.Module, quantization: dict[str, Any], weights: dict[str, mx.array]
) -> None:
    """Turn the layers that have `.scales` in `weights` into quantized layers (mlx-lm's config format)."""

    def predicate(path: str, module: nn.Module) -> bool | dict:
        override = quantization.get(path)
        if isinstance(override, dict):
            return override
        if override is False:
            return False
        return f"{path}.scales" in weights

    nn.quantize(
        model,
        group_size=quantization.get("group_size", 64),
        bits=quantization.get("bits", 4),
        mode=quantization.get("mode", "affine"),
        class_predicate=predicate,
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
    model = Model(config)
    weights: dict[str, mx.array] = {}
    for f in weight_files(folder):
        weights.update(load_safetensors(f))
    weights = model.sanitize(weights)
    if config.quantization:
        apply_quantization(model, config.quantization, weights)
    check_weights(model, weights)
    weights = {
        k: w.astype(dtype) if mx.issubdtype(w.dtype, mx.floating) else w for k, w in weights.items()
    }
    model.load_weights(list(weights.items()), strict=True)
    mx.eval(model.parameters())
    model.eval()
    return model
