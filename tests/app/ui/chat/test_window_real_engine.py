"""The window on the real engine thread and a tiny random-weight checkpoint (no fake)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from app.store import Store
from app.ui.engine_bridge import EngineBridge
from app.ui.settings import Key, Settings

pytest.importorskip("mlx.core")


def open_real_window(qtbot, data_dir, checkpoint, max_tokens: int, temperature: float | None = None):
    """The main window on the real engine thread with `checkpoint`, started; (window, bridge, store)."""
    from app.ui.main_window import MainWindow
    from engine.worker import EngineWorker

    store = Store(data_dir)
    settings = Settings(QSettings(str(data_dir / "s.ini"), QSettings.Format.IniFormat))
    settings.set_value(Key.MODEL_PATH, str(checkpoint))
    settings.set_value(Key.MAX_TOKENS, max_tokens)
    if temperature is not None:
        settings.set_value(Key.TEMPERATURE, temperature)
    bridge = EngineBridge(EngineWorker)
    window = MainWindow(store, settings, bridge)
    qtbot.addWidget(window)
    window.show()
    window.start()
    return window, bridge, store


def close_real_window(window, bridge, store) -> None:
    window.close()
    bridge.stop()
    store.close()


def answer_finished(window) -> bool:
    last = window.chat_view.last()
    return last.role == "assistant" and last.finish_reason in ("stop", "length")


def test_real_engine_streams_an_image_answer_and_restores_the_session(qtbot, tiny_checkpoint,
                                                                        data_dir, tmp_path):
    from PIL import Image
    from media_drops import drop_files

    def open_window():
        return open_real_window(qtbot, data_dir, tiny_checkpoint, max_tokens=6, temperature=0.0)

    window, bridge, store = open_window()
    try:
        qtbot.waitUntil(lambda: window.status_line.random_badge.isVisibleTo(window), timeout=60000)
        image = tmp_path / "dot.png"
        Image.new("RGB", (96, 96), (255, 0, 0)).save(image)
        drop_files(window.composer, [image])  # a real QDropEvent
        qtbot.waitUntil(lambda: window.composer.chips and window.composer.chips[0].status == "ready",
                        timeout=30000)
        window.composer.edit.setPlainText("What colour?")
        window.composer.submit()
        qtbot.waitUntil(lambda: answer_finished(window), timeout=60000)
        answer = window.chat_view.last()
        assert not answer.error_label.isVisibleTo(window), answer.error_label.text()
        conv_id = window.controller.current_id
        saved = store.messages(conv_id)
        assert [m.role for m in saved] == ["user", "assistant"]
        assert saved[1].stats.get("generated_tokens", 0) > 0
        qtbot.waitUntil(lambda: store.session_cache_path(conv_id).exists(), timeout=30000)
    finally:
        close_real_window(window, bridge, store)

    again, bridge2, store2 = open_window()
    try:
        errors = []
        bridge2.error_raised.connect(lambda e: errors.append(e.message))
        qtbot.waitUntil(lambda: again.status_line.random_badge.isVisibleTo(again), timeout=60000)
        assert again.controller.current_id == conv_id
        again.composer.edit.setPlainText("And now?")
        again.composer.submit()
        qtbot.waitUntil(lambda: answer_finished(again), timeout=60000)
        assert errors == []
        assert len(store2.messages(conv_id)) == 4
    finally:
        close_real_window(again, bridge2, store2)


def test_real_engine_holds_the_version_switched_to(qtbot, tiny_checkpoint, data_dir):
    """Regenerate, go back to the first answer: the engine's session is fed it again (no error),
    and the conversation goes on from it."""
    window, bridge, store = open_real_window(qtbot, data_dir, tiny_checkpoint, max_tokens=4)
    errors = []
    bridge.error_raised.connect(lambda e: errors.append(e.message))

    def answered(count: int) -> bool:
        last = window.chat_view.last()
        stored = store.messages(window.controller.current_id) if window.controller.current_id else []
        return (last is not None and last.role == "assistant" and last.finish_reason != ""
                and len(stored) == count)

    try:
        qtbot.waitUntil(lambda: window.status_line.random_badge.isVisibleTo(window), timeout=60000)
        window.controller.send("Hello")
        qtbot.waitUntil(lambda: answered(2), timeout=60000)
        first = store.messages(window.controller.current_id)[1].content
        window.chat_view.last().regenerate_button.click()
        qtbot.waitUntil(lambda: answered(2) and window.chat_view.last().variants.isVisible(),
                        timeout=60000)
        window.chat_view.last().variants.previous_button.click()
        assert store.messages(window.controller.current_id)[1].content == first
        window.controller.send("And then?")
        qtbot.waitUntil(lambda: answered(4), timeout=60000)
        assert errors == []
        assert window.chat_view.messages[1].variants.label.text() == "1/2"
    finally:
        close_real_window(window, bridge, store)


def test_real_engine_answers_about_a_dropped_video_and_keeps_the_session(qtbot, tiny_checkpoint,
                                                                         data_dir, tmp_path):
    from media_drops import clip, drop_files

    window, bridge, store = open_real_window(qtbot, data_dir, tiny_checkpoint, max_tokens=4, temperature=0.0)
    try:
        qtbot.waitUntil(lambda: window.status_line.random_badge.isVisibleTo(window), timeout=60000)
        drop_files(window.composer, [clip(tmp_path / "screen.mp4", frames=6)])  # a real QDropEvent
        assert [c.attachment.kind for c in window.composer.chips] == ["video"]
        window.composer.edit.setPlainText("What moves?")
        window.composer.submit()
        qtbot.waitUntil(lambda: answer_finished(window), timeout=60000)
        answer = window.chat_view.last()
        assert not answer.error_label.isVisibleTo(window), answer.error_label.text()
        conv_id = window.controller.current_id
        stats = store.messages(conv_id)[1].stats
        assert stats.get("generated_tokens", 0) > 0
        assert stats["prompt_tokens"] > 6 * 70  # the six frames' soft tokens went in
        qtbot.waitUntil(lambda: store.session_cache_path(conv_id).exists(), timeout=30000)
    finally:
        close_real_window(window, bridge, store)
