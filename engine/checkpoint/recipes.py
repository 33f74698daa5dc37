"""Mixed-precision recipes: how many bits each quantized module gets, as the community MLX builds choose.

- "mlp8": every MLP projection (gate/up/down) at 8 bits, everything else at 4, like
  mlx-community's 4-bit build (engine.releases). config.json names only the 8-bit modules; the rest take the defaults.
- "mixed_4_8": mlx-vlm's `--quant-predicate mixed_4_8` (after llama.cpp's Q4_K_M): 8 bits for the embedding
  and for v_proj / down_proj in the first and last eighth of the layers and every third layer between, 4 bits
  elsewhere. config.json names every quantized module, as mlx-vlm's converter writes it.

Names are mlx-vlm's (`language_model.model.layers.3.mlp.down_proj`), without the `.weight` suffix.
"""

from __future__ import annotations

import re

RECIPES = ("mlp8", "mixed_4_8")
LOW, HIGH = 4, 8
_LAYER = re.compile(r"^language_model\.model\.layers\.(\d+)\.")


def module_bits(recipe: str, module: str, num_layers: int) -> int:
    """Bits for the quantized `module` under `recipe` in a model of `num_layers` decoder layers."""
    if recipe == "mlp8":
        return HIGH if ".mlp." in module else LOW
    if recipe == "mixed_4_8":
        m = _LAYER.match(module)
        i = int(m.group(1)) if m else 0
        eighth = num_layers // 8
        more = i < eighth or i >= 7 * num_layers // 8 or (i - eighth) % 3 == 2
        if more and ("v_proj" in module or "down_proj" in module):
            return HIGH
        return HIGH if "embed_tokens" in module or "lm_head" in module else LOW
    raise ValueError(
        f"unknown mixed-precision recipe {recipe!r}; choose one of: {', '.join(RECIPES)}"
    )


def config_entries(
    recipe: str, modules: list[str], num_layers: int, group_size: int
) -> dict[str, dict[str, int]]:
    """The per-module entries of config.json's "quantization" for the quantized `modules`."""
    out = {}
    for module in modules:
        bits = module_bits(recipe, module, num_layers)
        if recipe == "mixed_4_8" or bits != LOW:
            out[module] = {"group_size": group_size, "bits": bits}
    return out
