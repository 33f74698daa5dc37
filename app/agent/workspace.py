"""The folder the agent works in, and the one rule for every path the model names.

`Workspace.resolve(path)` turns a model-supplied path (relative to the workspace, or absolute) into
a real path after following every symlink and `..`, and refuses it with `PathEscapeError` unless
the result lies inside the workspace's real path. Writes are also refused inside the person's own
`.git` folder. A file created between the check and its use can still race the check; the approval
gate and (on macOS) the OS sandbox are the other layers.
"""

from __future__ import annotations

import os
from pathlib import Path


class PathEscapeError(ValueError):
    """A path that leaves the workspace, or is otherwise not allowed."""


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
            for_write: also refuse the workspace's `.git` folder.
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
        # realpath follows symlinks in every existing component, then applies `..` to the rest.
        real = Path(os.path.realpath(candidate))
        if real != self.root and not real.is_relative_to(self.root):
            raise PathEscapeError(
                f"'{path}' is outside the workspace; use a path relative to the workspace root"
            )
        if for_write and (real == self.root / ".git" or real.is_relative_to(self.root / ".git")):
            raise PathEscapeError(f"'{path}' is inside the repository's .git folder; not writable")
        return real

    def relative(self, real: Path) -> str:
        """The workspace-relative form of a resolved path, "/"-separated ("." for the root)."""
        rel = real.relative_to(self.root).as_posix()
        return rel or "."
