"""What the server reads from the engine worker besides events: cache sizes, the prompt's tools.

- `cache_bytes_of(worker, session_id)` sums `nbytes` of the session's KV caches (sizes only, no MLX
  work, so reading it from another thread is safe) and gives 0 when the session is gone. The engine's
  events do not carry it yet.
- `prompt_tools_of(worker)` gives the loaded model's (tokenizer, chat template), or None when no
  model is loaded. The server only encodes text with that tokenizer (thread-safe), never decodes
  with its streaming detokenizer, which the engine thread owns.
"""

from __future__ import annotations

from typing import Any


def cache_bytes_of(worker, session_id: str) -> int:
    session = getattr(worker, "sessions", {}).get(session_id)
    if session is None:
        return 0
    try:
        return int(sum(c.nbytes for c in session.cache))
    except Exception:  # noqa: BLE001 - a cache being replaced right now; measured next turn
        return 0


def prompt_tools_of(worker) -> tuple[Any, str] | None:
    loaded = getattr(worker, "loaded", None)
    if loaded is None:
        return None
    return loaded.tokenizer, loaded.template
