import os
import unicodedata
from pathlib import Path

import pytest

from app.agent.workspace import PathEscapeError, Workspace, fold_name, is_git_name


def test_relative_and_absolute_paths_inside_resolve(ws: Path):
    (ws / "src").mkdir()
    w = Workspace(ws)
    assert w.resolve("src/a.py") == ws.resolve() / "src" / "a.py"
    assert w.resolve(str(ws / "src")) == ws.resolve() / "src"
    assert w.resolve("src/../b.txt") == ws.resolve() / "b.txt"
    assert w.resolve("") == w.resolve(".") == ws.resolve()


@pytest.mark.parametrize("path", ["../outside.txt", "src/../../x", "/etc/passwd", "~/x"])
def test_paths_that_leave_the_workspace_are_refused(ws: Path, path: str):
    with pytest.raises(PathEscapeError, match="outside the workspace"):
        Workspace(ws).resolve(path)


def test_symlink_escapes_are_refused(ws: Path, tmp_path: Path):
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "key.txt").write_text("k")
    os.symlink(outside, ws / "link_dir")
    os.symlink(outside / "key.txt", ws / "link_file")
    w = Workspace(ws)
    for path in ("link_dir/key.txt", "link_file", "link_dir/new.txt"):
        with pytest.raises(PathEscapeError):
            w.resolve(path)


def test_symlink_inside_the_workspace_is_fine(ws: Path):
    (ws / "real.txt").write_text("x")
    os.symlink(ws / "real.txt", ws / "alias.txt")
    assert Workspace(ws).resolve("alias.txt") == ws.resolve() / "real.txt"


def test_writes_into_dot_git_are_refused_but_reads_are_not(ws: Path):
    (ws / ".git").mkdir()
    w = Workspace(ws)
    assert w.resolve(".git/config") == ws.resolve() / ".git" / "config"
    with pytest.raises(PathEscapeError, match=".git"):
        w.resolve(".git/config", for_write=True)


def test_bad_input_gets_a_clear_error(ws: Path, tmp_path: Path):
    with pytest.raises(PathEscapeError, match="NUL"):
        Workspace(ws).resolve("a\x00b")
    with pytest.raises(PathEscapeError, match="must be a string"):
        Workspace(ws).resolve(3)  # type: ignore[arg-type]
    with pytest.raises(NotADirectoryError, match="does not exist"):
        Workspace(tmp_path / "missing")


@pytest.mark.parametrize(
    "path",
    [
        ".git/config", "tools/.git/config", "a/b/c/d/.git/hooks/pre-commit", ".GIT/notes",
        "sub/.Git/HEAD", ".gIT", ".g\u200cit/config", "\ufeff.git/x", ".git./config", ".git /x",
        "\uff0egit/config", ".gi\u0307t/x", unicodedata.normalize("NFD", ".gìt/x"),
    ],
)  # fmt: skip
def test_any_dot_git_at_any_depth_in_any_form_is_not_writable(ws: Path, path: str):
    with pytest.raises(PathEscapeError, match=r"\.git folder"):
        Workspace(ws).resolve(path, for_write=True)


def test_names_that_only_look_like_dot_git_are_fine(ws: Path):
    w = Workspace(ws)
    for path in (".github/workflows/ci.yml", ".gitignore", ".gitattributes", "git/x", "my.git"):
        assert w.resolve(path, for_write=True) == ws.resolve() / path


def test_a_link_to_a_dot_git_folder_is_not_a_way_in(ws: Path):
    (ws / "sub" / ".git").mkdir(parents=True)
    (ws / "innocent").symlink_to(ws / "sub" / ".git")
    with pytest.raises(PathEscapeError, match=r"\.git folder"):
        Workspace(ws).resolve("innocent/config", for_write=True)


def test_fold_name_compares_as_a_mac_file_system_does():
    assert is_git_name(".GIT") and is_git_name(unicodedata.normalize("NFC", ".git"))
    assert fold_name("Ä") == fold_name(unicodedata.normalize("NFD", "ä"))
    assert not is_git_name(".gitx") and not is_git_name("git")
