"""Reads and writes that never follow a link, never block, and never change a file in place."""

import os
import stat
from pathlib import Path

import pytest

from app.agent import workspace_io as wio
from app.agent.workspace import PathEscapeError


def test_a_folder_swapped_for_a_link_is_not_followed(ws: Path, tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (ws / "sub").symlink_to(outside)  # checked earlier as a folder, a link by now
    with pytest.raises(PathEscapeError, match="'sub' is a link"):
        wio.write_file(ws, "sub/f.txt", b"evil")
    with pytest.raises(PathEscapeError, match="'sub' is a link"):
        wio.read_file(ws, "sub/f.txt")
    assert list(outside.iterdir()) == []


def test_a_file_swapped_for_a_link_is_refused_for_reading_and_writing(ws: Path, tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("s")
    (ws / "f.txt").symlink_to(secret)
    with pytest.raises(wio.NotRegularFileError, match="symbolic link"):
        wio.read_file(ws, "f.txt")
    with pytest.raises(wio.NotRegularFileError, match="symbolic link"):
        wio.write_file(ws, "f.txt", b"evil")
    assert secret.read_text() == "s"


def test_special_files_are_refused_without_blocking(ws: Path):
    os.mkfifo(ws / "pipe")
    for call in (lambda: wio.read_file(ws, "pipe"), lambda: wio.write_file(ws, "pipe", b"x")):
        with pytest.raises(wio.NotRegularFileError, match="FIFO"):
            call()
    with pytest.raises(wio.NotRegularFileError, match="device"):
        wio.read_file(Path("/dev"), "zero")


def test_a_write_makes_a_new_inode_keeping_the_mode(ws: Path, tmp_path: Path):
    outside = tmp_path / "outside.txt"
    outside.write_text("old")
    os.link(outside, ws / "f.txt")
    os.chmod(ws / "f.txt", 0o751)
    result = wio.write_file(ws, "f.txt", b"new")
    assert result.broke_hard_link and result.replaced is not None
    assert (ws / "f.txt").read_bytes() == b"new" and outside.read_text() == "old"
    assert stat.S_IMODE((ws / "f.txt").stat().st_mode) == 0o751
    assert [p.name for p in ws.iterdir()] == ["f.txt"]  # no temporary file left


def test_a_failed_write_leaves_no_temporary_file_and_the_old_file(ws: Path, monkeypatch):
    (ws / "f.txt").write_text("old")
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(wio.os, "rename", disk_full)
    with pytest.raises(OSError):
        wio.write_file(ws, "f.txt", b"new")
    with pytest.raises(OSError):
        wio.write_file(ws, "new/deep/f.txt", b"new")
    assert [p.name for p in ws.iterdir()] == ["f.txt"] and (ws / "f.txt").read_text() == "old"


def test_writes_make_folders_and_report_them_but_never_touch_dot_git(ws: Path):
    assert wio.write_file(ws, "a/b/c.txt", b"x").created_dirs == ["a", "a/b"]
    for rel in (".git/config", "x/.GIT/config", ".Git"):
        with pytest.raises(PathEscapeError, match=r"\.git"):
            wio.write_file(ws, rel, b"x")
    with pytest.raises(PathEscapeError, match="not a path inside"):
        wio.write_file(ws, "../x", b"x")


def test_folder_and_link_operations(ws: Path):
    wio.make_dir(ws, "d", 0o705)
    assert stat.S_IMODE((ws / "d").stat().st_mode) == 0o705
    wio.write_file(ws, "d/f", b"x")
    assert not wio.remove_dir(ws, "d")  # not empty
    wio.remove(ws, "d/f")
    assert wio.remove_dir(ws, "d") and not (ws / "d").exists()
    wio.make_link(ws, "l", "../../etc/passwd")
    assert wio.read_link(ws, "l") == "../../etc/passwd"
    assert stat.S_ISLNK(wio.lstat(ws, "l").st_mode)
    wio.remove(ws, "l")
    assert wio.lstat(ws, "l") is None
    (ws / "ro").write_text("r")
    os.chmod(ws / "ro", 0)
    wio.set_mode(ws, "ro", 0o644)
    assert stat.S_IMODE((ws / "ro").stat().st_mode) == 0o644
