"""Write a whole checkpoint folder atomically: config, weights (float or MLX-quantized), tokenizer, template, drafter.

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
from pathlib import Path

from . import safetensors_stream
from .config import drafter_config, generation_config, model_config, write_json
from .processor import write_processor
from .shapes import Shape, get_shape
from .tensors import TensorSpec, drafter_tensors, mlx_name, quantizable, target_shards
from .tokenizer import write_tokenizer
from .weights import float_entry, quantized_entries

CHAT_TEMPLATE = Path(__file__).resolve().parent.parent / "inputs" / "chat_template.jinja"


class CheckpointWriteError(Exception):
    """A checkpoint could not be written; the message says why, in the user's terms."""


def _write_shards(
    folder: Path,
    shards: list[list[TensorSpec]],
    *,
    seed: int,
    dtype: str,
    bits: int | None,
    group_size: int,
) -> None:
    n = len(shards)
    weight_map: dict[str, str] = {}
    total_bytes = 0
    total_params = 0
    fmt = "pt" if bits is None else "mlx"
    for k, specs in enumerate(shards, start=1):
        fname = f"model-{k:05d}-of-{n:05d}.safetensors"
        entries = []
        for spec in specs:
            if bits is None:
                entries.append(float_entry(spec, spec.name, seed, dtype))
            elif quantizable(spec, group_size):
                entries += quantized_entries(
                    spec, mlx_name(spec.name).removesuffix(".weight"), seed, bits, group_size, dtype
                )
            else:
                entries.append(float_entry(spec, mlx_name(spec.name), seed, dtype))
            total_params += spec.numel
        total_bytes += safetensors_stream.write(folder / fname, entries, {"format": fmt})
        weight_map.update({e.name: fname for e in entries})
    index = {
        "metadata": {"total_parameters": total_params, "total_size": total_bytes},
        "weight_map": dict(sorted(weight_map.items())),
    }
    write_json(folder / "model.safetensors.index.json", index)


def _write_drafter(folder: Path, shape: Shape, seed: int) -> None:
    folder.mkdir()
    write_json(folder / "config.json", drafter_config(shape))
    # One file, the drafter is small next to its target; always float, in the released names.
    entries = [
        float_entry(s, s.name, seed + 1_000_003, shape.dtype) for s in drafter_tensors(shape)
    ]
    safetensors_stream.write(folder / "model.safetensors", entries, {"format": "pt"})
    write_json(folder / "generation_config.json", generation_config(shape))


def _fill(
    folder: Path, shape: Shape, *, seed: int, bits: int | None, group_size: int, with_drafter: bool
) -> None:
    quant = None if bits is None else {"group_size": group_size, "bits": bits, "mode": "affine"}
    write_json(folder / "generation_config.json", generation_config(shape))
    write_tokenizer(folder, shape)
    if CHAT_TEMPLATE.is_file():
        shutil.copyfile(CHAT_TEMPLATE, folder / "chat_template.jinja")
    write_processor(folder, shape)
    _write_shards(
        folder, target_shards(shape), seed=seed, dtype=shape.dtype, bits=bits, group_size=group_size
    )
    if with_drafter:
        _write_drafter(folder / "drafter", shape, seed)
    # config.json last: even a partial folder left by a killed process does not look like a checkpoint.
    write_json(folder / "config.json", model_config(shape, quantization=quant))


def _check_args(shape: Shape, bits: int | None, group_size: int) -> None:
    if bits is not None and bits not in (4, 8):
        raise CheckpointWriteError(f"--bits must be 4 or 8, not {bits}")
    if group_size not in (32, 64, 128):
        raise CheckpointWriteError(f"group size must be 32, 64 or 128, not {group_size}")
    if bits is not None and shape.hidden_size % group_size:
        raise CheckpointWriteError(
            f"shape {shape.name!r}: hidden size {shape.hidden_size} does not split into "
            f"groups of {group_size}"
        )


def make_checkpoint(
    out: Path | str,
    shape: str | Shape = "tiny",
    *,
    seed: int = 0,
    bits: int | None = None,
    group_size: int = 64,
    with_drafter: bool = False,
) -> Path:
    """Write a random-weight checkpoint of `shape` to `out` (absent, or an empty folder).

    `shape` is a name from `SHAPES` or a `Shape` (tests vary one). Returns the folder. Raises
    `CheckpointWriteError` (bad arguments, unwritable target, full disk), leaving nothing at `out`.
    """
    try:
        sh = shape if isinstance(shape, Shape) else get_shape(shape)
    except ValueError as e:
        raise CheckpointWriteError(str(e)) from None
    _check_args(sh, bits, group_size)
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
        _fill(tmp, sh, seed=seed, bits=bits, group_size=group_size, with_drafter=with_drafter)
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
