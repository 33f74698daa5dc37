from pathlib import Path

import pytest

from app.agent import files
from app.agent.files import ToolError
from app.agent.workspace import PathEscapeError, Workspace


def test_list_dir_puts_folders_first_and_hides_dot_git(ws: Path):
    (ws / ".git").mkdir()
    (ws / "src").mkdir()
    (ws / "a.txt").write_text("a")
    assert files.list_dir(Workspace(ws), ".")["entries"] == ["src/", "a.txt"]
    with pytest.raises(ToolError, match="not a folder"):
        files.list_dir(Workspace(ws), "a.txt")


def test_read_file_line_ranges(ws: Path):
    (ws / "f.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    w = Workspace(ws)
    r = files.read_file(w, "f.txt", 3, 5)
    assert r["content"] == "line 3\nline 4\nline 5\n"
    assert (r["start_line"], r["end_line"], r["total_lines"]) == (3, 5, 10)
    assert "start_line=6" in r["note"]
    assert "note" not in files.read_file(w, "f.txt")
    with pytest.raises(ToolError, match="only 10 lines"):
        files.read_file(w, "f.txt", 11)
    with pytest.raises(ToolError, match="does not exist"):
        files.read_file(w, "nope.txt")


def test_read_file_refuses_binary(ws: Path):
    (ws / "b.bin").write_bytes(b"\x00\x01\x02")
    with pytest.raises(ToolError, match="binary"):
        files.read_file(Workspace(ws), "b.bin")


def test_read_file_caps_long_files(ws: Path):
    (ws / "big.txt").write_text("x\n" * 1000)
    r = files.read_file(Workspace(ws), "big.txt")
    assert r["end_line"] == files.MAX_READ_LINES
    assert r["content"].count("\n") == files.MAX_READ_LINES


def test_edit_replaces_one_unique_passage(ws: Path):
    (ws / "m.py").write_text("a = 1\nb = 2\n")
    change = files.plan_edit(Workspace(ws), "m.py", "b = 2", "b = 3")
    assert (ws / "m.py").read_text() == "a = 1\nb = 2\n"  # planning writes nothing
    assert "-b = 2" in change.diff() and "+b = 3" in change.diff()
    change.apply()
    assert (ws / "m.py").read_text() == "a = 1\nb = 3\n"


def test_edit_not_found_and_not_unique_are_clear_errors(ws: Path):
    (ws / "m.py").write_text("x = 1\nx = 1\n    y = 2\n")
    w = Workspace(ws)
    with pytest.raises(ToolError, match="not found"):
        files.plan_edit(w, "m.py", "z = 9", "z = 0")
    with pytest.raises(ToolError, match="appears 2 times"):
        files.plan_edit(w, "m.py", "x = 1", "x = 2")
    with pytest.raises(ToolError, match="whitespace"):
        files.plan_edit(w, "m.py", "y = 2 ", "y = 3")
    with pytest.raises(ToolError, match="empty"):
        files.plan_edit(w, "m.py", "", "q")


def test_edit_keeps_windows_line_endings(ws: Path):
    (ws / "w.txt").write_bytes(b"one\r\ntwo\r\n")
    files.plan_edit(Workspace(ws), "w.txt", "one\ntwo", "uno\ndos").apply()
    assert (ws / "w.txt").read_bytes() == b"uno\r\ndos\r\n"


def test_write_creates_folders_and_shows_a_diff(ws: Path):
    change = files.plan_write(Workspace(ws), "pkg/new.py", "print('hi')\n")
    assert change.old is None and "+++ b/pkg/new.py" in change.diff()
    change.apply()
    assert (ws / "pkg" / "new.py").read_text() == "print('hi')\n"


def test_write_outside_or_into_git_is_refused(ws: Path):
    with pytest.raises(PathEscapeError):
        files.plan_write(Workspace(ws), "../evil.py", "x")
    with pytest.raises(PathEscapeError):
        files.plan_write(Workspace(ws), ".git/hooks/pre-commit", "x")
    assert not (ws.parent / "evil.py").exists()


def test_search_text_and_regex_respects_gitignore(ws: Path):
    (ws / ".gitignore").write_text("build/\n*.log\n")
    (ws / "build").mkdir()
    (ws / "build" / "out.py").write_text("needle = 1\n")
    (ws / "app.log").write_text("needle\n")
    (ws / "src").mkdir()
    (ws / "src" / "a.py").write_text("x = 1\nneedle = 2\n")
    (ws / "src" / ".gitignore").write_text("gen.py\n")
    (ws / "src" / "gen.py").write_text("needle = 3\n")
    (ws / "b.py").write_text("def needle_fn():\n    pass\n")
    w = Workspace(ws)
    hits = files.search(w, "needle")["matches"]
    assert hits == ["b.py:1: def needle_fn():", "src/a.py:2: needle = 2"]
    regex = files.search(w, r"^needle\s*=", regex=True)["matches"]
    assert regex == ["src/a.py:2: needle = 2"]
    assert files.search(w, "needle", path="src")["total"] == 1
    with pytest.raises(ToolError, match="invalid regular expression"):
        files.search(w, "(", regex=True)
    # Plain text is not a regex: "(" is found literally.
    (ws / "c.py").write_text("f(\n")
    assert files.search(w, "f(")["total"] == 1


def test_a_change_is_not_applied_over_a_file_changed_meanwhile(ws: Path):
    (ws / "a.txt").write_text("one\n")
    change = files.plan_edit(Workspace(ws), "a.txt", "one", "two")
    (ws / "a.txt").write_text("someone else's edit\n")
    with pytest.raises(ToolError, match="changed while waiting"):
        change.apply()
    assert (ws / "a.txt").read_text() == "someone else's edit\n"
    new = files.plan_write(Workspace(ws), "b.txt", "x")
    (ws / "b.txt").write_text("y")
    with pytest.raises(ToolError, match="changed while waiting"):
        new.apply()


def test_huge_files_are_refused_with_advice(ws: Path, monkeypatch):
    monkeypatch.setattr(files, "MAX_TEXT_FILE_BYTES", 100)
    (ws / "log.txt").write_text("x\n" * 100)
    with pytest.raises(ToolError, match="too large.*head, tail or grep"):
        files.read_file(Workspace(ws), "log.txt")


def test_diff_of_a_file_without_a_final_newline_keeps_lines_apart():
    from pathlib import Path

    from app.agent.files import FileChange

    diff = FileChange(Path("x.txt"), "x.txt", b"a\nb", b"a\nc").diff()
    assert "-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n" in diff


@pytest.mark.timeout(60)  # a backtracking engine would not finish (it doubles per character)
def test_search_time_is_linear_even_for_a_catastrophic_pattern(ws: Path):
    (ws / "a.txt").write_text("a" * 5000 + "!\n" + "aaa\n")
    result = files.search(Workspace(ws), r"(a+)+$", regex=True)
    assert result["matches"] == ["a.txt:2: aaa"]


def test_patterns_the_linear_engine_cannot_run_get_a_clear_message(ws: Path):
    for pattern in (r"(?=x)y", r"(a)\1", r"(?<!x)y"):
        with pytest.raises(ToolError, match="without look-around or back-references"):
            files.search(Workspace(ws), pattern, regex=True)


def test_a_search_stops_when_cancelled(ws: Path):
    import threading

    (ws / "a.txt").write_text("x\n")
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(files.ToolStopped):
        files.search(Workspace(ws), "x", cancel=cancel)


def test_read_and_list_refuse_special_files_and_hide_any_dot_git(ws: Path):
    import os

    os.mkfifo(ws / "pipe")
    (ws / ".GIT").mkdir()
    with pytest.raises(ToolError, match="FIFO"):
        files.read_file(Workspace(ws), "pipe")
    assert files.list_dir(Workspace(ws))["entries"] == ["pipe"]
