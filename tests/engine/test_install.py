"""engine.install: a release onto disk (model, drafter, one conversion), the list of models, deleting one."""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest

from engine import install as inst
from engine.download import DownloadCancelled, DownloadError
from engine.install import (
    convert_in_subprocess,
    delete_model,
    install,
    install_release,
    installed_models,
    needs_conversion,
)
from engine.releases import COMMUNITY_4BIT, TANDEM_4BIT


class FakeHub:
    """Repositories by id: a float or quantized model, or a drafter. Records every download."""

    def __init__(self, quantized: bool = False):
        self.calls: list[tuple[str, Path]] = []
        self.quantized = quantized

    def __call__(self, repo_id, target, progress, cancelled, token=None):
        self.calls.append((repo_id, target))
        target.mkdir(parents=True, exist_ok=True)
        config = {"model_type": "gemma4_unified_assistant"} if "assistant" in repo_id else (
            {"model_type": "gemma4_unified", **({"quantization": {"bits": 4}} if self.quantized else {})})
        (target / "config.json").write_text(json.dumps(config))
        (target / "model.safetensors").write_bytes(b"w" * 100)
        progress(100, 100)
        return target


def fake_converter(src, dst, cancelled):
    """What engine.convert does to the folder: quantized weights, other files and subfolders copied."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".*"))
    config = json.loads((dst / "config.json").read_text())
    (dst / "config.json").write_text(json.dumps({**config, "quantization": {"bits": 4}}))


def test_google_release_downloads_both_converts_once_and_keeps_only_the_4bit_copy(tmp_path):
    hub, stages = FakeHub(), []
    folder = install_release(TANDEM_4BIT, tmp_path, lambda s, d, t: stages.append(s), threading.Event(),
                             downloader=hub, converter=fake_converter)
    source = tmp_path / TANDEM_4BIT.download_folder_name
    assert folder == tmp_path / TANDEM_4BIT.folder_name
    assert hub.calls == [(TANDEM_4BIT.repo_id, source), (TANDEM_4BIT.drafter_repo_id, source / "drafter")]
    assert stages == ["model", "drafter", "convert"]
    assert not source.exists() and not needs_conversion(folder) and (folder / "drafter" / "config.json").exists()
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no partial folder left behind
    again = FakeHub()
    assert install_release(TANDEM_4BIT, tmp_path, lambda *a: None, threading.Event(), downloader=again,
                           converter=fake_converter) == folder
    assert again.calls == []  # installed: nothing to fetch


def test_a_ready_mlx_build_gets_its_drafter_inside_it(tmp_path):
    hub = FakeHub(quantized=True)
    folder = install_release(COMMUNITY_4BIT, tmp_path, lambda *a: None, threading.Event(), downloader=hub,
                             converter=fake_converter)
    assert folder == tmp_path / COMMUNITY_4BIT.folder_name
    assert hub.calls[1] == (COMMUNITY_4BIT.drafter_repo_id, folder / "drafter")


@pytest.mark.parametrize("failure", [DownloadCancelled(), DownloadError("The conversion failed.")])
def test_a_stopped_conversion_leaves_the_download_and_no_4bit_folder(tmp_path, failure):
    def converter(src, dst, cancelled):
        dst.mkdir()
        (dst / "model-00001-of-00002.safetensors").write_bytes(b"half")
        raise failure

    with pytest.raises(type(failure)):
        install("org/float", tmp_path, lambda *a: None, threading.Event(), downloader=FakeHub(),
                converter=converter)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["org--float"]
    assert needs_conversion(tmp_path / "org--float")


def test_the_list_shows_complete_and_partial_models_and_forgets_interrupted_deletes(tmp_path):
    install_release(COMMUNITY_4BIT, tmp_path, lambda *a: None, threading.Event(),
                    downloader=FakeHub(quantized=True), converter=fake_converter)
    partial = tmp_path / "org--half" / ".cache" / "huggingface" / "download"
    partial.mkdir(parents=True)
    (partial / "x.incomplete").write_bytes(b"12345")
    (tmp_path / ".deleting-old-123" / "old").mkdir(parents=True)
    (tmp_path / "empty").mkdir()
    models = installed_models(tmp_path)
    assert [(m.folder.name, m.complete, m.release is COMMUNITY_4BIT, m.has_drafter) for m in models] == [
        (COMMUNITY_4BIT.folder_name, True, True, True), ("org--half", False, False, False)]
    assert models[0].title == COMMUNITY_4BIT.title and models[1].title == "org--half"
    assert models[1].size_bytes == 5
    assert not (tmp_path / ".deleting-old-123").exists()


def test_delete_is_all_or_nothing(tmp_path, monkeypatch):
    model = tmp_path / "org--m"
    (model / "drafter").mkdir(parents=True)
    (model / "config.json").write_text("{}")
    with pytest.raises(ValueError):
        delete_model(tmp_path, tmp_path)  # the models folder itself
    with pytest.raises(ValueError):
        delete_model(tmp_path.parent, tmp_path)

    def failing_replace(src, dst):
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as patch:
        patch.setattr(inst.os, "replace", failing_replace)
        with pytest.raises(PermissionError):
            delete_model(model, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["org--m"] and (model / "config.json").exists()
    delete_model(model, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_real_conversion_in_a_child_process(tiny_checkpoint, tmp_path):
    assert needs_conversion(Path(tiny_checkpoint))
    dst = tmp_path / "tiny-4bit"
    convert_in_subprocess(Path(tiny_checkpoint), dst, threading.Event())
    assert not needs_conversion(dst)
    assert json.loads((dst / "config.json").read_text())["quantization"]["bits"] == 4


def test_failed_conversion_is_a_sentence_and_keeps_the_reason(tmp_path):
    failing = [sys.executable, "-c", "import sys; print('CheckpointError: no config.json'); sys.exit(2)"]
    with pytest.raises(DownloadError, match="conversion to 4-bit failed") as caught:
        convert_in_subprocess(tmp_path, tmp_path / "out", threading.Event(), command=failing)
    assert caught.value.detail == "CheckpointError: no config.json"


def test_cancelled_conversion_stops_the_child_and_removes_its_output(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    cancelled = threading.Event()
    threading.Timer(0.3, cancelled.set).start()
    started = time.monotonic()
    with pytest.raises(DownloadCancelled):
        convert_in_subprocess(tmp_path, out, cancelled,
                              command=[sys.executable, "-c", "import time; time.sleep(30)"])
    assert time.monotonic() - started < 5 and not out.exists()


def test_install_download_and_the_catalog_import_no_mlx():
    """The app's GUI process uses them: MLX (and huggingface_hub until a download starts) stay out."""
    import subprocess

    code = ("import sys, engine.install, engine.releases, engine.download; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mlx', 'huggingface_hub', 'PySide6')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.stdout.strip() == "[]"
