"""The chat's Qt wiring, built from its widgets (no window): requests reach the core, the core's
news reaches the right widget, and an answer keeps streaming while another conversation is open."""

from __future__ import annotations

import pytest
from fake_engine import FakeEngineWorker
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QWidget

from app.chat import ModelState
from app.store import Store
from app.ui.chat.composer import Composer
from app.ui.chat.controller import ConversationController, answer_meta
from app.ui.chat.sidebar import Sidebar
from app.ui.chat.view import ChatView
from app.ui.engine_bridge import EngineBridge
from app.ui.settings import Key, Settings
from app.ui.status_bar import StatusLine
from engine import protocol as ev


@pytest.fixture
def chat(qtbot, tmp_path):
    """chat(**fake_engine_options) -> (ConversationController, FakeEngineWorker), model loaded."""
    made = []

    def make(**fake):
        store = Store(tmp_path / "data")
        settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
        bridge = EngineBridge(lambda on_event: FakeEngineWorker(on_event, **fake))
        host = QWidget()
        qtbot.addWidget(host)
        view, composer, sidebar, status = (
            ChatView(host),
            Composer(host),
            Sidebar(host),
            StatusLine(host),
        )
        controller = ConversationController(
            store, bridge, settings, view, composer, sidebar, status, host
        )
        bridge.start()
        controller.load_model(ev.LoadModel(path="models/fake"))
        qtbot.waitUntil(lambda: controller.model_state is ModelState.READY, timeout=3000)
        made.append((bridge, store, host))  # the widgets live as long as the test
        return controller, bridge.worker

    yield make
    for bridge, store, _ in made:
        bridge.stop()
        store.close()


def finished(controller) -> bool:
    last = controller.chat_view.last()
    return last is not None and last.role == "assistant" and bool(last.finish_reason)


def test_a_sent_message_shows_streams_and_finishes_in_the_view(qtbot, chat):
    controller, engine = chat(replies=["Hello there."])
    controller.composer.edit.setPlainText("hi")
    controller.composer.submit()
    assert (
        controller.composer.text == ""
        and controller.composer.send_button.accessibleName() == "Stop"
    )
    qtbot.waitUntil(lambda: finished(controller), timeout=3000)
    user, reply = controller.chat_view.messages
    assert (user.text, reply.answer) == ("hi", "Hello there.")
    assert reply.meta_label.text() == answer_meta(
        {"generated_tokens": 2, "decode_tokens_per_second": 42.5}
    )
    assert controller.sidebar.titles() == ["hi"]
    assert controller.settings.value(Key.LAST_CONVERSATION) == controller.current_id
    assert controller.composer.send_button.accessibleName() == "Send"


def test_an_answer_goes_on_while_another_conversation_is_open(qtbot, chat):
    words = " ".join(f"w{i}" for i in range(60))
    controller, engine = chat(replies=[words], token_delay=0.01)
    controller.send("long one")
    first = controller.current_id
    qtbot.waitUntil(lambda: len(controller.chat_view.last().answer) > 10, timeout=3000)
    controller.new_conversation()
    assert controller.chat_view.messages == [] and first in controller.pending
    controller.open_conversation(first)
    assert controller.chat_view.last().answer  # what has arrived so far, still growing
    qtbot.waitUntil(lambda: finished(controller), timeout=5000)
    assert controller.chat_view.last().answer == words
    assert controller.store.messages(first)[-1].content == words


def test_a_refused_turn_keeps_the_text_and_says_why(qtbot, chat):
    controller, engine = chat()
    controller.core.model_state = ModelState.FAILED
    controller.composer.edit.setPlainText("keep me")
    controller.composer.submit()
    assert controller.composer.text == "keep me"
    assert "could not be loaded" in controller.composer.error_label.text()
    assert not engine.of_type(ev.SendMessage)


def test_an_image_the_engine_refuses_loses_its_chip(qtbot, chat, tmp_path):
    from PIL import Image

    image = tmp_path / "red.png"
    Image.new("RGB", (20, 20), (200, 0, 0)).save(image)
    controller, engine = chat(media_error="The image is too large")
    controller.attach_files([str(image)])
    qtbot.waitUntil(lambda: not controller.composer.chips, timeout=3000)
    assert "Could not use red.png. The image is too large." in controller.composer.error_label.text()
