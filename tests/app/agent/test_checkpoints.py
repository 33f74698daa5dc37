import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from app.agent.checkpoints import CheckpointError, Checkpoints


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under root except .git, with its exact bytes."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            path = Path(dirpath) / name
            out[path.relative_to(root).as_posix()] = path.read_bytes()
    return out


def _git_state(root: Path) -> str:
    """A digest of the person's own .git folder: every file's path and bytes."""
    digest = hashlib.sha256()
    for dirpath, _, filenames in sorted(os.walk(root / ".git")):
        for name in sorted(filenames):
            path = Path(dirpath) / name
            digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def project(ws: Path) -> Path:
    subprocess.run(["git", "init", "-q"], cwd=ws, check=True)
    (ws / "src").mkdir()
    (ws / "src" / "app.py").write_bytes(b"print('hi')\r\n\x00\xff tail")
    (ws / "README").write_text("readme\n")
    (ws / "run.sh").write_text("#!/bin/sh\n")
    (ws / "run.sh").chmod(0o755)
    return ws


def test_store_is_outside_the_workspace_and_own_git_untouched(project: Path, data_dir: Path):
    before = _git_state(project)
    ck = Checkpoints(project, data_dir)
    ck.snapshot("start")
    (project / "README").write_text("changed\n")
    ck.snapshot("step")
    ck.undo_last()
    assert ck.git_dir.is_relative_to(data_dir.resolve())
    assert not ck.git_dir.is_relative_to(project.resolve())
    assert _git_state(project) == before
    with pytest.raises(CheckpointError, match="outside the workspace"):
        Checkpoints(project, project / "data")


def test_undo_restores_exact_bytes_after_edits_deletes_and_new_files(project: Path, data_dir: Path):
    ck = Checkpoints(project, data_dir)
    original = _tree(project)
    start = ck.snapshot("start")
    assert start is not None
    (project / "src" / "app.py").write_bytes(b"rewritten")
    (project / "README").unlink()
    (project / "new.txt").write_text("new")
    (project / "src" / "deep").mkdir()
    (project / "src" / "deep" / "x.py").write_text("x")
    (project / "run.sh").chmod(0o644)
    assert ck.snapshot("step 1") is not None
    assert ck.undo_last().id == start.id
    assert _tree(project) == original
    assert os.access(project / "run.sh", os.X_OK)
    assert [c.id for c in ck.list()] == [start.id]


def test_restore_any_checkpoint_and_unchanged_snapshots_add_nothing(project: Path, data_dir: Path):
    ck = Checkpoints(project, data_dir)
    first = ck.snapshot("0")
    (project / "README").write_text("v1\n")
    ck.snapshot("1")
    assert ck.snapshot("no change") is None
    (project / "README").write_text("v2\n")
    ck.snapshot("2")
    assert [c.label for c in ck.list()] == ["2", "1", "0"]
    ck.restore(ck.list()[1].id)
    assert (project / "README").read_text() == "v1\n"
    ck.restore(first.id)
    assert (project / "README").read_text() == "readme\n"


def test_command_deleting_files_is_undone(project: Path, data_dir: Path):
    ck = Checkpoints(project, data_dir)
    original = _tree(project)
    ck.snapshot("start")
    subprocess.run("rm -rf src README && echo made > out.txt", shell=True, cwd=project, check=True)
    ck.snapshot("after rm")
    ck.undo_last()
    assert _tree(project) == original


def test_gitignored_files_are_neither_tracked_nor_touched(project: Path, data_dir: Path):
    (project / ".gitignore").write_text("cache/\n")
    (project / "cache").mkdir()
    (project / "cache" / "big.bin").write_bytes(b"1")
    ck = Checkpoints(project, data_dir)
    ck.snapshot("start")
    assert "cache/big.bin" not in ck.visible_files()
    (project / "cache" / "big.bin").write_bytes(b"2")
    (project / "README").write_text("x")
    ck.snapshot("s")
    ck.undo_last()
    assert (project / "cache" / "big.bin").read_bytes() == b"2"


def test_errors_are_clear(project: Path, data_dir: Path):
    ck = Checkpoints(project, data_dir)
    with pytest.raises(CheckpointError, match="nothing to undo"):
        ck.undo_last()
    ck.snapshot("only")
    with pytest.raises(CheckpointError, match="nothing to undo"):
        ck.undo_last()
    with pytest.raises(CheckpointError, match="unknown checkpoint"):
        ck.restore("0" * 40)


def test_missing_git_is_a_clear_error(ws: Path, data_dir: Path, monkeypatch):
    monkeypatch.setenv("PATH", str(data_dir))  # a folder with no git in it
    with pytest.raises(CheckpointError, match="git is needed"):
        Checkpoints(ws, data_dir)


def test_big_new_files_are_left_out_of_snapshots(project: Path, data_dir: Path):
    ck = Checkpoints(project, data_dir, max_file_bytes=1000)
    ck.snapshot("start")
    (project / "data [v1]*.bin").write_bytes(b"x" * 5000)
    (project / "small.txt").write_text("s")
    ck.snapshot("step")
    assert "data [v1]*.bin" not in ck.visible_files() and "small.txt" in ck.visible_files()
    ck.undo_last()
    assert not (project / "small.txt").exists()
    assert (project / "data [v1]*.bin").read_bytes() == b"x" * 5000  # not tracked, not touched


def test_concurrent_snapshots_of_one_workspace_do_not_collide(project: Path, data_dir: Path):
    import threading

    stores = [Checkpoints(project, data_dir) for _ in range(4)]
    errors: list[Exception] = []

    def work(i: int) -> None:
        try:
            (project / f"f{i}.txt").write_text(str(i))
            stores[i].snapshot(f"s{i}")
        except Exception as exc:  # index.lock clashes would show here
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {f"f{i}.txt" for i in range(4)} <= set(stores[0].visible_files())


def test_a_stale_lock_left_by_a_crash_is_cleared(project: Path, data_dir: Path):
    ck = Checkpoints(project, data_dir)
    ck.snapshot("start")
    lock = ck.git_dir / "index.lock"
    lock.write_text("")
    os.utime(lock, (0, 0))  # as if left hours ago
    ck = Checkpoints(project, data_dir)
    (project / "README").write_text("after the crash\n")
    assert ck.snapshot("works again") is not None
