"""Write a whole checkpoint folder atomically: config, weights (float or MLX-quantized), tokenizer, template, drafter.

The layouts the engine meets in the wild: the released one (float, HF names), mlx-vlm's quantized one (uniform,
or mixed precision with per-module entries in config.json), a text-only one without the vision and audio weights,
and the drafter as released or as mlx-vlm converts it.

Everything goes into a hidden temporary folder beside the target, which is renamed into place
only once complete; on any error the temporary folder is removed, so a half-written checkpoint
never looks like one. `CheckpointWriteError` carries a message meant for the user.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import safetensors_stream
from .config import drafter_config, generation_config, model_config, write_json
from .processor import write_processor
from .recipes import RECIPES, config_entries, module_bits
from .shapes import Shape, get_shape
from .tensors import drafter_tensors, is_media, mlx_name, quantizable, target_shards
from .tokenizer import write_tokenizer
from .weights import float_entry, quantized_entries

CHAT_TEMPLATE = Path(__file__).resolve().parent.parent / "inputs" / "chat_template.jinja"


class CheckpointWriteError(Exception):
    """A checkpoint could not be written; the message says why, in the user's terms."""


@dataclass(frozen=True)
class Layout:
    """What `make_checkpoint` writes beyond the shape: float or quantized, mixed bits, media, drafter layout."""

    bits: int | None = None
    group_size: int = 64
    mixed: str | None = None  # a recipe of engine.checkpoint.recipes
    text_only: bool = False  # without the vision embedder and the image / audio projections
    drafter_layout: str = "hf"  # "hf" (as released) or "mlx-vlm" (as mlx-vlm's converter writes it)

    def bits_for(self, module: str, num_layers: int) -> int:
        if self.mixed is None:
            return self.bits or 0
        return module_bits(self.mixed, module, num_layers)


def _write_shards(folder: Path, shape: Shape, layout: Layout, seed: int) -> list[str]:
    """Write the target's shards and index; return the quantized modules (mlx-vlm names)."""
    shards = [
        [spec for spec in group if not (layout.text_only and is_media(spec))]
        for group in target_shards(shape)
    ]
    n = len(shards)
    weight_map: dict[str, str] = {}
    quantized: list[str] = []
    total_bytes = 0
    total_params = 0
    fmt = "pt" if layout.bits is None else "mlx"
    for k, specs in enumerate(shards, start=1):
        fname = f"model-{k:05d}-of-{n:05d}.safetensors"
        entries = []
        for spec in specs:
            if layout.bits is None:
                entries.append(float_entry(spec, spec.name, seed, shape.dtype))
            elif quantizable(spec, layout.group_size):
                module = mlx_name(spec.name).removesuffix(".weight")
                bits = layout.bits_for(module, shape.num_hidden_layers)
                entries += quantized_entries(spec, module, seed, bits, layout.group_size, shape.dtype)
                quantized.append(module)
            else:
                entries.append(float_entry(spec, mlx_name(spec.name), seed, shape.dtype))
            total_params += spec.numel
        total_bytes += safetensors_stream.write(folder / fname, entries, {"format": fmt})
        weight_map.update({e.name: fname for e in entries})
    index = {
        "metadata": {"total_parameters": total_params, "total_size": total_bytes},
        "weight_map": dict(sorted(weight_map.items())),
    }
    write_json(folder / "model.safetensors.index.json", index)
    return quantized


def _write_drafter(folder: Path, shape: Shape, seed: int, layout: str) -> None:
    """The drafter in the released layout, or as mlx-vlm's converter writes it (same tensor names, an index,
    "mlx" format, and a config carrying the two text_config keys mlx-vlm's loader needs to build it)."""
    folder.mkdir()
    config = drafter_config(shape)
    # One file, the drafter is small next to its target; always float, in the released names.
    entries = [
        float_entry(s, s.name, seed + 1_000_003, shape.dtype) for s in drafter_tensors(shape)
    ]
    if layout == "hf":
        write_json(folder / "config.json", config)
        safetensors_stream.write(folder / "model.safetensors", entries, {"format": "pt"})
    else:
        config["text_config"].update(
            global_head_dim=shape.global_head_dim, hidden_size_per_layer_input=0
        )
        config.pop("dtype", None)
        size = safetensors_stream.write(folder / "model.safetensors", entries, {"format": "mlx"})
        index = {"metadata": {"total_size": size},
                 "weight_map": {e.name: "model.safetensors" for e in sorted(entries, key=_name)}}
        (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=4))
        (folder / "config.json").write_text(json.dumps(dict(sorted(config.items())), indent=4))
    write_json(folder / "generation_config.json", generation_config(shape))


def _name(entry) -> str:
    return entry.name


def _fill(folder: Path, shape: Shape, layout: Layout, *, seed: int, with_drafter: bool) -> None:
    write_json(folder / "generation_config.json", generation_config(shape))
    write_tokenizer(folder, shape)
    if CHAT_TEMPLATE.is_file():
        shutil.copyfile(CHAT_TEMPLATE, folder / "chat_template.jinja")
    write_processor(folder, shape)
    quantized = _write_shards(folder, shape, layout, seed)
    if with_drafter:
        _write_drafter(folder / "drafter", shape, seed, layout.drafter_layout)
    quant = None
    if layout.bits is not None:
        quant = {"group_size": layout.group_size, "bits": layout.bits, "mode": "affine"}
        if layout.mixed:
            quant.update(config_entries(layout.mixed, quantized, shape.num_hidden_layers,
                                        layout.group_size))
    # config.json last: even a partial folder left by a killed process does not look like a checkpoint.
    write_json(folder / "config.json", model_config(shape, quantization=quant))


def _check_args(shape: Shape, layout: Layout) -> None:
    bits, group_size = layout.bits, layout.group_size
    if bits is not None and bits not in (4, 8):
        raise CheckpointWriteError(f"--bits must be 4 or 8, not {bits}")
    if group_size not in (32, 64, 128):
        raise CheckpointWriteError(f"group size must be 32, 64 or 128, not {group_size}")
    if bits is not None and shape.hidden_size % group_size:
        raise CheckpointWriteError(
            f"shape {shape.name!r}: hidden size {shape.hidden_size} does not split into "
            f"groups of {group_size}"
        )
    if layout.mixed is not None:
        if layout.mixed not in RECIPES:
            raise CheckpointWriteError(
                f"unknown mixed-precision recipe {layout.mixed!r}; choose one of: {', '.join(RECIPES)}"
            )
        if bits != 4:
            raise CheckpointWriteError("a mixed-precision recipe mixes 4 and 8 bits: give --bits 4")
    if layout.drafter_layout not in ("hf", "mlx-vlm"):
        raise CheckpointWriteError(
            f"drafter layout must be hf or mlx-vlm, not {layout.drafter_layout!r}"
        )


def make_checkpoint(
    out: Path | str,
    shape: str | Shape = "tiny",
    *,
    seed: int = 0,
    bits: int | None = None,
    group_size: int = 64,
    with_drafter: bool = False,
    mixed: str | None = None,
    text_only: bool = False,
    drafter_layout: str = "hf",
) -> Path:
    """Write a random-weight checkpoint of `shape` to `out` (absent, or an empty folder).

    `shape` is a name from `SHAPES` or a `Shape` (tests vary one). `bits` writes mlx-vlm's quantized layout,
    `mixed` a mixed-precision recipe of it (`engine.checkpoint.recipes`, with bits=4); `text_only` leaves out
    the vision and audio weights (config.json still describes them, as mlx-lm's conversions do);
    `drafter_layout` is "hf" or "mlx-vlm". Returns the folder. Raises `CheckpointWriteError` (bad arguments,
    unwritable target, full disk), leaving nothing at `out`.
    """
    try:
        sh = shape if isinstance(shape, Shape) else get_shape(shape)
    except ValueError as e:
        raise CheckpointWriteError(str(e)) from None
    layout = Layout(bits=bits, group_size=group_size, mixed=mixed, text_only=text_only,
                    drafter_layout=drafter_layout)
    _check_args(sh, layout)
    out = Path(out).expanduser().absolute()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CheckpointWriteError(
            f"{out} already exists and is not an empty folder; choose another --out"
        )
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=parent))
        tmp.chmod(0o755)  # mkdtemp makes it private; the finished folder should read like any other
    except OSError as e:
        raise CheckpointWriteError(f"cannot write to {parent}: {e.strerror or e}") from None
    try:
        _fill(tmp, sh, layout, seed=seed, with_drafter=with_drafter)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if e.errno == errno.ENOSPC:
            raise CheckpointWriteError(
                f"no space left on the disk while writing {out}; nothing was kept"
            ) from None
        raise CheckpointWriteError(f"cannot write {out}: {e.strerror or e}; nothing was kept") from None
    except Exception as e:
        # The tokenizers library reports I/O failures as a plain Exception ("... (os error 28)").
        shutil.rmtree(tmp, ignore_errors=True)
        if "os error 28" in str(e):
            raise CheckpointWriteError(
                f"no space left on the disk while writing {out}; nothing was kept"
            ) from e
        raise CheckpointWriteError(f"writing {out} failed: {e}; nothing was kept") from e
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def is_random_checkpoint(folder: Path | str) -> bool:
    """True if `folder`'s config.json marks its weights as random (what the app labels)."""
    try:
        cfg = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(cfg.get("tandem_random_weights"))
