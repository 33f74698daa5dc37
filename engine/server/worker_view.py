"""What the server reads from the engine worker besides events: a kept session's cache size.

`cache_bytes_of(worker, session_id)` sums `nbytes` of the session's KV caches (sizes only, no MLX
work, so reading it from another thread is safe) and gives 0 when the session is gone. The engine's
events do not carry it yet.
"""

from __future__ import annotations


def cache_bytes_of(worker, session_id: str) -> int:
    session = getattr(worker, "sessions", {}).get(session_id)
    if session is None:
        return 0
    try:
        return int(sum(c.nbytes for c in session.cache))
    except Exception:  # noqa: BLE001 - a cache being replaced right now; measured next turn
        return 0
