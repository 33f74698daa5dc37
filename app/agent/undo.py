"""Undo for agent runs: exactly what the agent changed, step by step, and how to take it back.

Nothing here runs git or any other program, and nothing in the workspace is interpreted: undo
copies bytes, permission bits, folders and links, nothing else.

What is recorded (the changes of the current step, until `mark()` closes them into an undo point):
- every file the agent writes with `write_file` (before and after images, whatever the file's size
  or `.gitignore` status, plus the folders the write made);
- around every command (`watching()`), a scan of the workspace before and after it (see
  `app.agent.walk`: `.gitignore` honoured with the rules in force before the command, `.git` folders
  skipped). A file whose status (size, times, inode, mode) is unchanged since the last scan is not
  read again; the others are hashed and a copy is kept (`app.agent.undo_store`). What the command
  created, changed or deleted becomes part of the step: files, empty folders, links, modes.

What undo does (`undo_last()`, or `restore(id)` for any earlier point, later points first): for
each path a step changed, if it is still as the step left it, it is put back as it was before the
step; if it is already as before, nothing happens; otherwise the person changed it since, and it is
left alone and listed in `Undone.kept`. Nothing else is touched: files the agent never changed,
ignored files it did not write, the person's own later work. Folders the agent made are removed
only when empty (a folder still holding someone else's files is kept and listed). An undo that
fails part-way puts back what it had already changed, so the files are as before it started.

Not covered (listed in `Undone.not_restored` when undo needed them): files larger than
`max_file_bytes` or beyond `max_store_bytes` of kept copies (a command that changes one cannot have
that change taken back), changes a command makes inside `.git` folders or in ignored files,
creations and deletions past `walk.MAX_ENTRIES` entries, FIFOs, sockets and devices.

Every `UndoPoints` of the same workspace shares one store; changes being recorded (not yet marked)
belong to the object that recorded them. Restoring while a run is still changing files gives a
state that mixes both; the view offers undo once the run has finished or been stopped.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.agent import workspace_io as wio
from app.agent.undo_store import UndoStore, digest_of
from app.agent.walk import Entry, IgnoreRules, Walk, walk
from app.agent.workspace import PathEscapeError

MAX_FILE_BYTES = 256 * 1024 * 1024  # larger files are not copied by command scans
MAX_STORE_BYTES = 4 * 1024**3  # copies kept per workspace
MAX_POINTS = 200  # older undo points are dropped with their copies
MAX_LISTED = 100  # paths named in a result or event
RACY_NS = 2_000_000_000  # a file changed this recently is hashed again at the next scan

Version = dict[str, Any] | None  # what a path held: see `_version`


class UndoError(RuntimeError):
    """Undo could not be done, or there is nothing to go back to; the files are unchanged."""


class ChangedMeanwhileError(UndoError):
    """The file is no longer what the agent saw when it planned the write."""


@dataclass(frozen=True)
class UndoPoint:
    id: str
    label: str
    timestamp: int  # seconds since the epoch
    changed: tuple[str, ...] = ()  # the paths this point's step changed (first MAX_LISTED)


@dataclass(frozen=True)
class Undone:
    """What an undo did. `id`, `label` and `timestamp` are the point the files went back to."""

    point: UndoPoint
    restored: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # changed by the person since: left alone
    not_restored: list[str] = field(default_factory=list)  # no copy was kept

    @property
    def id(self) -> str:
        return self.point.id

    @property
    def label(self) -> str:
        return self.point.label

    @property
    def timestamp(self) -> int:
        return self.point.timestamp

    @property
    def kept_note(self) -> str:
        """The sentence for the person about their later edits, "" when there were none."""
        if not self.kept:
            return ""
        return "Left your later edits alone: " + _names(self.kept) + "."

    @property
    def not_restored_note(self) -> str:
        if not self.not_restored:
            return ""
        return "Could not put back (no copy was kept): " + _names(self.not_restored) + "."


def _names(paths: list[str]) -> str:
    shown = ", ".join(paths[:10])
    return shown + (f" and {len(paths) - 10} more" if len(paths) > 10 else "")


class UndoPoints:
    """The undo points of one workspace."""

    def __init__(
        self,
        workspace: str | os.PathLike[str],
        data_dir: str | os.PathLike[str],
        max_file_bytes: int = MAX_FILE_BYTES,
        max_store_bytes: int = MAX_STORE_BYTES,
    ) -> None:
        """Args:
        workspace: the folder the agent works in.
        data_dir: the app's data folder; the store goes in `data_dir/undo/<hash>`.
        """
        self.root = Path(os.path.realpath(workspace))
        if not self.root.is_dir():
            raise UndoError(f"the workspace folder does not exist: {workspace}")
        key = hashlib.sha256(str(self.root).encode()).hexdigest()[:16]
        folder = Path(os.path.realpath(data_dir)) / "undo" / key
        if folder.is_relative_to(self.root):
            raise UndoError("the undo store must be outside the workspace")
        self.store = UndoStore(folder)
        (folder / "workspace.txt").write_text(str(self.root) + "\n", encoding="utf-8")
        self.max_file_bytes, self.max_store_bytes = max_file_bytes, max_store_bytes
        self._pending: dict[str, list[Version]] = {}
        self._index_cache: tuple[int, dict[str, tuple[Entry, str | None]]] | None = None
        self._index_dirty = False
        self.notes: list[str] = []  # what the recording could not cover, for the person

    # ------------------------------------------------------------ recording

    def write_file(self, rel: str, data: bytes, expected: bytes | None) -> wio.WriteResult:
        """Write `data` as the file `rel` (see `workspace_io.write_file`) and record the change.

        Args:
            expected: what the file must hold now (None: it must not exist), as when it was planned.
        Raises:
            ChangedMeanwhileError: it holds something else now.
            PathEscapeError / NotRegularFileError: from `workspace_io`.
        """
        with self.store.lock():
            index = self._index()
            try:
                old, st = wio.read_file(self.root, rel)
            except FileNotFoundError:
                old, st = None, None
            if old != expected:
                raise ChangedMeanwhileError(f"{rel} changed since the agent read it")
            before = None if st is None else self._file_version(Entry.of(st), self.store.put(old))
            digest = self.store.put(data)  # both copies are kept before anything changes
            result = wio.write_file(self.root, rel, data)
            after_stat = wio.lstat(self.root, rel)
            for folder in result.created_dirs:
                made = wio.lstat(self.root, folder)
                if made is not None:
                    self._add(folder, None, {"kind": "dir", "mode": Entry.of(made).mode})
            if after_stat is not None:
                entry = Entry.of(after_stat)
                index[rel] = (self._trusted(entry), digest)
                self._add(rel, before, self._file_version(entry, digest))
            self._index_dirty = True  # saved with the next scan or point
            return result

    @contextlib.contextmanager
    def watching(self) -> Iterator[None]:
        """Record what the body (a command) changes anywhere in the workspace."""
        with self.store.lock():
            before = self._scan(None, save=False)
        try:
            yield
        finally:
            with self.store.lock():
                after = self._scan(before[0].rules)
                self._add_scan_changes(before, after)

    def mark(self, label: str) -> UndoPoint | None:
        """Close the changes recorded since the last point into a new undo point.

        Returns None when nothing changed, unless there is no point at all yet (the first point of a
        workspace is made even when empty: it is what "go back to before the task" goes to).
        """
        with self.store.lock():
            points = self._points()
            if not self._pending and points:
                return None
            if self._index_dirty:
                self._save_index(self._index())
            changes, self._pending = self._pending, {}
            record = {
                "id": secrets.token_hex(20),
                "label": label,
                "timestamp": int(time.time()),
                "changed": sorted(changes)[:MAX_LISTED],
            }
            self.store.save(f"changes/{record['id']}.json", changes)
            points.append(record)
            for old in points[: max(0, len(points) - MAX_POINTS)]:
                (self.store.folder / "changes" / f"{old['id']}.json").unlink(missing_ok=True)
            del points[: max(0, len(points) - MAX_POINTS)]
            self.store.save("points.json", points)
            return _point(record)

    snapshot = mark  # the earlier name

    def pending(self) -> list[str]:
        """Paths changed since the last point, not marked yet."""
        return sorted(self._pending)

    # ------------------------------------------------------------ going back

    def list(self) -> list[UndoPoint]:
        """All undo points, newest first."""
        with self.store.lock():
            return [_point(r) for r in reversed(self._points())]

    def undo_last(self) -> Undone:
        """Take back the newest point's step: the files go back to the point before it."""
        history = self.list()
        if len(history) < 2:
            raise UndoError("nothing to undo: there is no earlier undo point")
        return self.restore(history[1].id)

    def restore(self, point_id: str) -> Undone:
        """Take back every step after `point_id` (newest first); those points are dropped."""
        with self.store.lock():
            if self._pending:
                self.mark("Changes not yet saved")
            points = self._points()
            ids = [p["id"] for p in points]
            if point_id not in ids:
                raise UndoError(f"unknown undo point: {point_id}")
            keep = ids.index(point_id) + 1
            undone = self._take_back(points[keep:], _point(points[keep - 1]))
            self.store.save("points.json", points[:keep])
            for dropped in points[keep:]:
                (self.store.folder / "changes" / f"{dropped['id']}.json").unlink(missing_ok=True)
            self._prune(points[:keep])
            return undone

    # ------------------------------------------------------------ internals: scans

    def _index(self) -> dict[str, tuple[Entry, str | None]]:
        """The scan index: kept in memory, read again when another object of the store saved it."""
        path = self.store.folder / "index.json"
        stamp = path.stat().st_mtime_ns if path.exists() else 0
        if self._index_cache is None or self._index_cache[0] != stamp:
            raw = self.store.load("index.json", {})
            index = {rel: (Entry(*rec[:8]), rec[8]) for rel, rec in raw.items()}
            self._index_cache = (stamp, index)
        return self._index_cache[1]

    def _save_index(self, index: dict[str, tuple[Entry, str | None]]) -> None:
        self.store.save(
            "index.json",
            {rel: [*e.__dict__.values(), digest] for rel, (e, digest) in index.items()},
        )
        self._index_cache = (os.stat(self.store.folder / "index.json").st_mtime_ns, index)
        self._index_dirty = False

    def _trusted(self, entry: Entry) -> Entry:
        """The entry to keep in the index: one changed just now is marked to be hashed again."""
        if time.time_ns() - max(entry.mtime_ns, entry.ctime_ns) < RACY_NS:
            return Entry(**{**entry.__dict__, "ctime_ns": -1})
        return entry

    def _scan(
        self, rules: IgnoreRules | None, save: bool = True
    ) -> tuple[Walk, dict[str, tuple[Entry, Any]]]:
        """Walk the workspace; every file's digest, copied into the store when new.

        The index is trusted: a copy it names is kept until the index forgets it (see `_prune`).
        """
        index = self._index()
        seen = walk(self.root, rules=rules)
        records: dict[str, tuple[Entry, Any]] = {}
        room = self.max_store_bytes - self.store.size()
        for rel, entry in seen.entries.items():
            digest = None
            if entry.kind == "file":
                cached = index.get(rel)
                if cached and cached[0].same_version(entry) and cached[1]:
                    digest = cached[1]
                elif entry.size <= min(self.max_file_bytes, room):
                    try:
                        data, st = wio.read_file(self.root, rel, self.max_file_bytes)
                    except (OSError, ValueError):
                        pass  # gone, replaced or grown meanwhile: the next scan sees it again
                    else:
                        entry = Entry.of(st)
                        if not self.store.has(digest_of(data)):
                            room -= len(data)
                        digest = self.store.put(data)
                if digest is None and entry.size > min(self.max_file_bytes, room):
                    self._note(f"{rel} is too large to keep a copy of for undo")
                index[rel] = (self._trusted(entry), digest)
            records[rel] = (entry, digest)
        if seen.complete:
            for rel in [r for r in index if r not in records]:
                del index[rel]
        else:
            self._note(
                "the workspace has too many files to follow completely: files a command creates "
                "or deletes far down in it may not be undone"
            )
        if save:
            self._save_index(index)
        return seen, records

    def _add_scan_changes(self, before, after) -> None:
        (walk_before, old), (walk_after, new) = before, after
        both_complete = walk_before.complete and walk_after.complete
        for rel in sorted(old.keys() | new.keys()):
            b, a = old.get(rel), new.get(rel)
            if (b is None or a is None) and not both_complete:
                continue
            if b is not None and a is not None and b[0].same_version(a[0]):
                continue
            self._add(rel, _version(b), _version(a))

    def _add(self, rel: str, before: Version, after: Version) -> None:
        if rel in self._pending:
            before = self._pending[rel][0]
        if _matches(before, after):
            self._pending.pop(rel, None)
        else:
            self._pending[rel] = [before, after]

    def _file_version(self, entry: Entry, digest: str | None) -> Version:
        return _version((entry, digest))

    def _note(self, text: str) -> None:
        if text not in self.notes and len(self.notes) < MAX_LISTED:
            self.notes.append(text)

    def _points(self) -> list[dict]:
        """The points, oldest first, without their changes (`_changes` reads those)."""
        return self.store.load("points.json", [])

    def _changes(self, point: dict) -> dict[str, list[Version]]:
        changes = self.store.load(f"changes/{point['id']}.json", None)
        if changes is None:
            raise UndoError(f"the record of “{point['label']}” is missing or damaged")
        return changes

    def _prune(self, points: list[dict]) -> None:
        keep = {d for _, d in self._index().values() if d}
        try:
            for p in points:
                for pair in self._changes(p).values():
                    keep.update(v["digest"] for v in pair if v and v.get("digest"))
        except UndoError:
            return  # a record cannot be read: keep every copy rather than guess
        self.store.prune(keep)

    # ------------------------------------------------------------ internals: taking back

    def _current(self, rel: str) -> Version:
        """What `rel` holds now (a file is hashed unless the index knows its status)."""
        st = wio.lstat(self.root, rel)
        if st is None:
            return None
        is_link = wio.kind_of(st.st_mode) == "link"
        entry = Entry.of(st, wio.read_link(self.root, rel) if is_link else "")
        digest = None
        if entry.kind == "file":
            cached = self._index().get(rel)
            if cached and cached[0].same_version(entry) and cached[1] and self.store.has(cached[1]):
                digest = cached[1]
            else:
                try:
                    data, _ = wio.read_file(self.root, rel, self.max_file_bytes)
                    digest = self.store.put(data)
                except (OSError, ValueError):
                    digest = None
        return _version((entry, digest))

    def _take_back(self, points: list[dict], target: UndoPoint) -> Undone:
        initial: dict[str, Version] = {}
        state: dict[str, Version] = {}
        kept: set[str] = set()
        for point in reversed(points):
            for rel, (before, after) in self._changes(point).items():
                if rel not in state:
                    initial[rel] = state[rel] = self._current(rel)
                if _matches(state[rel], after):
                    state[rel] = before
                    kept.discard(rel)
                elif not _matches(state[rel], before):
                    kept.add(rel)
        goals = {rel: v for rel, v in state.items() if not _matches(initial[rel], v)}
        missing = sorted(rel for rel, v in goals.items() if not self._can_make(v))
        for rel in missing:
            del goals[rel]
        applied: list[tuple[str, Version, Version]] = []
        try:
            self._apply(goals, initial, kept, applied)
        except Exception as exc:
            for rel, was, now in reversed(applied):
                with contextlib.suppress(Exception):
                    self._put(rel, now, was)
            raise UndoError(
                f"undo could not finish, so nothing was changed: {_reason(exc)}"
            ) from exc
        done = [rel for rel, _, _ in applied]
        return Undone(target, sorted(set(done)), sorted(kept), missing)

    def _can_make(self, version: Version) -> bool:
        if version is None or version["kind"] in ("dir", "link"):
            return True
        return version["kind"] == "file" and bool(version.get("digest")) and self.store.has(
            version["digest"]
        )

    def _apply(self, goals, initial, kept: set[str], applied: list) -> None:
        """Clear what must go (deepest first), then make what must be (shallowest first)."""
        depth = lambda rel: rel.count("/")  # noqa: E731
        blocked: set[str] = set()
        for rel in sorted(goals, key=depth, reverse=True):
            now, goal = initial[rel], goals[rel]
            if now is None or (goal is not None and goal["kind"] == now["kind"] != "link"):
                continue
            if now["kind"] == "dir":
                if not wio.remove_dir(self.root, rel):
                    kept.add(rel)  # it holds files the agent did not make
                    blocked.add(rel)
                    continue
            else:
                wio.remove(self.root, rel)  # a FIFO or socket is unlinked, never opened
            applied.append((rel, now, None))
        for rel in sorted(goals, key=depth):
            goal = goals[rel]
            if goal is None or rel in blocked:
                continue
            was = initial[rel]
            if was is not None and (was["kind"] != goal["kind"] or was["kind"] == "link"):
                was = None  # cleared above
            self._put(rel, was, goal)
            applied.append((rel, was, goal))

    def _put(self, rel: str, now: Version, goal: Version) -> None:
        """Turn `rel` from `now` into `goal`."""
        if goal is None:
            if now is not None and now["kind"] == "dir":
                wio.remove_dir(self.root, rel)
            elif now is not None:
                wio.remove(self.root, rel)
        elif goal["kind"] == "dir":
            wio.make_dir(self.root, rel, goal["mode"])
        elif goal["kind"] == "link":
            if now is not None:
                wio.remove(self.root, rel)
            wio.make_link(self.root, rel, goal["target"])
        elif goal["kind"] == "file":
            wio.write_file(self.root, rel, self.store.get(goal["digest"]), goal["mode"])


def _version(record: tuple[Entry, Any] | None) -> Version:
    """What a scan or status saw, in the form undo points keep."""
    if record is None:
        return None
    entry, digest = record
    if entry.kind == "file":
        return {
            "kind": "file", "mode": entry.mode, "digest": digest, "size": entry.size,
            "mtime": entry.mtime_ns,
        }  # fmt: skip
    if entry.kind == "dir":
        return {"kind": "dir", "mode": entry.mode}
    if entry.kind == "link":
        return {"kind": "link", "target": entry.target}
    return {"kind": "special"}


def _matches(a: Version, b: Version) -> bool:
    """Whether two versions hold the same thing (a file: mode and bytes)."""
    if a is None or b is None:
        return a is b
    if a["kind"] != b["kind"]:
        return False
    if a["kind"] == "file":
        if a["mode"] != b["mode"]:
            return False
        if a.get("digest") and b.get("digest"):
            return a["digest"] == b["digest"]
        return (a["size"], a["mtime"]) == (b["size"], b["mtime"])
    if a["kind"] == "dir":
        return a["mode"] == b["mode"]
    if a["kind"] == "link":
        return a["target"] == b["target"]
    return True


def _point(record: dict) -> UndoPoint:
    return UndoPoint(record["id"], record["label"], record["timestamp"], tuple(record["changed"]))


def _reason(exc: Exception) -> str:
    if isinstance(exc, PathEscapeError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({os.path.basename(exc.filename)})" if exc.filename else ""
        return exc.strerror.lower() + where
    return str(exc) or "an unexpected problem"
