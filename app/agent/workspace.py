"""The folder the agent works in, and the one rule for every path the model names.

`Workspace.resolve(path)` turns a model-supplied path (relative to the workspace, or absolute) into
a real path after following every symlink and `..`, and refuses it with `PathEscapeError` unless
the result lies inside the workspace's real path. Writes are also refused anywhere inside a `.git`
folder, at any depth, however the name is written: `is_git_name` compares names the way macOS's
file systems do (case-insensitive, Unicode-normalised, ignorable code points dropped), so `.GIT`,
`.Git` or `.g\\u200cit` count too.

This check runs when a call is planned (before approval). The write itself re-checks every folder
on the way without following links (see `app.agent.workspace_io`), so a link swapped in between
cannot redirect it.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path, PurePosixPath


class PathEscapeError(ValueError):
    """A path that leaves the workspace, or is otherwise not allowed."""


def fold_name(name: str) -> str:
    """A file name as a case-insensitive, normalisation-insensitive file system compares it.

    Compatibility-decomposed, without combining marks and format characters (the code points HFS+
    ignores, such as U+200C), case-folded, and without the trailing dots and spaces that some file
    systems drop.
    """
    decomposed = unicodedata.normalize("NFKD", name)
    kept = "".join(ch for ch in decomposed if unicodedata.category(ch) not in ("Mn", "Cf"))
    return kept.casefold().rstrip(". ")


def is_git_name(name: str) -> bool:
    """True for a file or folder name that a Mac's file system may treat as `.git`."""
    return fold_name(name) == ".git"


def has_git_part(parts: tuple[str, ...] | list[str]) -> bool:
    """True when any component of a path is a `.git` name."""
    return any(is_git_name(part) for part in parts)


class Workspace:
    """A workspace rooted at an existing folder."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        real = Path(os.path.realpath(root))
        if not real.is_dir():
            raise NotADirectoryError(f"workspace folder does not exist: {root}")
        self.root = real

    def resolve(self, path: str, *, for_write: bool = False) -> Path:
        """Resolve `path` inside the workspace.

        Args:
            path: as the model wrote it; "" and "." mean the workspace itself.
            for_write: also refuse any path with a `.git` folder in it, and the workspace itself.
        Returns:
            the real absolute path (it may not exist yet).
        Raises:
            PathEscapeError: the path is outside the workspace, or not allowed.
        """
        if not isinstance(path, str):
            raise PathEscapeError(f"path must be a string, got {type(path).__name__}")
        if "\x00" in path:
            raise PathEscapeError("path contains a NUL character")
        candidate = Path(path.strip() or ".").expanduser()
        if not candidate.is_absolute():
            candidate = self.root / candidate
        if for_write and has_git_part(PurePosixPath(path).parts):
            raise PathEscapeError(f"'{path}' is inside a .git folder; not writable")
        # realpath follows symlinks in every existing component, then applies `..` to the rest.
        real = Path(os.path.realpath(candidate))
        if real != self.root and not real.is_relative_to(self.root):
            raise PathEscapeError(
                f"'{path}' is outside the workspace; use a path relative to the workspace root"
            )
        if for_write:
            if real == self.root:
                raise PathEscapeError("the workspace folder itself cannot be written as a file")
            if has_git_part(real.relative_to(self.root).parts):
                raise PathEscapeError(f"'{path}' is inside a .git folder; not writable")
        return real

    def relative(self, real: Path) -> str:
        """The workspace-relative form of a resolved path, "/"-separated ("." for the root)."""
        rel = real.relative_to(self.root).as_posix()
        return rel or "."
