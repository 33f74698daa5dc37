"""The engine bridge: engine events reach the GUI thread as typed signals; a routed session's
events also reach their receiver on the engine thread, without the GUI thread in between."""

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
        event = ev.TextDelta(session_id=command.session_id or "s", text="x")
        t = threading.Thread(target=lambda: self.on_event(event), name="engine")
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


def test_a_routed_session_gets_its_events_on_the_engine_thread_even_while_the_gui_waits(qtbot):
    bridge = EngineBridge(ThreadedWorker)
    bridge.start()
    routed: list = []
    gui: list = []
    bridge.route_session(
        "agent-1", lambda e: routed.append((e.session_id, threading.current_thread().name)))
    bridge.text_received.connect(lambda e: gui.append(e.session_id))
    bridge.submit(ev.Cancel(session_id="agent-1"))
    bridge.submit(ev.Cancel(session_id="chat"))
    bridge.worker.stop()  # both events were delivered; the GUI thread has not run its loop yet
    assert routed == [("agent-1", "engine")] and gui == []
    qtbot.waitUntil(lambda: sorted(gui) == ["agent-1", "chat"], timeout=2000)  # the GUI sees both
    bridge.unroute_session("agent-1")
    bridge.submit(ev.Cancel(session_id="agent-1"))
    bridge.worker.stop()
    assert routed == [("agent-1", "engine")]


def test_a_command_submitted_from_another_thread_is_announced_on_the_gui_thread(qtbot):
    bridge = EngineBridge(ThreadedWorker)
    seen = []
    gui = QApplication.instance().thread()
    bridge.command_submitted.connect(
        lambda c: seen.append((c.session_id, QThread.currentThread() == gui)))
    bridge.submit(ev.Cancel(session_id="chat"))  # from the GUI thread: at once
    assert seen == [("chat", True)]
    run = threading.Thread(target=lambda: bridge.submit(ev.Cancel(session_id="agent-1")))
    run.start()
    run.join()
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=2000)
    assert seen[1] == ("agent-1", True)
    bridge.worker.stop()
