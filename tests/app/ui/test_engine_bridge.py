"""The engine bridge: engine events reach the GUI thread as typed signals."""

from __future__ import annotations

import threading

from PySide6.QtCore import QThread
from PySide6.QtWidgets import QApplication

from app.ui.engine_bridge import EngineBridge
from engine import protocol as ev


class ThreadedWorker:
    """Calls on_event from a foreign thread, as the real engine does."""

    def __init__(self, on_event):
        self.on_event = on_event
        self.threads = []

    def start(self):
        pass

    def submit(self, command):
        t = threading.Thread(target=lambda: self.on_event(ev.TextDelta(session_id="s", text="x")))
        t.start()
        self.threads.append(t)
        return command.request_id

    def stop(self, timeout=5.0):
        for t in self.threads:
            t.join(timeout)


def test_bridge_delivers_engine_events_on_the_gui_thread(qtbot):
    bridge = EngineBridge(ThreadedWorker)
    bridge.start()
    seen = []
    bridge.text_received.connect(lambda e: seen.append((e.text, QThread.currentThread())))
    with qtbot.waitSignal(bridge.event_received, timeout=2000):
        rid = bridge.submit(ev.Cancel())
    assert rid > 0
    assert seen == [("x", QApplication.instance().thread())]
    bridge.stop()
