"""The model manager (with a fake downloader: no network) and the Markdown renderer."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from app.ui.markdown import split_blocks
from app.ui.markdown_view import MarkdownView
from app.ui.model_manager import GB, ModelManagerDialog, check_requirements

BIG = 1000 * GB


def dialog(qtbot, tmp_path, downloader, disk=BIG, memory=64 * GB) -> ModelManagerDialog:
    d = ModelManagerDialog(tmp_path / "models", downloader=downloader,
                           disk_free=lambda p: disk, memory=lambda: memory)
    qtbot.addWidget(d)
    return d


def test_requirements_say_plainly_what_is_missing():
    assert check_requirements(BIG, 64 * GB) == []
    [disk] = check_requirements(10 * GB, 64 * GB)
    assert "26.0 GB of free disk space" in disk and "10.0 GB free" in disk
    [memory] = check_requirements(BIG, 8 * GB)
    assert "at least 16.0 GB of memory" in memory and "8.0 GB" in memory
    assert check_requirements(BIG, 0) == []  # unknown memory does not block


def test_too_small_mac_is_refused_before_downloading(qtbot, tmp_path):
    calls = []
    d = dialog(qtbot, tmp_path, lambda *a: calls.append(a), memory=8 * GB)
    assert d.start_download() is False
    assert "too small" in d.message.text() and calls == []


def test_bad_repo_id_is_refused(qtbot, tmp_path):
    d = dialog(qtbot, tmp_path, lambda *a: None)
    d.repo.setText("not a repo")
    assert d.start_download() is False and "org/name" in d.message.text()


def test_download_reports_progress_and_chooses_the_model(qtbot, tmp_path):
    def downloader(repo_id, target: Path, progress, cancelled):
        for done in range(0, 101, 25):
            progress(done * 2**20, 100 * 2**20)
        (target / "config.json").write_text("{}")
        return target

    d = dialog(qtbot, tmp_path, downloader)
    d.repo.setText("org/model")
    with qtbot.waitSignal(d.model_chosen, timeout=3000) as chosen:
        assert d.start_download()
    assert chosen.args == [str(tmp_path / "models" / "org--model")]
    assert d.progress.maximum() == 100


def test_cancel_stops_the_download_and_can_resume(qtbot, tmp_path):
    started = threading.Event()

    def downloader(repo_id, target, progress, cancelled):
        from app.ui.model_manager import DownloadCancelled

        started.set()
        while not cancelled.is_set():
            time.sleep(0.01)
        raise DownloadCancelled()

    d = dialog(qtbot, tmp_path, downloader)
    d.start_download()
    assert d.cancel_button.isVisibleTo(d)
    started.wait(2)
    with qtbot.waitSignal(d.download_finished, timeout=3000):
        d.cancel_button.click()
    assert "cancelled" in d.message.text().lower() and "resume" in d.message.text()
    assert d.download_button.isVisibleTo(d)


def test_download_errors_are_shown(qtbot, tmp_path):
    def downloader(*args):
        raise OSError("Connection refused")

    d = dialog(qtbot, tmp_path, downloader)
    with qtbot.waitSignal(d.download_finished, timeout=3000):
        d.start_download()
    assert "Connection refused" in d.message.text()


def test_demo_button_asks_for_the_demo(qtbot, tmp_path):
    d = dialog(qtbot, tmp_path, lambda *a: None)
    with qtbot.waitSignal(d.demo_requested, timeout=1000):
        d.demo_button.click()


def test_markdown_splits_prose_and_code():
    blocks = split_blocks("Intro *x*\n\n```rust\nfn main() {}\n```\n\n| a |\n|---|\n| 1 |\n")
    assert [b.kind for b in blocks] == ["prose", "code", "prose"]
    assert "<em>x</em>" in blocks[0].html
    assert blocks[1].code == "fn main() {}" and blocks[1].language == "rust"
    assert "<span" in blocks[1].html  # highlighted
    assert "<table" in blocks[2].html


def test_markdown_escapes_raw_html_and_handles_an_open_fence():
    [prose] = split_blocks("<script>alert(1)</script>")
    assert "<script>" not in prose.html and "&lt;script&gt;" in prose.html
    blocks = split_blocks("Look:\n\n```python\ndef f(")
    assert blocks[-1].kind == "code" and blocks[-1].code == "def f("


def test_markdown_view_updates_in_place(qtbot):
    view = MarkdownView()
    qtbot.addWidget(view)
    view.set_markdown("Hello")
    first = view._widgets[0]
    view.set_markdown("Hello world\n\n```\ncode")
    assert view._widgets[0] is first and len(view.code_blocks()) == 1
    block = view.code_blocks()[0]
    view.set_markdown("Hello world\n\n```\ncode more\n```")
    assert view.code_blocks()[0] is block and block.code == "code more"
    view.set_markdown("Just text")
    assert view.code_blocks() == [] and len(view._widgets) == 1
