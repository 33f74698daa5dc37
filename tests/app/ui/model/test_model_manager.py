"""The model manager dialog, driven for real: choices, recommendation, downloads (fake hub, no network),
errors as sentences, the installed list, and deleting with a real confirmation dialog."""

from __future__ import annotations

import functools
import json
import threading
import time
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import errors as hub
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from app.ui.model.manager import ModelManagerDialog
from app.ui.status_bar import format_bytes
from engine.download import DownloadCancelled, download_repo
from engine.releases import COMMUNITY_4BIT, EIGHT_BIT, GIB, OPTIQ_4BIT, RELEASES, TANDEM_4BIT

BIG = 1000 * GIB


class FakeHub:
    """download_repo's signature; writes a small quantized (or float) repository and reports progress."""

    def __init__(self, quantized=True):
        self.calls, self.tokens, self.quantized = [], [], quantized

    def __call__(self, repo_id, target, progress, cancelled, token=None):
        self.calls.append(repo_id)
        self.tokens.append(token)
        for done in range(0, 101, 25):
            progress(done * 2**20, 100 * 2**20)
        write_model(target, quantized=self.quantized or "assistant" in repo_id)
        return target


def write_model(folder: Path, quantized=True, drafter=False):
    folder.mkdir(parents=True, exist_ok=True)
    config = {"model_type": "gemma4_unified", **({"quantization": {"bits": 4}} if quantized else {})}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "model.safetensors").write_bytes(b"w" * 1000)
    if drafter:
        write_model(folder / "drafter")


def make(qtbot, tmp_path, hub=None, disk=BIG, memory=64 * GIB, **kwargs) -> ModelManagerDialog:
    d = ModelManagerDialog(tmp_path / "models", downloader=hub or FakeHub(), disk_free=lambda p: disk,
                           memory=lambda: memory, **kwargs)
    qtbot.addWidget(d)
    return d


def row_texts(d) -> list[str]:
    return [d.choices.item(i).text() for i in range(d.choices.count())]


def answer_message_box(button: str, seen: list[str]) -> None:
    """Click `button` in the next QMessageBox as soon as it is shown (it runs its own event loop)."""
    def poll():
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(10, poll)
            return
        seen.append(f"{box.text()} {box.informativeText()}")
        next(b for b in box.buttons() if b.text().replace("&", "") == button).click()
    QTimer.singleShot(10, poll)


def test_every_choice_shows_its_sizes_memory_and_inputs_and_one_is_recommended(qtbot, tmp_path):
    d = make(qtbot, tmp_path, memory=16 * GIB)
    texts = row_texts(d)
    assert len(texts) == len(RELEASES)
    for choice, text in zip(RELEASES, texts):
        assert choice.title in text and format_bytes(choice.download_bytes) in text
        assert format_bytes(choice.memory_bytes) in text and choice.inputs in text
    [recommended] = [t for t in texts if "recommended for this Mac" in t]
    assert TANDEM_4BIT.title in recommended and d.choices.currentItem().text() == recommended
    assert "more memory than this Mac gives the model" in texts[0]  # the 8-bit build on 16 GB
    assert "text only" in texts[-1]


def test_too_small_a_mac_is_told_why_and_what_to_choose(qtbot, tmp_path):
    hub = FakeHub()
    d = make(qtbot, tmp_path, hub, memory=16 * GIB)
    d.select(EIGHT_BIT.key)
    d.action_button.click()
    text = d.message.text()
    assert "does not fit this Mac" in text and format_bytes(EIGHT_BIT.memory_bytes) in text
    assert f"Choose {TANDEM_4BIT.title} instead." in text and hub.calls == []
    assert d.message.objectName() == "ErrorLabel"


def test_the_disk_check_uses_the_numbers_the_list_shows(qtbot, tmp_path):
    hub = FakeHub()
    d = make(qtbot, tmp_path, hub, disk=10 * GIB)
    d.select(TANDEM_4BIT.key)
    assert d.start_download(TANDEM_4BIT) is False
    text = d.message.text()
    assert f"{format_bytes(TANDEM_4BIT.peak_disk_bytes)} of free disk space while it converts" in text
    assert f"({format_bytes(TANDEM_4BIT.disk_bytes)} once done)" in text and "10.0 GB free" in text
    assert format_bytes(TANDEM_4BIT.download_bytes) in d.choices.currentItem().text()
    assert hub.calls == []


def test_a_download_fetches_the_drafter_too_and_chooses_the_model(qtbot, tmp_path):
    hub = FakeHub()
    d = make(qtbot, tmp_path, hub)
    d.select(COMMUNITY_4BIT.key)
    assert d.action_button.text() == "Download"
    with qtbot.waitSignal(d.model_chosen, timeout=5000) as chosen:
        d.action_button.click()
    folder = tmp_path / "models" / COMMUNITY_4BIT.folder_name
    assert chosen.args == [str(folder)] and (folder / "drafter" / "config.json").exists()
    assert hub.calls == [COMMUNITY_4BIT.repo_id, COMMUNITY_4BIT.drafter_repo_id]
    assert d.progress.maximum() == 100


def test_cancel_stops_the_download_and_it_can_resume(qtbot, tmp_path):
    started = threading.Event()

    def downloader(repo_id, target, progress, cancelled, token=None):
        target.mkdir(parents=True, exist_ok=True)
        (target / "model-00001-of-00002.safetensors").write_bytes(b"x" * 2048)
        started.set()
        while not cancelled.is_set():
            time.sleep(0.01)
        raise DownloadCancelled()

    d = make(qtbot, tmp_path, downloader)
    d.select(OPTIQ_4BIT.key)
    d.action_button.click()
    assert d.cancel_button.isVisibleTo(d) and not d.action_button.isEnabled()
    started.wait(2)
    with qtbot.waitSignal(d.job.finished, timeout=3000):
        d.cancel_button.click()
    assert "cancelled" in d.message.text().lower() and "resume" in d.message.text()
    assert "Download not finished (2 KB so far)" in d.choices.currentItem().text()
    assert d.action_button.text() == "Resume Download" and d.action_button.isEnabled()
    d2 = make(qtbot, tmp_path, FakeHub())
    d2.select(OPTIQ_4BIT.key)
    with qtbot.waitSignal(d2.model_chosen, timeout=5000):
        d2.action_button.click()
        assert "Resuming the download" in d2.message.text() and "2 KB already here" in d2.message.text()


def gated(*args, **kwargs):
    request = httpx2.Request("GET", "https://huggingface.co/api/models/x")
    raise hub.GatedRepoError("403 Client Error: raw text", response=httpx2.Response(403, request=request))


def test_a_gated_repository_asks_for_a_token_in_a_sentence(qtbot, tmp_path):
    snapshots = []

    def snapshot(repo_id, local_dir, token, tqdm_class):
        snapshots.append(token)
        if token is None:
            gated()
        write_model(Path(local_dir))
        return local_dir

    d = make(qtbot, tmp_path, functools.partial(download_repo, snapshot=snapshot))
    d.select(COMMUNITY_4BIT.key)
    with qtbot.waitSignal(d.job.finished, timeout=5000):
        d.action_button.click()
    text = d.message.text()
    assert f"{COMMUNITY_4BIT.repo_id} is gated" in text and "settings/tokens" in text
    assert "raw text" not in text and "Error" not in text
    assert d.token.isVisibleTo(d)
    qtbot.keyClicks(d.token, "hf_secret")
    with qtbot.waitSignal(d.model_chosen, timeout=5000):
        d.action_button.click()
    assert snapshots == [None, "hf_secret", "hf_secret"]


def test_no_network_is_a_sentence_in_a_place_with_room(qtbot, tmp_path):
    def snapshot(*args, **kwargs):
        raise httpx2.ConnectError("[Errno -3] Temporary failure in name resolution")

    d = make(qtbot, tmp_path, functools.partial(download_repo, snapshot=snapshot))
    with qtbot.waitSignal(d.job.finished, timeout=5000):
        d.action_button.click()
    assert d.message.text().startswith("Tandem could not reach Hugging Face.")
    assert "Errno" not in d.message.text() and d.message.wordWrap()
    assert d.minimumSize() != d.maximumSize()  # resizable, not a fixed box


def test_installed_models_show_which_is_in_use_and_can_be_used(qtbot, tmp_path):
    models = tmp_path / "models"
    write_model(models / COMMUNITY_4BIT.folder_name, drafter=True)
    write_model(models / EIGHT_BIT.folder_name)
    write_model(models / "someone--custom")
    hub = FakeHub()
    d = make(qtbot, tmp_path, hub, current_model=str(models / COMMUNITY_4BIT.folder_name))
    texts = row_texts(d)
    assert texts[1].endswith("In use") and texts[0].endswith("Installed, without its drafter (slower answers)")
    assert texts[-1].startswith("someone--custom") and texts[-1].endswith("Installed")
    d.select(COMMUNITY_4BIT.key)
    assert d.action_button.text() == "In Use" and not d.action_button.isEnabled()
    assert not d.delete_button.isEnabled()
    d.select("someone--custom")
    with qtbot.waitSignal(d.model_chosen, timeout=1000) as chosen:
        d.action_button.click()
    assert chosen.args == [str(models / "someone--custom")] and hub.calls == []


def test_delete_asks_by_name_and_cancel_keeps_the_model(qtbot, tmp_path):
    models = tmp_path / "models"
    write_model(models / EIGHT_BIT.folder_name, drafter=True)
    d = make(qtbot, tmp_path)
    d.select(EIGHT_BIT.key)
    seen: list[str] = []
    answer_message_box("Cancel", seen)
    assert d.ask_delete() is False
    assert EIGHT_BIT.title in seen[0] and str(models / EIGHT_BIT.folder_name) in seen[0]
    assert (models / EIGHT_BIT.folder_name).exists()
    answer_message_box("Delete", seen)
    d.delete_button.click()
    assert not (models / EIGHT_BIT.folder_name).exists()
    assert "Installed" not in row_texts(d)[0] and f"Deleted “{EIGHT_BIT.title}”." == d.message.text()


def test_a_float_repository_is_converted_to_4bit_once(qtbot, tmp_path):
    conversions = []

    def converter(src, dst, cancelled):
        conversions.append(src)
        write_model(dst)

    d = make(qtbot, tmp_path, FakeHub(quantized=False), converter=converter)
    d.repo.setText("org/model")
    with qtbot.waitSignal(d.model_chosen, timeout=5000) as chosen:
        d.repo_button.click()
    target = tmp_path / "models" / "org--model"
    assert chosen.args == [str(target) + "-4bit"] and conversions == [target] and not target.exists()
    again = FakeHub(quantized=False)
    d2 = make(qtbot, tmp_path, again, converter=converter)
    d2.repo.setText("org/model")
    with qtbot.waitSignal(d2.model_chosen, timeout=5000):
        d2.repo_button.click()
    assert len(conversions) == 1 and again.calls == []  # the 4-bit copy is reused


@pytest.mark.parametrize("text", ["not a repo", "/x", "owner/"])
def test_bad_repo_id_is_refused(qtbot, tmp_path, text):
    hub = FakeHub()
    d = make(qtbot, tmp_path, hub)
    d.repo.setText(text)
    assert d.download_repo() is False and "owner/name" in d.message.text() and hub.calls == []


def test_demo_button_asks_for_the_demo(qtbot, tmp_path):
    d = make(qtbot, tmp_path)
    with qtbot.waitSignal(d.demo_requested, timeout=1000):
        d.demo_button.click()


def test_the_window_opens_it_on_its_models_folder_with_the_model_in_use(qtbot, open_window, data_dir):
    folder = data_dir / "models" / COMMUNITY_4BIT.folder_name
    write_model(folder, drafter=True)
    window, _ = open_window(model=str(folder))
    seen = []

    def inspect():
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, ModelManagerDialog):
            QTimer.singleShot(10, inspect)
            return
        seen.append(row_texts(dialog))
        dialog.reject()

    QTimer.singleShot(10, inspect)
    window.open_model_manager()
    assert seen and seen[0][1].startswith(COMMUNITY_4BIT.title) and seen[0][1].endswith("In use")
