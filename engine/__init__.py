"""Tandem's engine: the MLX port of Gemma 4 unified and everything needed to run it, without Qt.

`engine.load_model(path_or_repo_id, dtype=None)` is the entry point; MLX is imported only when it is used.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CheckpointError", "Model", "load_model"]


def __getattr__(name: str) -> Any:
    if name in ("load_model", "CheckpointError"):
        from engine import loading

        return getattr(loading, name)
    if name == "Model":
        from engine.model import Model

        return Model
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
