"""Videos in the composer: a real drop of a clip made here, its chip, the message the engine gets, bad files."""

from __future__ import annotations

from media_drops import clip, drop_files
from PySide6.QtCore import Qt

from engine import protocol as ev


def test_a_dropped_clip_gets_a_chip_and_reaches_the_engine_as_video(qtbot, open_window, tmp_path):
    window, engine = open_window(replies=["A fading square."])
    drop = drop_files(window.composer, [clip(tmp_path / "screen.mp4")])
    assert drop.isAccepted()
    [chip] = window.composer.chips
    stored = chip.attachment.path
    assert chip.attachment.kind == "video" and stored.exists()
    assert chip.video_label is not None and chip.video_label.text() == "1.2 s"  # short: just its length
    assert "all 12 frames" in chip.video_label.toolTip()
    thumbnail = chip.icon_label.pixmap().toImage()  # the first frame (black), not the file icon
    assert thumbnail.pixelColor(thumbnail.width() // 2, thumbnail.height() // 2).getRgb() == (0, 0, 0, 255)
    assert engine.of_type(ev.PrepareMedia) == []  # read with the message, not ahead

    qtbot.keyClicks(window.composer.edit, "what changes?")
    qtbot.keyClick(window.composer.edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.chat_view.last().answer == "A fading square.", timeout=3000)
    [send] = engine.of_type(ev.SendMessage)
    assert send.content == [{"type": "video", "video": str(stored)},
                            {"type": "text", "text": "what changes?"}]
    assert window.store.messages(window.controller.current_id)[0].attachments[0].path == stored


def test_a_long_clip_says_how_it_is_sampled(qtbot, open_window, tmp_path):
    window, _ = open_window()
    drop_files(window.composer, [clip(tmp_path / "long.mov", frames=40, fps=2)])
    [chip] = window.composer.chips
    assert chip.video_label.text() == "32 frames from 20 s, no sound"


def test_bad_videos_are_refused_in_words_and_the_draft_stays(qtbot, open_window, tmp_path):
    window, engine = open_window()
    not_video = tmp_path / "notes.mp4"
    not_video.write_bytes(b"this is not a video at all" * 20)
    empty = tmp_path / "empty.webm"
    empty.write_bytes(b"")
    window.composer.edit.setPlainText("keep this draft")
    drop_files(window.composer, [not_video, empty])
    assert window.composer.chips == []
    error = window.composer.error_label.text()
    assert "notes.mp4 is not a video Tandem can read" in error and str(tmp_path) not in error
    assert "empty.webm is empty" in error
    assert window.composer.text == "keep this draft"


def test_a_text_only_model_refuses_videos(qtbot, open_window, tmp_path):
    window, _ = open_window(text_only=True)
    qtbot.waitUntil(lambda: window.controller.model_state == "ready", timeout=3000)
    drop_files(window.composer, [clip(tmp_path / "a.m4v")])
    assert window.composer.chips == []
    assert "a.m4v cannot be attached" in window.composer.error_label.text()
    assert "cannot watch videos" in window.composer.error_label.text()
