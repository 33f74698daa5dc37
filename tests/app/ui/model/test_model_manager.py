"""The model manager, with a fake downloader (no network), and the 4-bit conversion."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from app.ui.model.manager import GB, ModelManagerDialog, check_requirements

BIG = 1000 * GB


def dialog(qtbot, tmp_path, downloader, disk=BIG, memory=64 * GB) -> ModelManagerDialog:
    d = ModelManagerDialog(tmp_path / "models", downloader=downloader,
                           disk_free=lambda p: disk, memory=lambda: memory)
    qtbot.addWidget(d)
    return d


def test_requirements_say_plainly_what_is_missing():
    assert check_requirements(BIG, 64 * GB) == []
    [disk] = check_requirements(10 * GB, 64 * GB)
    assert "34.0 GB of free disk space" in disk and "10.0 GB free" in disk
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
        (target / "config.json").write_text('{"quantization": {"bits": 4}}')  # no conversion
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
        from app.ui.model.manager import DownloadCancelled

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


def test_a_float_download_is_converted_to_4bit_once(qtbot, tmp_path):
    conversions = []

    def downloader(repo_id, target, progress, cancelled):
        (target / "config.json").write_text('{"model_type": "gemma4_unified"}')
        return target

    def converter(src, dst, cancelled):
        conversions.append((src, dst))
        dst.mkdir()
        (dst / "config.json").write_text('{"quantization": {"bits": 4}}')

    d = ModelManagerDialog(tmp_path / "models", downloader=downloader, disk_free=lambda p: BIG,
                           memory=lambda: 64 * GB, converter=converter)
    qtbot.addWidget(d)
    d.repo.setText("org/model")
    with qtbot.waitSignal(d.model_chosen, timeout=3000) as chosen:
        d.start_download()
    target = tmp_path / "models" / "org--model"
    assert chosen.args == [str(target) + "-4bit"] and conversions == [(target, Path(str(target) + "-4bit"))]
    d2 = ModelManagerDialog(tmp_path / "models", downloader=downloader, disk_free=lambda p: BIG,
                            memory=lambda: 64 * GB, converter=converter)
    qtbot.addWidget(d2)
    d2.repo.setText("org/model")
    with qtbot.waitSignal(d2.model_chosen, timeout=3000):
        d2.start_download()
    assert len(conversions) == 1  # the 4-bit copy is reused


def test_real_conversion_in_a_child_process(tiny_checkpoint, tmp_path):
    import json

    from app.ui.model.manager import convert_in_subprocess, needs_conversion

    assert needs_conversion(Path(tiny_checkpoint))
    dst = tmp_path / "tiny-4bit"
    convert_in_subprocess(Path(tiny_checkpoint), dst, threading.Event())
    assert not needs_conversion(dst)
    assert json.loads((dst / "config.json").read_text())["quantization"]["bits"] == 4


def test_failed_conversion_reports_the_reason(tmp_path):
    import sys

    import pytest

    from app.ui.model.manager import convert_in_subprocess

    failing = [sys.executable, "-c", "import sys; print('CheckpointError: no config.json'); sys.exit(2)"]
    with pytest.raises(RuntimeError, match="conversion failed: CheckpointError: no config.json"):
        convert_in_subprocess(tmp_path, tmp_path / "out", threading.Event(), command=failing)


def test_cancelled_conversion_stops_the_child_and_removes_its_output(tmp_path):
    import sys

    import pytest

    from app.ui.model.manager import DownloadCancelled, convert_in_subprocess

    out = tmp_path / "out"
    out.mkdir()
    cancelled = threading.Event()
    threading.Timer(0.3, cancelled.set).start()
    started = time.monotonic()
    with pytest.raises(DownloadCancelled):
        convert_in_subprocess(tmp_path, out, cancelled,
                              command=[sys.executable, "-c", "import time; time.sleep(30)"])
    assert time.monotonic() - started < 5 and not out.exists()
