"""Images and audio in the composer: real QDropEvents, paste, the attach path, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest
from media_drops import drop_files
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage

from app.ui.chat.attachment_intake import check_attachable
from engine import protocol as ev


def png(path: Path, size=(40, 30), color=(200, 40, 40)) -> Path:
    from PIL import Image

    Image.new("RGB", size, color).save(path)
    return path


def test_dropped_image_is_prepared_then_sent(qtbot, open_window, tmp_path, data_dir):
    window, engine = open_window(replies=["A red box."])
    image = png(tmp_path / "red.png")
    drop = drop_files(window.chat_view.viewport(), [image])  # anywhere in the window
    assert drop.isAccepted()

    [chip] = window.composer.chips
    assert chip.attachment.filename == "red.png"
    stored_copy = chip.attachment.path
    assert stored_copy.is_relative_to(data_dir / "attachments") and stored_copy.exists()
    qtbot.waitUntil(lambda: chip.status == "ready", timeout=2000)
    [prepare] = engine.of_type(ev.PrepareMedia)
    assert prepare.item == {"type": "image", "image": str(stored_copy)}
    assert prepare.session_id == window.controller.current_id

    qtbot.keyClicks(window.composer.edit, "what is it?")
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.chat_view.last().answer == "A red box.", timeout=3000)
    [send] = engine.of_type(ev.SendMessage)
    assert send.content == [{"type": "image", "image": str(stored_copy)},
                            {"type": "text", "text": "what is it?"}]
    assert engine.commands.index(prepare) < engine.commands.index(send)
    assert window.composer.chips == []
    user = window.store.messages(window.controller.current_id)[0]
    assert user.attachments[0].path == stored_copy


def test_drop_on_the_composer_text_field(qtbot, open_window, tmp_path):
    window, engine = open_window()
    drop_files(window.composer, [png(tmp_path / "a.png")])
    assert len(window.composer.chips) == 1 and len(engine.of_type(ev.PrepareMedia)) == 1


def test_pasted_image_becomes_a_chip(qtbot, open_window):
    window, engine = open_window()
    image = QImage(24, 16, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.green)
    QGuiApplication.clipboard().setImage(image)
    window.composer.edit.setFocus()
    window.composer.edit.paste()
    [chip] = window.composer.chips
    assert chip.attachment.kind == "image" and chip.attachment.suffix == ".png"
    assert QImage(str(chip.attachment.path)).size() == image.size()
    assert window.composer.text == ""  # the image did not turn into text
    [prepare] = engine.of_type(ev.PrepareMedia)
    assert prepare.item["image"] == str(chip.attachment.path)


def test_corrupt_image_drop_shows_an_error_and_loses_nothing(qtbot, open_window, tmp_path):
    window, engine = open_window()
    good = png(tmp_path / "good.png")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 10)
    window.composer.edit.setPlainText("keep this draft")
    drop_files(window.composer, [good])
    drop_files(window.composer, [broken])

    assert window.composer.error_label.isVisibleTo(window)
    assert "broken.png" in window.composer.error_label.text()
    assert window.composer.text == "keep this draft"
    assert [c.attachment.filename for c in window.composer.chips] == ["good.png"]
    assert [p.item["image"] for p in engine.of_type(ev.PrepareMedia)] == [
        str(window.composer.chips[0].attachment.path)]
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.chat_view.last().finish_reason == "stop", timeout=3000)
    assert engine.of_type(ev.SendMessage)[0].content[-1] == {"type": "text", "text": "keep this draft"}


def test_engine_refusing_a_prepared_image_removes_its_chip(qtbot, open_window, tmp_path):
    window, engine = open_window(media_error="Image is larger than 8192 pixels")
    window.composer.edit.setPlainText("draft")
    window.controller.attach_files([str(png(tmp_path / "huge.png"))])
    assert len(window.composer.chips) == 1  # the app's own check let it through
    qtbot.waitUntil(lambda: window.composer.chips == [], timeout=2000)
    assert len(engine.of_type(ev.PrepareMedia)) == 1
    assert "huge.png" in window.composer.error_label.text()
    assert "larger than 8192" in window.composer.error_label.text()
    assert window.composer.text == "draft"


def test_audio_file_and_removing_a_chip(qtbot, open_window, tmp_path):
    import numpy as np
    import soundfile

    wav = tmp_path / "note.wav"
    soundfile.write(wav, np.zeros(1600, dtype=np.float32), 16000)
    window, engine = open_window()
    drop_files(window.composer, [wav])
    [chip] = window.composer.chips
    assert engine.of_type(ev.PrepareMedia)[0].item == {"type": "audio", "audio": str(chip.attachment.path)}
    chip.remove_button.click()
    assert window.composer.chips == [] and not window.composer.send_button.isEnabled()


@pytest.mark.parametrize("name,content,message", [
    ("notes.txt", b"hello", "not an image, audio or video"),
    ("empty.png", b"", "is empty"),
    ("garbage.jpg", b"\x00" * 64, "not a readable image"),
])
def test_check_attachable_explains_refusals(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as refused:
        check_attachable(path)
    assert "cannot identify" not in str(refused.value)  # PIL's words stay out
    with pytest.raises(ValueError, match="does not exist"):
        check_attachable(tmp_path / "missing.png")


def test_a_text_only_model_refuses_images_and_audio_with_a_sentence(qtbot, open_window, tmp_path):
    import numpy as np
    import soundfile as sf

    window, engine = open_window(text_only=True)
    qtbot.waitUntil(lambda: window.controller.model_state == "ready", timeout=3000)
    image = png(tmp_path / "red.png")
    audio = tmp_path / "note.wav"
    sf.write(audio, np.zeros(1600, np.float32), 16000)
    drop_files(window.composer, [image, audio])
    assert window.composer.chips == [] and engine.of_type(ev.PrepareMedia) == []
    error = window.composer.error_label.text()
    assert "red.png cannot be attached: the loaded model is a text-only build and cannot read images." in error
    assert "note.wav cannot be attached" in error and "cannot hear audio" in error
    QGuiApplication.clipboard().setImage(QImage(8, 8, QImage.Format.Format_RGB32))
    window.composer.offer_mime(QGuiApplication.clipboard().mimeData())
    assert window.composer.chips == []
    assert window.composer.error_label.text().startswith("The pasted image cannot be attached")


def test_an_image_alone_titles_its_conversation_and_a_removed_one_leaves_nothing(
        qtbot, open_window, tmp_path):
    window, engine = open_window(replies=["A red box."])
    drop_files(window.composer, [png(tmp_path / "photo.png")])
    conv_id = window.controller.current_id
    assert conv_id is not None  # made at once, so the engine prepares the image while one types
    assert window.sidebar.titles() == []  # but not listed as an empty "New chat"
    window.composer.chips[0].remove_button.click()
    assert window.store.conversations() == [] and window.controller.current_id is None
    assert [c.session_id for c in engine.of_type(ev.CloseSession)] == [conv_id]

    drop_files(window.composer, [png(tmp_path / "photo.png")])
    window.new_action.trigger()  # leaving it empty for a new chat leaves nothing behind either
    assert window.store.conversations() == []

    drop_files(window.composer, [png(tmp_path / "photo.png")])
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)  # sent without a word
    qtbot.waitUntil(lambda: window.chat_view.last().finish_reason == "stop", timeout=3000)
    assert window.sidebar.titles() == ["Image · photo.png"]

    window.new_action.trigger()
    image = QImage(24, 16, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.green)
    QGuiApplication.clipboard().setImage(image)
    window.composer.edit.setFocus()
    window.composer.edit.paste()
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(window.sidebar.titles()) == 2, timeout=3000)
    assert window.sidebar.titles() == ["Pasted image", "Image · photo.png"]


def test_a_file_that_cannot_be_copied_is_said_in_words(qtbot, open_window, tmp_path, monkeypatch):
    window, _ = open_window()
    image = png(tmp_path / "photo.png")

    def unreadable(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied", str(image))

    monkeypatch.setattr("shutil.copyfile", unreadable)  # the disk, not the dialog, fails
    window.controller.attach_files([str(image)])
    text = window.composer.error_label.text()
    assert "photo.png could not be copied into Tandem" in text and "Errno" not in text
    assert window.composer.chips == []
