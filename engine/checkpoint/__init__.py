"""Random-weight Gemma 4 unified checkpoints with the released file layout (`tandem make-checkpoint`).

`make_checkpoint(out, shape="tiny", *, seed=0, bits=None, group_size=64, with_drafter=False, mixed=None,
text_only=False, drafter_layout="hf") -> Path` writes config.json (as transformers 5.23.0 writes it, marked
`"tandem_random_weights": true`), generation_config.json, sharded safetensors in the released names (or
mlx-vlm's quantized layout with `bits`, mixed precision with `mixed`, without the vision and audio weights with
`text_only`), tokenizer files, chat_template.jinja, processor configs and, optionally, the MTP drafter in
`<out>/drafter/` (as released, or as mlx-vlm converts it). `SHAPES` names the shapes ("tiny", "small", "12b") and their numbers;
`parameter_count(shape)` counts a shape's parameters.
"""

from .shapes import SHAPES, Shape
from .tensors import parameter_count
from .writer import CheckpointWriteError, is_random_checkpoint, make_checkpoint

__all__ = [
    "SHAPES",
    "CheckpointWriteError",
    "Shape",
    "is_random_checkpoint",
    "make_checkpoint",
    "parameter_count",
]
