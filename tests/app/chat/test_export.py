"""A conversation exported as Markdown with its attachments beside it, all or nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.chat.export import export_markdown
from app.store import Store


def png(path: Path, color=(200, 40, 40)) -> Path:
    from PIL import Image

    Image.new("RGB", (8, 8), color).save(path)
    return path


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "data")
    yield s
    s.close()


def seeded(store, tmp_path):
    conv = store.create_conversation("Trip [to] Kyoto")
    photo = store.import_file(png(tmp_path / "photo.png"))
    (tmp_path / "sub").mkdir()
    other = store.import_file(png(tmp_path / "sub" / "photo.png", (0, 0, 200)))  # same name
    store.add_message(conv.id, "user", "What is in these?", [photo, other])
    store.add_message(conv.id, "assistant", "Two squares:\n\n```python\nprint('red')\n```",
                      thinking="secret thoughts", tool_calls=[{"name": "look", "arguments": {"a": 1}}])
    store.add_message(conv.id, "user", "And this one again?", [photo])
    store.add_message(conv.id, "assistant", "Still red.", finish_reason="cancelled")
    return conv, photo, other


def test_the_text_and_the_files_beside_it(store, tmp_path):
    conv, photo, other = seeded(store, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    target = export_markdown(store, conv.id, out / "Trip.md")
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# Trip [to] Kyoto\n")
    assert "## You\n\n![photo.png](<Trip files/photo.png>)\n\n![photo.png](<Trip files/photo 2.png>)" in text
    assert "What is in these?" in text and "```python\nprint('red')\n```" in text
    assert '"name": "look"' in text and "*(stopped)*" in text
    assert "secret thoughts" not in text
    assert text.count("Trip files/photo.png") == 2  # the same file is copied once, linked twice
    files = out / "Trip files"
    assert sorted(p.name for p in files.iterdir()) == ["photo 2.png", "photo.png"]
    assert (files / "photo.png").read_bytes() == photo.path.read_bytes()
    assert (files / "photo 2.png").read_bytes() == other.path.read_bytes()
    assert sorted(p.name for p in out.iterdir()) == ["Trip files", "Trip.md"]  # no staging left


def test_an_existing_folder_is_never_written_into(store, tmp_path):
    conv, _, _ = seeded(store, tmp_path)
    mine = tmp_path / "Trip files"
    mine.mkdir()
    (mine / "keep.txt").write_text("mine")
    text = export_markdown(store, conv.id, tmp_path / "Trip.md").read_text()
    assert "<Trip files 2/photo.png>" in text
    assert [p.name for p in mine.iterdir()] == ["keep.txt"]


def test_a_failed_export_leaves_nothing_and_keeps_the_earlier_one(store, tmp_path, monkeypatch):
    conv, photo, _ = seeded(store, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "Trip.md").write_text("the earlier export")
    photo.path.unlink()  # an attachment that cannot be read: the copy fails half-way
    with pytest.raises(OSError):
        export_markdown(store, conv.id, out / "Trip.md")
    assert sorted(p.name for p in out.iterdir()) == ["Trip.md"]
    assert (out / "Trip.md").read_text() == "the earlier export"
