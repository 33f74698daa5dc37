"""Undo for agent runs: snapshots of the workspace in a shadow git repository outside it.

The shadow repository's git folder lives under the app's data folder (one per workspace, named by a
hash of the workspace's real path); its work tree is the workspace. The person's own `.git` is never
read or written: git always skips `.git` entries, and every call runs with GIT_DIR/GIT_WORK_TREE set
and the person's global and system git config ignored.

What is tracked: every file git would see in the workspace, honouring the workspace's `.gitignore`
files (so `node_modules/`, build output and the like are neither snapshotted nor restored). A new
file larger than `max_file_bytes` (a data set, a model) is left out for good (it is added to the
shadow repository's exclude list), so undo does not restore it. Empty folders are not tracked. A
nested repository (a sub-folder with its own `.git`) is kept as a link, not its files.

`snapshot()` records the current state as a new checkpoint unless nothing changed. `restore(id)`
makes the tracked files exactly what they were at that checkpoint (the same bytes and executable
bits; files created since are removed, files deleted since come back) and moves the history back to
it, so the checkpoints after it are dropped. `undo_last()` restores the one before the newest.

Operations on one shadow repository are serialized by a lock shared by every `Checkpoints` of the
same workspace in this process. Restoring while a run is still changing files gives a state that
mixes both; the view offers undo once the run has finished or been stopped.
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

_EXCLUDES = ".git\n.DS_Store\n"
GIT_TIMEOUT_S = 120
MAX_FILE_BYTES = 20 * 1024 * 1024  # larger new files are not snapshotted


T = TypeVar("T")
_locks: dict[Path, threading.RLock] = {}
_locks_guard = threading.Lock()


def _lock_for(git_dir: Path) -> threading.RLock:
    with _locks_guard:
        return _locks.setdefault(git_dir, threading.RLock())


def _locked(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def wrapper(self: Checkpoints, *args: Any, **kwargs: Any) -> T:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


class CheckpointError(RuntimeError):
    """A git command failed, or there is nothing to go back to."""


@dataclass(frozen=True)
class Checkpoint:
    id: str  # commit id in the shadow repository
    label: str
    timestamp: int  # seconds since the epoch


class Checkpoints:
    """The shadow repository of one workspace."""

    def __init__(
        self,
        workspace: str | os.PathLike[str],
        data_dir: str | os.PathLike[str],
        max_file_bytes: int = MAX_FILE_BYTES,
    ) -> None:
        """Args:
        workspace: the folder the agent works in.
        data_dir: the app's data folder; the repository goes in `data_dir/checkpoints/<hash>`.
        max_file_bytes: new files larger than this are not snapshotted.
        """
        self.max_file_bytes = max_file_bytes
        self.work_tree = Path(os.path.realpath(workspace))
        key = hashlib.sha256(str(self.work_tree).encode()).hexdigest()[:16]
        self.git_dir = Path(os.path.realpath(data_dir)) / "checkpoints" / key
        if self.git_dir.is_relative_to(self.work_tree):
            raise CheckpointError("the checkpoint store must be outside the workspace")
        self._lock = _lock_for(self.git_dir)
        with self._lock:
            if not (self.git_dir / "HEAD").exists():
                self._init()
            self._clear_stale_lock()

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(
            GIT_DIR=str(self.git_dir),
            GIT_WORK_TREE=str(self.work_tree),
            GIT_CONFIG_NOSYSTEM="1",
            GIT_CONFIG_GLOBAL=os.devnull,
            GIT_AUTHOR_NAME="Tandem",
            GIT_AUTHOR_EMAIL="tandem@localhost",
            GIT_COMMITTER_NAME="Tandem",
            GIT_COMMITTER_EMAIL="tandem@localhost",
            GIT_TERMINAL_PROMPT="0",
        )
        return env

    def git(self, *args: str, input: bytes | None = None) -> bytes:
        """Run one git command on the shadow repository and return its stdout."""
        try:
            proc = subprocess.run(
                ["git", *args],
                cwd=self.work_tree,
                env=self._env(),
                input=input,
                capture_output=True,
                timeout=GIT_TIMEOUT_S,
            )
        except FileNotFoundError:
            raise CheckpointError("git is needed for undo checkpoints but was not found") from None
        except subprocess.TimeoutExpired:
            raise CheckpointError(f"git {args[0]} took longer than {GIT_TIMEOUT_S} s") from None
        if proc.returncode != 0:
            err = proc.stderr.decode(errors="replace").strip()
            raise CheckpointError(f"git {args[0]} failed: {err}")
        return proc.stdout

    def _init(self) -> None:
        self.git_dir.parent.mkdir(parents=True, exist_ok=True)
        self.git("init", "--quiet")
        for key, value in (
            ("core.autocrlf", "false"),  # exact bytes, no line-ending conversion
            ("core.fileMode", "true"),
            ("core.symlinks", "true"),
            ("commit.gpgSign", "false"),
            ("gc.auto", "0"),
        ):
            self.git("config", key, value)
        (self.git_dir / "info").mkdir(exist_ok=True)
        (self.git_dir / "info" / "exclude").write_text(_EXCLUDES)

    def _clear_stale_lock(self) -> None:
        # A lock older than any git call may run was left by a crash; it would block every snapshot.
        lock = self.git_dir / "index.lock"
        try:
            if time.time() - lock.stat().st_mtime > 2 * GIT_TIMEOUT_S:
                lock.unlink()
        except FileNotFoundError:
            pass

    def _exclude_big_files(self) -> None:
        out = self.git("ls-files", "--others", "--exclude-standard", "-z")
        big = []
        for rel in out.decode("utf-8", errors="surrogateescape").split("\x00"):
            path = self.work_tree / rel
            if rel and path.is_file() and not path.is_symlink():
                if path.stat().st_size > self.max_file_bytes:
                    big.append(rel)
        if big:
            with open(
                self.git_dir / "info" / "exclude", "a", encoding="utf-8", errors="surrogateescape"
            ) as f:
                f.writelines(_literal_pattern(rel) + "\n" for rel in big)

    def _head(self) -> str | None:
        try:
            return self.git("rev-parse", "--verify", "--quiet", "HEAD").decode().strip()
        except CheckpointError:
            return None

    @_locked
    def snapshot(self, label: str) -> Checkpoint | None:
        """Record the workspace as a checkpoint; None when nothing changed since the last one."""
        self._exclude_big_files()
        self.git("add", "--all", ".")
        tree = self.git("write-tree").decode().strip()
        head = self._head()
        if head is not None:
            head_tree = self.git("rev-parse", f"{head}^{{tree}}").decode().strip()
            if head_tree == tree:
                return None
        parents = ["-p", head] if head else []
        commit = self.git("commit-tree", tree, *parents, "-m", label).decode().strip()
        self.git("update-ref", "HEAD", commit)
        return self._read(commit)

    @_locked
    def list(self) -> list[Checkpoint]:
        """All checkpoints, newest first."""
        if self._head() is None:
            return []
        out = self.git("log", "--format=%H%x00%ct%x00%s", "HEAD").decode()
        result = []
        for line in out.splitlines():
            commit, ts, label = line.split("\x00", 2)
            result.append(Checkpoint(commit, label, int(ts)))
        return result

    def _read(self, commit: str) -> Checkpoint:
        out = self.git("log", "-1", "--format=%H%x00%ct%x00%s", commit).decode().rstrip("\n")
        commit_id, ts, label = out.split("\x00", 2)
        return Checkpoint(commit_id, label, int(ts))

    @_locked
    def restore(self, checkpoint_id: str) -> Checkpoint:
        """Make the tracked files exactly as at `checkpoint_id`; later checkpoints are dropped."""
        known = {c.id for c in self.list()}
        if checkpoint_id not in known:
            raise CheckpointError(f"unknown checkpoint: {checkpoint_id}")
        # Stage the present state first so files created since the checkpoint are known and removed.
        self.git("add", "--all", ".")
        self.git("read-tree", "--reset", "-u", checkpoint_id)
        self.git("update-ref", "HEAD", checkpoint_id)
        return self._read(checkpoint_id)

    @_locked
    def undo_last(self) -> Checkpoint:
        """Go back to the checkpoint before the newest; changes since the newest are lost too."""
        history = self.list()
        if len(history) < 2:
            raise CheckpointError("nothing to undo: there is no earlier checkpoint")
        return self.restore(history[1].id)

    @_locked
    def visible_files(self, under: str = ".") -> list[str]:
        """Workspace-relative paths of the files git sees under `under` (ignored files left out)."""
        out = self.git("ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", under)
        paths = [p for p in out.decode("utf-8", errors="surrogateescape").split("\x00") if p]
        # The index may still list files deleted since the last snapshot.
        return sorted({p for p in paths if (self.work_tree / p).is_file()})


def _literal_pattern(rel: str) -> str:
    """A gitignore pattern that matches exactly this workspace-relative path."""
    escaped = "".join("\\" + ch if ch in "*?[]\\!#" else ch for ch in rel)
    if escaped.endswith(" "):
        escaped = escaped[:-1] + "\\ "
    return "/" + escaped
