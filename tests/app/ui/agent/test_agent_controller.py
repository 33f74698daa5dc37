"""The agent's Qt glue: a run off the GUI thread, its events back on it in order, undo refused
while a run writes, git's failures said, and a controller deleted mid-run reached by nothing."""

from __future__ import annotations

import threading
from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject, QThread
from PySide6.QtWidgets import QApplication

from app.agent import ApprovalMode, Finished, Limits, Reply, ScriptedModel, StepStarted, StopReason
from app.agent.scripted import call, calls
from app.ui.agent.controller import AgentController
from app.ui.agent.model_source import SingleModel
from app.ui.tasks import Tasks


class GatedModel(ScriptedModel):
    """A scripted model whose first reply waits until `gate` is set."""

    gate: threading.Event

    def _next(self) -> Reply:
        self.gate.wait(10)
        return super()._next()


class CountingSource(SingleModel):
    def __init__(self, model) -> None:
        super().__init__(model)
        self.closed = 0

    def close(self, model) -> None:
        self.closed += 1


def make(tmp_path: Path, model) -> tuple[AgentController, Path, CountingSource]:
    ws = tmp_path / "project"
    ws.mkdir(exist_ok=True)
    source = CountingSource(model)
    controller = AgentController(tmp_path / "data", source, use_sandbox=False, kill_grace_s=0.2)
    return controller, ws, source


def start(controller: AgentController, ws: Path) -> bool:
    return controller.start(ws, "do it", ApprovalMode.FULL_AUTO, Limits(max_steps=5))


def test_events_come_back_on_the_gui_thread_in_order_and_the_model_is_closed(qtbot, tmp_path):
    model = ScriptedModel([calls(call("write_file", path="a.txt", content="x\n")),
                           Reply(text="Done.")])
    controller, ws, source = make(tmp_path, model)
    seen: list = []
    controller.event_received.connect(
        lambda e: seen.append((e, QThread.currentThread() == QApplication.instance().thread())))
    with qtbot.waitSignal(controller.run_finished, timeout=15000) as finished:
        assert start(controller, ws)
    assert controller.thread is not None and controller.thread.name == "agent-run"
    events = [e for e, _ in seen]
    assert all(on_gui for _, on_gui in seen) and isinstance(events[-1], Finished)
    assert [e.step for e in events if isinstance(e, StepStarted)] == [1, 2]  # in the run's order
    [done] = finished.args
    assert done.reason is StopReason.DONE and (ws / "a.txt").read_text() == "x\n"
    assert not controller.running and source.closed == 1


def test_a_second_run_and_an_undo_are_refused_while_a_run_goes(qtbot, tmp_path):
    model = GatedModel([Reply(text="Done.")])
    model.gate = threading.Event()
    controller, ws, _ = make(tmp_path, model)
    assert start(controller, ws)
    assert not start(controller, ws)
    assert not controller.undo_last(ws) and not controller.restore(ws, "abc")
    with qtbot.waitSignal(controller.run_finished, timeout=15000):
        model.gate.set()
    assert not controller.running


def test_a_failed_undo_is_said_and_the_next_one_is_accepted(qtbot, tmp_path):
    controller, ws, _ = make(tmp_path, ScriptedModel([]))
    failures: list[str] = []
    controller.undo_failed.connect(failures.append)
    with qtbot.waitSignal(controller.checkpoints_listed, timeout=10000) as listed:
        assert controller.undo_last(ws)  # nothing to undo yet
        assert not controller.undo_last(ws)  # one at a time
    assert listed.args == [[]] and len(failures) == 1 and failures[0]
    with qtbot.waitSignal(controller.checkpoints_listed, timeout=10000):
        assert controller.undo_last(ws)


def test_a_controller_deleted_mid_run_is_reached_by_nothing(qtbot, tmp_path):
    model = GatedModel([Reply(text="Done.")])
    model.gate = threading.Event()
    controller, ws, _ = make(tmp_path, model)
    assert start(controller, ws)
    thread = controller.thread
    shiboken6.delete(controller)  # the window closed while the model was thinking
    model.gate.set()
    thread.join(10)
    assert not thread.is_alive()
    flushed: list = []
    Tasks(QObject()).run_on_main(lambda: flushed.append(True))  # queued after the run's events
    qtbot.waitUntil(lambda: bool(flushed), timeout=3000)  # a closure on the deleted one would raise
