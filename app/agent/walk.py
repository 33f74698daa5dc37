"""Walk the workspace the way the agent sees it: `.gitignore` honoured, `.git` folders skipped.

The walk never runs git and never follows a link: each folder is opened relative to its parent with
`O_NOFOLLOW` (see `app.agent.workspace_io`), and links are reported as links. Any folder whose name
is a `.git` name (`app.agent.workspace.is_git_name`: any case, any Unicode form) is skipped at any
depth, so the person's repositories, nested ones and submodules included, are data the agent never
walks into. `.gitignore` files are read as git reads them (each applies below its own folder, a
deeper one wins, an ignored folder is not entered), with `pathspec`'s gitignore rules.

`walk()` returns every entry it saw with its status (`Entry`), and the ignore rules it used
(`IgnoreRules`). Passing the rules of an earlier walk makes a later walk judge every folder that
existed then by the same rules, so a command that edits `.gitignore` cannot make files the person
already had look new (see `app.agent.undo`). The walk stops at `limit` entries or `MAX_DEPTH`
folders deep and says so (`complete` is False).
"""

from __future__ import annotations

import os
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pathspec

from app.agent import workspace_io as wio
from app.agent.workspace import is_git_name

MAX_ENTRIES = 200_000
MAX_DEPTH = 128
MAX_GITIGNORE_BYTES = 1_000_000


class WalkStopped(Exception):
    """The walk was cancelled."""


@dataclass(frozen=True)
class Entry:
    """One file, folder, link or special file, as `lstat` saw it."""

    kind: str  # "file", "dir", "link" or "special"
    mode: int  # permission bits (st_mode & 0o7777)
    size: int
    mtime_ns: int
    ctime_ns: int
    ino: int
    dev: int
    target: str = ""  # a link's target text

    @classmethod
    def of(cls, st: os.stat_result, target: str = "") -> Entry:
        return cls(
            wio.kind_of(st.st_mode), stat.S_IMODE(st.st_mode), st.st_size, st.st_mtime_ns,
            st.st_ctime_ns, st.st_ino, st.st_dev, target,
        )  # fmt: skip

    def same_version(self, other: Entry | None) -> bool:
        """True when nothing about the entry changed (a write always changes ctime)."""
        return other is not None and (
            self.kind, self.mode, self.size, self.mtime_ns, self.ctime_ns, self.ino, self.dev,
            self.target,
        ) == (
            other.kind, other.mode, other.size, other.mtime_ns, other.ctime_ns, other.ino,
            other.dev, other.target,
        )  # fmt: skip


@dataclass
class IgnoreRules:
    """The `.gitignore` rules of each folder a walk met ("" is the workspace folder)."""

    specs: dict[str, pathspec.GitIgnoreSpec | None] = field(default_factory=dict)

    def load(self, root: Path, folder: str) -> None:
        if folder in self.specs:
            return
        rel = f"{folder}/.gitignore" if folder else ".gitignore"
        try:
            data, _ = wio.read_file(root, rel, MAX_GITIGNORE_BYTES)
        except (OSError, ValueError):  # none, unreadable, a link, too big: no rules here
            self.specs[folder] = None
            return
        lines = data.decode("utf-8", errors="replace").splitlines()
        self.specs[folder] = pathspec.GitIgnoreSpec.from_lines(lines)

    def ignored(self, rel: str, is_dir: bool) -> bool:
        """Whether git would ignore `rel`, by the rules of every folder above it."""
        parts = rel.split("/")
        verdict = False
        for depth in range(len(parts)):
            spec = self.specs.get("/".join(parts[:depth]))
            if spec is None:
                continue
            sub = "/".join(parts[depth:]) + ("/" if is_dir else "")
            result = spec.check_file(sub)
            if result.include is not None:
                verdict = result.include
        return verdict


@dataclass
class Walk:
    entries: dict[str, Entry]  # workspace-relative path -> entry, folders included
    rules: IgnoreRules
    complete: bool  # False when the walk stopped at MAX_ENTRIES or MAX_DEPTH


def walk(
    root: Path,
    under: str = "",
    *,
    rules: IgnoreRules | None = None,
    limit: int = MAX_ENTRIES,
    cancel: threading.Event | None = None,
) -> Walk:
    """Every visible entry below `under` (a workspace-relative folder; "" for all of it).

    Raises:
        WalkStopped: `cancel` was set.
        PathEscapeError: `under` is (or passes through) a link.
    """
    rules = rules or IgnoreRules()
    parts = wio.split(under)
    for depth in range(len(parts) + 1):
        rules.load(root, "/".join(parts[:depth]))
    result = Walk({}, rules, True)
    with wio.open_dir(root, parts) as fd:
        _walk_dir(root, fd, "/".join(parts), 0, result, limit, cancel)
    return result


def _walk_dir(
    root: Path, fd: int, folder: str, depth: int, result: Walk, limit: int,
    cancel: threading.Event | None,
) -> None:  # fmt: skip
    if depth >= MAX_DEPTH:
        result.complete = False
        return
    rules = result.rules
    rules.load(root, folder)
    with os.scandir(fd) as it:
        items = sorted(it, key=lambda e: e.name)
    for item in items:
        if cancel is not None and cancel.is_set():
            raise WalkStopped()
        name = item.name
        if is_git_name(name) or name.startswith(wio.TEMP_PREFIX):
            continue
        rel = f"{folder}/{name}" if folder else name
        try:
            st = item.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue  # removed while we looked
        is_dir = stat.S_ISDIR(st.st_mode)
        if rules.ignored(rel, is_dir):
            continue
        if len(result.entries) >= limit:
            result.complete = False
            return
        target = ""
        if stat.S_ISLNK(st.st_mode):
            try:
                target = os.readlink(name, dir_fd=fd)
            except OSError:
                continue
        result.entries[rel] = Entry.of(st, target)
        if is_dir:
            try:
                sub = os.open(name, wio.DIR_FLAGS, dir_fd=fd)
            except OSError:  # replaced by a link or removed meanwhile, or not readable
                continue
            try:
                _walk_dir(root, sub, rel, depth + 1, result, limit, cancel)
            finally:
                os.close(sub)
            if not result.complete and len(result.entries) >= limit:
                return
