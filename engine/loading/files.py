"""The files of a checkpoint folder: where it is, its config.json, its safetensors shards, checked as read.

A folder is used as it is; a Hugging Face repo id ("owner/name") is resolved through huggingface_hub's cache
(downloading what is missing). Every problem with the files (no config.json, invalid JSON, a missing shard, a
truncated file) raises `CheckpointError` with the file named.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import mlx.core as mx

INDEX_FILE = "model.safetensors.index.json"
# What a repo download needs: config, weights, tokenizer, template, processor files.
HUB_PATTERNS = ["*.json", "*.safetensors", "*.jinja", "*.model", "*.txt"]


class CheckpointError(Exception):
    """A checkpoint folder or file cannot be loaded; the message names the file or tensor at fault."""


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

    from engine.download import describe_download_error

    try:
        return Path(snapshot_download(repo_id, allow_patterns=HUB_PATTERNS))
    except Exception as e:
        raise CheckpointError(
            f"{repo_id} could not be fetched. {describe_download_error(e, repo_id)}"
        ) from e


def read_raw_config(folder: Path) -> dict[str, Any]:
    """The dict in `folder/config.json`."""
    path = folder / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{folder} has no config.json")
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(raw, dict):
        raise CheckpointError(f"{path} does not hold a JSON object")
    return raw


def weight_files(folder: Path) -> list[Path]:
    """The safetensors files of a checkpoint, from its index when there is one."""
    index = folder / INDEX_FILE
    if index.is_file():
        try:
            names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
            raise CheckpointError(f"{index} is not a valid index ({e})") from e
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


def read_weights(folder: Path) -> dict[str, mx.array]:
    """Every tensor of the checkpoint in `folder` (lazily loaded by MLX), under its stored name."""
    weights: dict[str, mx.array] = {}
    for f in weight_files(folder):
        weights.update(load_safetensors(f))
    return weights
