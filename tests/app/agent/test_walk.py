"""The workspace walk: .gitignore as git reads it, .git folders skipped, links not followed."""

from pathlib import Path

import pytest

from app.agent import walk as walk_module
from app.agent.walk import IgnoreRules, WalkStopped, walk


def test_gitignore_files_apply_below_their_folder_and_deeper_ones_win(ws: Path):
    (ws / ".gitignore").write_text("*.log\nbuild/\n")
    (ws / "src" / "build").mkdir(parents=True)
    (ws / "src" / ".gitignore").write_text("!keep.log\ngen/\n")
    for rel in ("a.log", "src/keep.log", "src/x.log", "src/build/o", "src/gen/g.py", "src/m.py"):
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text("x")
    seen = walk(ws)
    files = sorted(rel for rel, e in seen.entries.items() if e.kind == "file")
    assert files == [".gitignore", "src/.gitignore", "src/keep.log", "src/m.py"]
    assert seen.complete


def test_dot_git_in_any_case_is_skipped_and_links_are_not_followed(ws: Path, tmp_path: Path):
    for rel in (".git/config", "sub/.GIT/HEAD", "deep/er/.Git/x", "sub/ok.txt"):
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_text("x")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "o.txt").write_text("o")
    (ws / "link").symlink_to(tmp_path / "outside")
    seen = walk(ws)
    assert not any(".git" in rel.lower() for rel in seen.entries)
    assert seen.entries["link"].kind == "link" and seen.entries["link"].target.endswith("outside")
    assert "link/o.txt" not in seen.entries


def test_rules_of_an_earlier_walk_are_kept(ws: Path):
    (ws / ".gitignore").write_text(".env\n")
    (ws / ".env").write_text("secret")
    first = walk(ws)
    (ws / ".gitignore").write_text("")
    assert ".env" not in walk(ws, rules=first.rules).entries
    assert ".env" in walk(ws, rules=IgnoreRules()).entries


def test_the_walk_is_bounded_and_can_be_cancelled(ws: Path, monkeypatch):
    for i in range(10):
        (ws / f"f{i}").write_text("x")
    partial = walk(ws, limit=4)
    assert len(partial.entries) == 4 and not partial.complete
    monkeypatch.setattr(walk_module, "MAX_DEPTH", 2)
    (ws / "a" / "b" / "c").mkdir(parents=True)
    assert not walk(ws).complete
    cancel = walk_module.threading.Event()
    cancel.set()
    with pytest.raises(WalkStopped):
        walk(ws, cancel=cancel)
