"""Load the Gemma 4 MTP assistant (`gemma4_unified_assistant`) into `engine.model.drafter.Drafter`.

Layouts: the released one (Google's assistant repository: config.json + model.safetensors, bfloat16) and
mlx-vlm's conversion of it (same tensor names, weights in an indexed `model.safetensors`, maybe quantized with
a "quantization" entry, its config.json carrying the extra keys mlx-vlm's own loader needs). Both load the same
way; every problem raises `CheckpointError` naming the file or tensor. `check_pairing` says when a drafter
was made for another model than the one it would draft for.
"""

from __future__ import annotations

from pathlib import Path

import mlx.core as mx

from engine.model.config import ConfigError
from engine.model.drafter import Drafter, DrafterConfig

from .files import CheckpointError, read_raw_config, read_weights
from .quantization import apply_quantization
from .target import cast_floats, check_weights, resolve_dtype

DRAFTER_FOLDER = "drafter"  # where a checkpoint keeps its drafter, if it has one


def find_drafter(model_folder: Path, drafter_path: str | Path | None = None) -> Path | None:
    """The drafter folder to load: `drafter_path` if given (it must hold one), else `<model>/drafter` if any."""
    if drafter_path:
        folder = Path(drafter_path).expanduser()
        if not (folder / "config.json").is_file():
            raise CheckpointError(f"{folder} holds no drafter (no config.json there)")
        return folder
    folder = model_folder / DRAFTER_FOLDER
    return folder if (folder / "config.json").is_file() else None


def load_drafter(path: str | Path, dtype: mx.Dtype | str | None = None) -> Drafter:
    """Load a drafter folder.

    Args:
        path: the drafter folder (the checkpoint writer puts it at `<checkpoint>/drafter`).
        dtype: cast floating weights to this dtype (an MLX dtype or its name); None keeps the stored dtype.

    Returns:
        The drafter with its weights evaluated.
    """
    folder = Path(path)
    raw = read_raw_config(folder)
    try:
        config = DrafterConfig.from_dict(raw)
    except (ConfigError, TypeError) as e:
        raise CheckpointError(f"{folder / 'config.json'}: {e}") from e
    model = Drafter(config)
    weights = model.sanitize(read_weights(folder))
    if dtype is not None:
        weights = cast_floats(weights, resolve_dtype(dtype))
    if raw.get("quantization"):
        apply_quantization(model, raw["quantization"], weights)
    check_weights(model, weights)
    model.load_weights(list(weights.items()), strict=True)
    mx.eval(model.parameters())
    return model


def check_pairing(drafter: Drafter, hidden_size: int, vocab_size: int, where: Path) -> None:
    """Raise CheckpointError when the drafter in `where` does not fit a target of this hidden and vocab size."""
    config = drafter.config
    if config.backbone_hidden_size != hidden_size:
        raise CheckpointError(
            f"the drafter in {where} was made for a model with hidden size "
            f"{config.backbone_hidden_size}; this model has {hidden_size}"
        )
    if config.text_config.vocab_size != vocab_size:
        raise CheckpointError(
            f"the drafter in {where} has a vocabulary of {config.text_config.vocab_size} tokens; "
            f"this model has {vocab_size}"
        )
