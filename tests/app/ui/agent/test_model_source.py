"""Agent models on the app's engine: one session per run, replies that do not wait for the GUI
thread, the text streamed to the view, and the session closed at the end."""

from __future__ import annotations

import threading

from fake_engine import FakeEngineWorker
from PySide6.QtCore import QSettings

from app.ui.agent.model_source import EngineModelSource
from app.ui.engine_bridge import EngineBridge
from app.ui.settings import Key, Settings
from engine import protocol as ev


def test_a_run_gets_its_reply_while_the_gui_thread_is_busy(qtbot, tmp_path):
    bridge = EngineBridge(lambda on_event: FakeEngineWorker(on_event, replies=["Done, no tools."]))
    bridge.start()
    engine = bridge.worker
    bridge.submit(ev.LoadModel(path="models/fake"))
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    settings.set_value(Key.AGENT_MAX_TOKENS, 321)
    source = EngineModelSource(bridge, settings)
    streamed: list = []
    source.text_streamed.connect(lambda text, channel: streamed.append(text))
    model = source.open()
    replies: list = []
    run = threading.Thread(target=lambda: replies.append(model.begin("system", [], "task")))
    run.start()
    run.join(10)  # the GUI thread runs no events meanwhile: the reply must not need it
    assert not run.is_alive() and replies[0].text == "Done, no tools."
    [send] = engine.of_type(ev.SendMessage)
    assert send.session_id == model.session_id and send.settings.max_tokens == 321
    qtbot.waitUntil(lambda: "".join(streamed) == "Done, no tools.", timeout=3000)
    source.close(model)
    assert engine.of_type(ev.CloseSession)[-1].session_id == model.session_id
    bridge.stop()
