"""The "quantization" entry of an MLX checkpoint's config.json, as mlx-lm, mlx-vlm and Tandem write it.

The entry holds the defaults (`group_size`, `bits`, `mode`) and, in mixed-precision checkpoints, one entry per
module path: a dict of its own parameters (`{"group_size": 64, "bits": 8}`, maybe with a `mode`), or `false`
for a module left in full precision. The paths are the writer's module names (mlx-vlm and mlx-lm:
`language_model.model.layers.3.mlp.down_proj`); `rename` maps them to the loading model's names, the same
way the tensors are mapped. A module without an entry is quantized with the defaults exactly when the
checkpoint holds its `.scales` tensor.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mlx.core as mx
from mlx import nn

DEFAULTS = {"group_size": 64, "bits": 4, "mode": "affine"}
PARAMETERS = ("group_size", "bits", "mode")

Rename = Callable[[str], "str | None"]


def defaults(quantization: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint-wide parameters, with mlx's defaults for any it leaves out."""
    return {k: quantization.get(k, DEFAULTS[k]) for k in PARAMETERS}


def module_entries(
    quantization: dict[str, Any], rename: Rename | None = None
) -> dict[str, dict[str, Any] | bool]:
    """Per-module entries under the loading model's names: full parameters, or False for `false`."""
    base = defaults(quantization)
    out: dict[str, dict[str, Any] | bool] = {}
    for path, value in quantization.items():
        if path in PARAMETERS or not isinstance(value, (dict, bool)):
            continue  # a default, or a field such as "quant_method"
        name = rename(path) if rename else path
        if name is None:
            continue  # a module the loading model does not have (an untied head, say)
        if isinstance(value, dict):
            out[name] = {**base, **{k: v for k, v in value.items() if k in PARAMETERS}}
        else:
            out[name] = dict(base) if value else False
    return out


def apply_quantization(
    model: nn.Module,
    quantization: dict[str, Any],
    weights: dict[str, mx.array],
    rename: Rename | None = None,
) -> None:
    """Turn the layers that the checkpoint stores quantized into quantized layers, each with its own bits."""
    entries = module_entries(quantization, rename)

    def predicate(path: str, module: nn.Module) -> bool | dict:
        entry = entries.get(path)
        if isinstance(entry, dict):
            return entry
        if entry is False:
            return False
        return f"{path}.scales" in weights

    base = defaults(quantization)
    nn.quantize(
        model,
        group_size=base["group_size"],
        bits=base["bits"],
        mode=base["mode"],
        class_predicate=predicate,
    )
