"""Where undo keeps its copies: content-addressed file copies, the undo points, the scan index.

One store per workspace, under the app's data folder (`data_dir/undo/<hash of the workspace's real
path>`), never inside the workspace:

    objects/ab/cdef...   one file per distinct content, named by its SHA-256 (written once, then
                         only read; a half-written copy never gets its final name)
    points.json          the undo points, oldest first (id, label, time, the first paths changed)
    changes/<id>.json    each point's changes: path -> [before, after]
    index.json           the last status and digest seen per workspace path, so that a scan hashes
                         only what changed since (like git's index, but ours)

Nothing in the store is ever executed or interpreted beyond JSON. Writers hold `lock()`: an
in-process lock shared by every store object of the same folder plus an `flock` on `lock` for
other processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_locks: dict[Path, threading.RLock] = {}
_locks_guard = threading.Lock()


def _lock_for(folder: Path) -> threading.RLock:
    with _locks_guard:
        return _locks.setdefault(folder, threading.RLock())


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class UndoStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.objects = folder / "objects"
        self.objects.mkdir(parents=True, exist_ok=True)
        self._thread_lock = _lock_for(folder)
        self._depth = 0
        self._lock_fd: int | None = None
        self._size: int | None = None  # bytes of copies, counted once, then kept up to date

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        with self._thread_lock:
            if self._depth == 0:
                self._lock_fd = os.open(self.folder / "lock", os.O_RDWR | os.O_CREAT, 0o600)
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._lock_fd is not None:
                    os.close(self._lock_fd)  # closing releases the flock
                    self._lock_fd = None

    # ------------------------------------------------------------ copies

    def _path(self, digest: str) -> Path:
        return self.objects / digest[:2] / digest[2:]

    def has(self, digest: str) -> bool:
        return self._path(digest).is_file()

    def put(self, data: bytes) -> str:
        """Keep a copy of `data`; returns its digest."""
        digest = digest_of(data)
        path = self._path(digest)
        if not path.is_file():
            path.parent.mkdir(exist_ok=True)
            tmp = path.with_name(f".tmp-{secrets.token_hex(6)}")
            tmp.write_bytes(data)
            os.replace(tmp, path)
            if self._size is not None:
                self._size += len(data)
        return digest

    def get(self, digest: str) -> bytes:
        """The copy's bytes; raises FileNotFoundError when it is gone, ValueError when damaged."""
        data = self._path(digest).read_bytes()
        if digest_of(data) != digest:
            raise ValueError(f"the kept copy {digest[:12]} is damaged")
        return data

    def size(self) -> int:
        """Bytes used by the copies."""
        if self._size is None:
            total = 0
            for sub in self.objects.iterdir():
                if sub.is_dir():
                    total += sum(f.stat().st_size for f in sub.iterdir())
            self._size = total
        return self._size

    def prune(self, keep: set[str], min_age_s: float = 3600) -> int:
        """Delete the copies whose digest is not in `keep`; returns how many were deleted.

        Copies younger than `min_age_s` stay: a scan in progress elsewhere may need them.
        """
        removed = 0
        cutoff = time.time() - min_age_s
        for sub in self.objects.iterdir():
            if not sub.is_dir():
                continue
            for f in sub.iterdir():
                if sub.name + f.name not in keep and f.stat().st_mtime < cutoff:
                    f.unlink(missing_ok=True)
                    removed += 1
        self._size = None
        return removed

    # ------------------------------------------------------------ JSON records

    def load(self, name: str, default: Any) -> Any:
        try:
            return json.loads((self.folder / name).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return default
        except (ValueError, UnicodeDecodeError):
            # A damaged record (a crash mid-write cannot cause one: writes are atomic) is set aside.
            (self.folder / name).replace(self.folder / f"{name}.damaged")  # kept to look at
            return default

    def save(self, name: str, value: Any) -> None:
        """Write a record atomically; `name` may have one folder ("changes/x.json")."""
        path = self.folder / name
        path.parent.mkdir(exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
        tmp.write_text(json.dumps(value, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, path)
