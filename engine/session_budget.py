"""The engine's memory budget for conversations: idle ones go to disk, least recently used first.

`SessionBudget(limit_bytes, folder)` watches the live sessions of the engine worker. After each command,
while their caches hold more than `limit_bytes`, the session used least recently (never the one that just
ran) has its caches written to `folder` and dropped from memory: everything else about it (messages,
marks, the tokens fed) stays, so it costs no more than its token list. The next command for that
session_id first reads the caches back (`ensure_loaded`), so the conversation goes on as if it had
never left: its caches hold exactly the same rows (and the pinned rows of its rollback point), so the
next turn, a regenerate or a rollback to its last turn cost what they cost before (a trim). Rolling back
further costs what it always does (the session feeds the tokens again). Both moves are reported with a
`SessionEvicted` / `SessionReloaded` event, for the status line.

The default limit (`default_limit`) is what the machine's memory leaves after the weights and a margin
for the rest of the app and the prefill's activations.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import OrderedDict
from pathlib import Path
from typing import Iterator

import mlx.core as mx

from engine import protocol as ev
from engine.decode.cache import CacheState, cache_from_state

GIB = 1 << 30
MIN_LIMIT = 512 << 20
GPU_SHARE = 0.7  # of unified memory the GPU can use by default (macOS wires about 2/3 to 3/4)
MARGIN = 2 * GIB  # the app, the prefill's activations, the OS


def machine_memory() -> int:
    """Physical memory in bytes (0 when unknown)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 0


def default_limit(weights_bytes: int, total_bytes: int | None = None) -> int:
    """Bytes of KV caches kept in memory: the GPU's share of memory less the weights and a margin."""
    total = machine_memory() if total_bytes is None else total_bytes
    return max(int(total * GPU_SHARE) - weights_bytes - MARGIN, MIN_LIMIT)


def cache_bytes(session) -> int:
    return sum(c.nbytes for c in session.cache)


class SessionBudget:
    """Least-recently-used eviction of session caches to disk (module docstring)."""

    def __init__(self, limit_bytes: int, folder: str | Path | None = None) -> None:
        self.limit = limit_bytes
        self.folder = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="tandem-kv-"))
        self.used: OrderedDict[str, None] = OrderedDict()  # session ids, least recent first
        self.evicted: dict[str, Path] = {}

    def path_of(self, session_id: str) -> Path:
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in session_id)
        return self.folder / f"{safe}-{abs(hash(session_id)) % 10**8}.safetensors"

    def forget(self, session_id: str) -> None:
        """A closed session: its file goes too."""
        self.used.pop(session_id, None)
        path = self.evicted.pop(session_id, None)
        if path is not None:
            path.unlink(missing_ok=True)

    def forget_all(self) -> None:
        for sid in list(self.used) + list(self.evicted):
            self.forget(sid)

    def ensure_loaded(self, session_id: str, sessions: dict) -> Iterator[ev.Event]:
        """Before a command: read the session's caches back if they were evicted."""
        if session_id in sessions:
            self.used[session_id] = None
            self.used.move_to_end(session_id)
        path = self.evicted.get(session_id)
        if path is None or session_id not in sessions:
            return
        started = time.perf_counter()
        sessions[session_id].cache = read_caches(path)
        del self.evicted[session_id]
        path.unlink(missing_ok=True)
        yield ev.SessionReloaded(seconds=time.perf_counter() - started,
                                 message="the conversation was read back from disk")

    def enforce(self, sessions: dict, keep: str | None) -> Iterator[ev.Event]:
        """After a command: evict the least recently used sessions (not `keep`) until within the limit."""
        live = {sid: cache_bytes(s) for sid, s in sessions.items() if sid not in self.evicted}
        total = sum(live.values())
        for sid in list(self.used):
            if total <= self.limit:
                return
            if sid == keep or sid not in live or live[sid] == 0:
                continue
            path = self.path_of(sid)
            self.folder.mkdir(parents=True, exist_ok=True)
            session = sessions[sid]
            write_caches(path, session.cache)
            session.cache = []  # the rows go; `ensure_loaded` brings them back
            self.evicted[sid] = path
            total -= live[sid]
            mx.clear_cache()
            yield ev.SessionEvicted(session_id=sid, bytes_freed=live[sid], path=str(path),
                                    message="an idle conversation was moved to disk to free memory")


def write_caches(path: Path, caches: list) -> None:
    """Every cache's rows, meta state, rollback point and pinned rows, in one safetensors file."""
    arrays, classes = {}, []
    for i, c in enumerate(caches):
        state = c.state
        for j, part in enumerate(state):
            arrays[f"{i}.{j}"] = part
        pinned = getattr(c, "pinned", None)
        if pinned is not None:
            arrays[f"{i}.pinned_keys"], arrays[f"{i}.pinned_values"] = pinned.keys, pinned.values
        extra = {"rollback_point": getattr(c, "rollback_point", None),
                 "pinned": None if pinned is None else pinned.offset, "parts": len(state)}
        classes.append([type(c).__name__, list(c.meta_state), extra])
    tmp = path.with_name(path.name + ".tmp.safetensors")
    mx.save_safetensors(str(tmp), arrays, {"caches": json.dumps(classes)})
    tmp.replace(path)


def read_caches(path: Path) -> list:
    arrays, metadata = mx.load(str(path), return_metadata=True)
    caches = []
    for i, (name, meta_state, extra) in enumerate(json.loads(metadata["caches"])):
        state = tuple(arrays[f"{i}.{j}"] for j in range(extra["parts"]))
        cache = cache_from_state(name, state, meta_state)
        if extra["rollback_point"] is not None:
            cache.set_rollback_point(extra["rollback_point"])
        if extra["pinned"] is not None:
            cache.pin(CacheState(extra["pinned"], arrays[f"{i}.pinned_keys"], arrays[f"{i}.pinned_values"]))
        caches.append(cache)
    return caches
