"""Everything a session needs from a checkpoint, loaded at once: model, tokenizer, template, generation config
and, when there is one, the MTP drafter.

`load_everything(path_or_repo, drafter_path=None, dtype=None)` loads the drafter from `drafter_path`, or else
from `<checkpoint>/drafter` when that folder exists; target and drafter are computed in the same dtype (a name
such as "bfloat16", an MLX dtype, or None for the device's default).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import mlx.core as mx

from .drafter import check_pairing, find_drafter, load_drafter
from .files import resolve_path
from .target import load_model, resolve_dtype


@dataclass
class LoadedModel:
    model: object
    tokenizer: object
    template: str
    gen_config: object
    path: Path
    name: str
    random_weights: bool
    drafter: object | None = None

    @property
    def has_vision(self) -> bool:
        return bool(self.model.has_vision)

    @property
    def has_audio(self) -> bool:
        return bool(self.model.has_audio)


def load_everything(
    path_or_repo: str, drafter_path: str | None = None, dtype: mx.Dtype | str | None = None
) -> LoadedModel:
    """Model, tokenizer, chat template, generation config and (if present) the MTP drafter."""
    from engine.decode.generation import GenerationConfig
    from engine.inputs.prompt import load_tokenizer
    from engine.inputs.template import load_template

    dtype = resolve_dtype(dtype)
    folder = resolve_path(path_or_repo)
    model = load_model(folder, dtype=dtype)
    config = json.loads((folder / "config.json").read_text())
    drafter = None
    drafter_folder = find_drafter(folder, drafter_path)
    if drafter_folder is not None:
        drafter = load_drafter(drafter_folder, dtype=dtype)
        text = model.config.text_config
        check_pairing(drafter, text.hidden_size, text.vocab_size, drafter_folder)
    return LoadedModel(
        model=model,
        tokenizer=load_tokenizer(folder),
        template=load_template(folder),
        gen_config=GenerationConfig.from_checkpoint(folder),
        path=folder,
        name=config.get("tandem_display_name") or folder.name,
        random_weights=bool(config.get("tandem_random_weights", False)),
        drafter=drafter,
    )
