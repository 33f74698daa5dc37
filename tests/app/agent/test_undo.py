"""Undo points: exactly what the agent did is taken back, nothing else, and no program is run."""

import hashlib
import os
import stat
import subprocess
import threading
from pathlib import Path

import pytest

from app.agent import workspace_io
from app.agent.undo import UndoError, UndoPoints


def _tree(root: Path) -> dict[str, tuple]:
    """Every entry under root except .git: files with bytes and mode, folders with mode, links."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode))
            else:
                out[rel] = ("file", stat.S_IMODE(st.st_mode), path.read_bytes())
    return out


def _git_state(root: Path) -> str:
    """A digest of the person's own .git folder: every file's path and bytes."""
    digest = hashlib.sha256()
    for dirpath, _, filenames in sorted(os.walk(root / ".git")):
        for name in sorted(filenames):
            path = Path(dirpath) / name
            digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


def sh(root: Path, command: str) -> None:
    subprocess.run(command, shell=True, cwd=root, check=True)


def command(up: UndoPoints, root: Path, text: str) -> None:
    """What the agent's run_command does: the command inside a before/after scan."""
    with up.watching():
        sh(root, text)


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
    up = UndoPoints(project, data_dir)
    up.mark("start")
    up.write_file("README", b"changed\n", b"readme\n")
    command(up, project, "echo new > new.txt")
    up.mark("step")
    up.undo_last()
    assert up.store.folder.is_relative_to(data_dir.resolve())
    assert _git_state(project) == before
    with pytest.raises(UndoError, match="outside the workspace"):
        UndoPoints(project, project / "data")


def test_undo_restores_exact_bytes_modes_folders_and_links(project: Path, data_dir: Path):
    (project / "empty").mkdir()
    (project / "private").mkdir(mode=0o700)
    (project / "private" / "key.txt").write_text("k")
    (project / "private" / "key.txt").chmod(0o640)
    (project / "alias").symlink_to("README")
    up = UndoPoints(project, data_dir)
    original = _tree(project)
    start = up.mark("start")
    up.write_file("src/app.py", b"rewritten", (project / "src" / "app.py").read_bytes())
    up.write_file("pkg/deep/x.py", b"x", None)
    command(
        up, project,
        "rm README alias && rmdir empty && rm -r private && chmod 644 run.sh && ln -s src here "
        "&& mkdir made && echo n > new.txt",
    )  # fmt: skip
    assert up.mark("step 1") is not None
    undone = up.undo_last()
    assert undone.id == start.id and undone.kept == [] and undone.not_restored == []
    assert _tree(project) == original
    assert [p.id for p in up.list()] == [start.id]


def test_restore_any_point_and_unchanged_steps_add_nothing(project: Path, data_dir: Path):
    up = UndoPoints(project, data_dir)
    first = up.mark("0")
    up.write_file("README", b"v1\n", b"readme\n")
    up.mark("1")
    assert up.mark("no change") is None
    command(up, project, "true")
    assert up.mark("a command that changed nothing") is None
    up.write_file("README", b"v2\n", b"v1\n")
    up.mark("2")
    assert [p.label for p in up.list()] == ["2", "1", "0"]
    up.restore(up.list()[1].id)
    assert (project / "README").read_text() == "v1\n"
    up.restore(first.id)
    assert (project / "README").read_text() == "readme\n"


def test_a_command_deleting_a_tree_is_undone(project: Path, data_dir: Path):
    up = UndoPoints(project, data_dir)
    original = _tree(project)
    up.mark("start")
    command(up, project, "rm -rf src README && echo made > out.txt")
    up.mark("after rm")
    up.undo_last()
    assert _tree(project) == original


def test_the_persons_later_edits_are_left_alone_and_listed(project: Path, data_dir: Path):
    up = UndoPoints(project, data_dir)
    up.mark("start")
    up.write_file("README", b"agent\n", b"readme\n")
    up.write_file("notes/agent.txt", b"agent's\n", None)
    command(up, project, "rm run.sh")
    up.mark("step")
    (project / "README").write_text("agent\nand my own line\n")  # the person, after the run
    (project / "notes" / "mine.txt").write_text("mine\n")
    (project / "run.sh").write_text("my own new run.sh\n")
    (project / "later.txt").write_text("made after the run\n")
    undone = up.undo_last()
    assert undone.kept == ["README", "notes", "run.sh"]
    assert "Left your later edits alone: README, notes, run.sh." == undone.kept_note
    assert (project / "README").read_text() == "agent\nand my own line\n"
    assert (project / "run.sh").read_text() == "my own new run.sh\n"
    assert (project / "notes" / "mine.txt").exists()
    assert not (project / "notes" / "agent.txt").exists()
    assert (project / "later.txt").exists()


@pytest.mark.parametrize("by", ["write", "command"])
def test_ignored_files_survive_a_gitignore_rewrite(project: Path, data_dir: Path, by: str):
    (project / ".gitignore").write_text(".env\nbuild/\n")
    (project / ".env").write_text("SECRET=1\n")
    (project / "build").mkdir()
    (project / "build" / "model.bin").write_bytes(b"\x01" * 1000)
    up = UndoPoints(project, data_dir)
    up.mark("start")
    if by == "write":  # the model un-ignores them, then runs something
        up.write_file(".gitignore", b"", b".env\nbuild/\n")
        command(up, project, "echo x > x.txt")
    else:  # a command does it
        command(up, project, "printf '' > .gitignore && echo x > x.txt")
    up.mark("step")
    up.undo_last()
    assert (project / ".gitignore").read_text() == ".env\nbuild/\n"
    assert (project / ".env").read_text() == "SECRET=1\n"
    assert (project / "build" / "model.bin").read_bytes() == b"\x01" * 1000
    assert not (project / "x.txt").exists()


def test_changes_in_ignored_files_by_commands_are_not_touched(project: Path, data_dir: Path):
    (project / ".gitignore").write_text("cache/\n")
    (project / "cache").mkdir()
    (project / "cache" / "big.bin").write_bytes(b"1")
    up = UndoPoints(project, data_dir)
    up.mark("start")
    command(up, project, "echo 2 > cache/big.bin && echo x > README")
    up.mark("s")
    up.undo_last()
    assert (project / "cache" / "big.bin").read_bytes() == b"2\n"
    assert (project / "README").read_text() == "readme\n"


def test_an_ignored_file_the_agent_writes_is_undone(project: Path, data_dir: Path):
    (project / ".gitignore").write_text(".env\n")
    (project / ".env").write_text("A=1\n")
    up = UndoPoints(project, data_dir)
    up.mark("start")
    up.write_file(".env", b"A=2\n", b"A=1\n")
    up.mark("s")
    up.undo_last()
    assert (project / ".env").read_text() == "A=1\n"


def test_no_program_runs_and_nested_repositories_are_data(
    project: Path, data_dir: Path, monkeypatch
):
    spy = project.parent / "bin"
    spy.mkdir()
    (spy / "git").write_text(f"#!/bin/sh\necho ran >> {project.parent / 'git-ran'}\n")
    (spy / "git").chmod(0o755)
    up = UndoPoints(project, data_dir)
    up.mark("start")
    command(up, project, "git init -q tools && echo 1 > tools/a.txt && git -C tools add a.txt")
    nested = _git_state(project / "tools")
    monkeypatch.setenv("PATH", f"{spy}:{os.environ['PATH']}")  # a git that tells when it runs
    (project / "tools" / ".git" / "config").write_text('[core]\n\tfsmonitor = "touch pwned"\n')
    up.write_file("tools/b.txt", b"b", None)
    up.mark("step")
    undone = up.undo_last()
    assert not (project.parent / "git-ran").exists() and not (project / "pwned").exists()
    assert not (project / "tools" / "a.txt").exists() and not (project / "tools" / "b.txt").exists()
    assert undone.kept == ["tools"]  # it still holds the .git folder the command made
    assert (project / "tools" / ".git").is_dir() and _git_state(project / "tools") != nested


def test_a_submodule_and_a_dot_git_in_any_case_stay_unread(project: Path, data_dir: Path):
    modules = project / ".git" / "modules" / "lib"
    modules.mkdir(parents=True)
    (modules / "index").write_bytes(b"DIRC index")
    (project / "lib").mkdir()
    (project / "lib" / ".git").write_text("gitdir: ../.git/modules/lib\n")
    (project / "sub").mkdir()
    (project / "sub" / ".GIT").mkdir()
    (project / "sub" / ".GIT" / "HEAD").write_text("ref\n")
    before = _git_state(project)
    up = UndoPoints(project, data_dir)
    up.mark("start")
    command(up, project, "echo x > lib/x.txt && echo y > sub/.GIT/HEAD")
    up.mark("step")
    assert up.list()[0].changed == ("lib/x.txt",)  # what a command does in a .git is not recorded
    up.undo_last()
    assert _git_state(project) == before
    assert (project / "lib" / ".git").read_text() == "gitdir: ../.git/modules/lib\n"


def test_a_fifo_a_command_made_is_removed_without_being_opened(project: Path, data_dir: Path):
    up = UndoPoints(project, data_dir)
    up.mark("start")
    command(up, project, "mkfifo pipe")
    up.mark("step")
    undone = up.undo_last()
    assert undone.restored == ["pipe"] and not (project / "pipe").exists()


def test_large_files_the_person_had_come_back(project: Path, data_dir: Path):
    big = os.urandom(1 << 20) * 25  # 25 MiB, more than the earlier 20 MB limit
    (project / "data.bin").write_bytes(big)
    up = UndoPoints(project, data_dir)
    up.mark("start")
    command(up, project, "rm data.bin")
    up.mark("step")
    up.undo_last()
    assert (project / "data.bin").read_bytes() == big


def test_a_file_too_large_to_copy_is_reported_not_lost(project: Path, data_dir: Path):
    (project / "huge.bin").write_bytes(b"x" * 5000)
    up = UndoPoints(project, data_dir, max_file_bytes=1000)
    up.mark("start")
    command(up, project, "rm huge.bin && echo s > small.txt")
    up.mark("step")
    assert any("huge.bin" in note for note in up.notes)
    undone = up.undo_last()
    assert undone.not_restored == ["huge.bin"] and "huge.bin" in undone.not_restored_note
    assert not (project / "small.txt").exists()


def test_a_failing_undo_changes_nothing(project: Path, data_dir: Path, monkeypatch):
    up = UndoPoints(project, data_dir)
    up.mark("start")
    command(up, project, "echo a > a.txt && echo b > README && rm run.sh && mkdir d")
    up.mark("step")
    after = _tree(project)
    real_write, calls = workspace_io.write_file, []

    def failing(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 2:
            raise PermissionError(13, "Permission denied", args[1])
        return real_write(*args, **kwargs)

    monkeypatch.setattr(workspace_io, "write_file", failing)
    with pytest.raises(UndoError, match="nothing was changed: permission denied"):
        up.undo_last()
    monkeypatch.setattr(workspace_io, "write_file", real_write)
    assert _tree(project) == after
    assert len(up.list()) == 2


def test_errors_are_clear(project: Path, data_dir: Path):
    up = UndoPoints(project, data_dir)
    with pytest.raises(UndoError, match="nothing to undo"):
        up.undo_last()
    up.mark("only")
    with pytest.raises(UndoError, match="nothing to undo"):
        up.undo_last()
    with pytest.raises(UndoError, match="unknown undo point"):
        up.restore("0" * 40)


def test_points_of_one_workspace_are_shared_and_survive_a_restart(project: Path, data_dir: Path):
    up = UndoPoints(project, data_dir)
    up.mark("start")
    up.write_file("a.txt", b"a", None)
    up.mark("step")
    again = UndoPoints(project, data_dir)  # as after a restart
    assert [p.label for p in again.list()] == ["step", "start"]
    again.undo_last()
    assert not (project / "a.txt").exists()


def test_concurrent_marks_of_one_workspace_do_not_collide(project: Path, data_dir: Path):
    stores = [UndoPoints(project, data_dir) for _ in range(4)]
    stores[0].mark("start")
    errors: list[Exception] = []

    def work(i: int) -> None:
        try:
            stores[i].write_file(f"f{i}.txt", str(i).encode(), None)
            stores[i].mark(f"s{i}")
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {p.label for p in stores[0].list()} == {"start", "s0", "s1", "s2", "s3"}
    stores[0].restore(stores[0].list()[-1].id)
    assert not any((project / f"f{i}.txt").exists() for i in range(4))
