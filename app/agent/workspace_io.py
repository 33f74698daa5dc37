"""Reading and writing inside the workspace without ever following a link.

Every operation starts from the workspace folder and opens each folder on the way with
`O_NOFOLLOW | O_DIRECTORY`, relative to the one before (`openat`). A symlink swapped in for any
folder on the way, or for the file itself, makes the operation fail instead of leaving the
workspace, whatever was checked before. Writes never touch a `.git` name at any depth.

Writes go to a new temporary file in the same folder, which is then renamed over the old one. So a
write never changes a file in place: a file with other hard links gets a new inode of its own (the
other names keep the old content), a reader never sees half a file, and the old file's permission
bits carry over. Only regular files are read or replaced; a FIFO, socket or device is refused before
it is opened, so nothing here can block.

Paths are workspace-relative, "/"-separated strings (as `Workspace.relative` gives them).
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from app.agent.workspace import PathEscapeError, is_git_name

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
TEMP_PREFIX = ".tandem-write-"


class NotRegularFileError(PathEscapeError):
    """The path names a link, folder, FIFO, socket or device where a regular file was needed."""


@dataclass
class WriteResult:
    created_dirs: list[str] = field(default_factory=list)  # folders made, outermost first
    replaced: os.stat_result | None = None  # the file that was there before, if any
    broke_hard_link: bool = False  # the old file had other names, which keep the old content


def split(rel: str) -> list[str]:
    """The components of a workspace-relative path; refuses absolute paths and `..`."""
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if rel.startswith("/") or ".." in parts:
        raise PathEscapeError(f"'{rel}' is not a path inside the workspace")
    return parts


def kind_of(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "link"
    return "special"


def describe(mode: int) -> str:
    """What a non-regular file is, in words."""
    return {
        "dir": "a folder",
        "link": "a symbolic link",
    }.get(kind_of(mode)) or (
        "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
        else "a socket" if stat.S_ISSOCK(mode)
        else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "not a regular file"
    )  # fmt: skip


def _refuse_git(parts: list[str], rel: str) -> None:
    if any(is_git_name(p) for p in parts):
        raise PathEscapeError(f"'{rel}' is inside a .git folder; not writable")


@contextlib.contextmanager
def open_dir(
    root: Path, parts: list[str], *, create: bool = False, created: list[str] | None = None
) -> Iterator[int]:
    """A file descriptor of the folder `root/parts...`, reached without following links.

    With `create`, missing folders are made (their workspace-relative paths are appended to
    `created`). Raises PathEscapeError when a component is a link or not a folder.
    """
    fd = os.open(root, DIR_FLAGS)
    try:
        for i, name in enumerate(parts):
            try:
                nxt = os.open(name, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                os.mkdir(name, 0o777, dir_fd=fd)
                if created is not None:
                    created.append("/".join(parts[: i + 1]))
                nxt = os.open(name, DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                    shown = "/".join(parts[: i + 1])
                    raise PathEscapeError(
                        f"'{shown}' is a link or not a folder; the agent does not follow links "
                        "when it reads or writes"
                    ) from None
                raise
            os.close(fd)
            fd = nxt
        yield fd
    finally:
        os.close(fd)


def lstat(root: Path, rel: str) -> os.stat_result | None:
    """The entry itself (a link is not followed), or None when nothing is there."""
    parts = split(rel)
    if not parts:
        return os.lstat(root)
    try:
        with open_dir(root, parts[:-1]) as dfd:
            return os.stat(parts[-1], dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    except PathEscapeError:
        return None  # a parent is a link or a file: nothing of ours is there


def read_file(root: Path, rel: str, max_bytes: int | None = None) -> tuple[bytes, os.stat_result]:
    """The bytes of a regular file and its status.

    Raises:
        FileNotFoundError: nothing there.
        NotRegularFileError: a link, folder, FIFO, socket or device.
        PathEscapeError: a folder on the way is a link.
        ValueError: larger than `max_bytes` (the message gives the size).
    """
    parts = split(rel)
    if not parts:
        raise NotRegularFileError(f"'{rel}' is the workspace folder, not a file")
    with open_dir(root, parts[:-1]) as dfd:
        before = os.stat(parts[-1], dir_fd=dfd, follow_symlinks=False)
        if not stat.S_ISREG(before.st_mode):
            raise NotRegularFileError(f"'{rel}' is {describe(before.st_mode)}, not a regular file")
        fd = os.open(parts[-1], _READ_FLAGS, dir_fd=dfd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino):
            raise NotRegularFileError(f"'{rel}' changed while it was opened; try again")
        if max_bytes is not None and st.st_size > max_bytes:
            raise ValueError(f"'{rel}' has {st.st_size} bytes, more than {max_bytes}")
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
            if max_bytes is not None and sum(map(len, chunks)) > max_bytes:
                raise ValueError(f"'{rel}' grew past {max_bytes} bytes while it was read")
        return b"".join(chunks), st
    finally:
        os.close(fd)


def write_file(root: Path, rel: str, data: bytes, mode: int | None = None) -> WriteResult:
    """Write `data` as the whole file `rel`, through a new inode (see the module docstring).

    Args:
        mode: permission bits for the file; None keeps the old file's, or the default for a new one.
    Raises:
        NotRegularFileError: something other than a regular file is at `rel`.
        PathEscapeError: a `.git` name, or a link on the way.
    """
    parts = split(rel)
    if not parts:
        raise NotRegularFileError("the workspace folder itself cannot be written as a file")
    _refuse_git(parts, rel)
    result = WriteResult()
    try:
        _write_in(root, parts, rel, data, mode, result)
    except BaseException:
        for folder in reversed(result.created_dirs):  # all or nothing: no folders left behind
            with contextlib.suppress(OSError):
                remove_dir(root, folder)
        raise
    return result


def _write_in(
    root: Path, parts: list[str], rel: str, data: bytes, mode: int | None, result: WriteResult
) -> None:
    with open_dir(root, parts[:-1], create=True, created=result.created_dirs) as dfd:
        name = parts[-1]
        try:
            old = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            old = None
        if old is not None and not stat.S_ISREG(old.st_mode):
            raise NotRegularFileError(f"'{rel}' is {describe(old.st_mode)}, not a regular file")
        result.replaced = old
        result.broke_hard_link = old is not None and old.st_nlink > 1
        tmp = TEMP_PREFIX + secrets.token_hex(6)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666, dir_fd=dfd)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if mode is not None:
                    os.fchmod(fd, mode & 0o7777)
                elif old is not None:
                    os.fchmod(fd, stat.S_IMODE(old.st_mode))
            finally:
                os.close(fd)
            os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dfd)
            raise


def remove(root: Path, rel: str) -> None:
    """Remove a file, link or special file (never a folder); nothing there is fine."""
    parts = split(rel)
    _refuse_git(parts, rel)
    with open_dir(root, parts[:-1]) as dfd:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(parts[-1], dir_fd=dfd)


def remove_dir(root: Path, rel: str) -> bool:
    """Remove an empty folder; False (and nothing done) when it is not empty or not there."""
    parts = split(rel)
    _refuse_git(parts, rel)
    try:
        with open_dir(root, parts[:-1]) as dfd:
            os.rmdir(parts[-1], dir_fd=dfd)
    except FileNotFoundError:
        return False
    except OSError as exc:
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
            return False
        raise
    return True


def make_dir(root: Path, rel: str, mode: int) -> None:
    """Make one folder (its parent must exist) with exactly `mode` permission bits."""
    parts = split(rel)
    _refuse_git(parts, rel)
    with open_dir(root, parts[:-1]) as dfd:
        with contextlib.suppress(FileExistsError):
            os.mkdir(parts[-1], 0o700, dir_fd=dfd)
        set_mode_at(dfd, parts[-1], mode)


def make_link(root: Path, rel: str, target: str) -> None:
    """Make a symbolic link `rel` -> `target` (the target is stored, never followed)."""
    parts = split(rel)
    _refuse_git(parts, rel)
    with open_dir(root, parts[:-1]) as dfd:
        os.symlink(target, parts[-1], dir_fd=dfd)


def set_mode(root: Path, rel: str, mode: int) -> None:
    """Set the permission bits of a file or folder (a link is never followed)."""
    parts = split(rel)
    if not parts:
        raise PathEscapeError("the workspace folder's own permissions are not changed")
    _refuse_git(parts, rel)
    with open_dir(root, parts[:-1]) as dfd:
        set_mode_at(dfd, parts[-1], mode)


def set_mode_at(dfd: int, name: str, mode: int) -> None:
    st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
    if stat.S_ISLNK(st.st_mode):
        return
    flags = DIR_FLAGS if stat.S_ISDIR(st.st_mode) else _READ_FLAGS
    try:
        fd = os.open(name, flags, dir_fd=dfd)
    except PermissionError:  # no read permission (mode 000): chmod by name, checked just above
        os.chmod(name, mode & 0o7777, dir_fd=dfd)
        return
    try:
        os.fchmod(fd, mode & 0o7777)
    finally:
        os.close(fd)


def read_link(root: Path, rel: str) -> str:
    parts = split(rel)
    with open_dir(root, parts[:-1]) as dfd:
        return os.readlink(parts[-1], dir_fd=dfd)
