"""Loading checkpoints: the target model, its MTP drafter, and everything a session needs with them.

- `files`: where a checkpoint is (folder or Hugging Face repo id), its config.json and safetensors, checked.
- `quantization`: the "quantization" config entry (uniform or per module, as mlx-lm and mlx-vlm write it).
- `target`: `load_model`, text-only builds included (`Model.has_vision` / `has_audio`).
- `drafter`: `load_drafter`, in the released layout or mlx-vlm's.
- `loaded_model`: `load_everything` and the `LoadedModel` it returns.
"""

from .drafter import check_pairing, find_drafter, load_drafter
from .files import (
    HUB_PATTERNS,
    INDEX_FILE,
    CheckpointError,
    check_safetensors,
    load_safetensors,
    read_raw_config,
    read_weights,
    resolve_path,
    weight_files,
)
from .loaded_model import LoadedModel, load_everything
from .quantization import apply_quantization
from .target import default_dtype, load_model, read_config, resolve_dtype

__all__ = [
    "HUB_PATTERNS",
    "INDEX_FILE",
    "CheckpointError",
    "LoadedModel",
    "apply_quantization",
    "check_pairing",
    "check_safetensors",
    "default_dtype",
    "find_drafter",
    "load_drafter",
    "load_everything",
    "load_model",
    "load_safetensors",
    "read_config",
    "read_raw_config",
    "read_weights",
    "resolve_dtype",
    "resolve_path",
    "weight_files",
]
