"""The agent view on the real engine thread (through the bridge) and a tiny random-weight checkpoint."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from app.agent import StopReason
from app.store import Store
from app.ui.engine_bridge import EngineBridge
from app.ui.settings import Key, Settings

mx = pytest.importorskip("mlx.core")

CALL = '<|tool_call>call:list_dir{path:<|"|>.<|"|>}<tool_call|>'
UNREADABLE_CALL = '<|tool_call>call:list_dir{path:<|"|>.<tool_call|>'  # the string never ends


def scripted_first_answer(on_event, call: str = CALL):
    """The real engine, except that each session's first answer is `call` fed through the model.

    Random weights never make a tool call; this makes one, so the rest (parsing, the card, the
    tool's result going back and the next real answer) runs for real.
    """
    from engine.decode.generation import Step
    from engine.worker import EngineWorker

    class Worker(EngineWorker):
        def _open_session(self, c):
            result = super()._open_session(c)
            session = self.sessions[c.session_id]

            def steps(logits, settings, stats, constraint=None):
                del session._steps  # only the first answer is scripted
                for tok in session.tokenizer.encode(call, add_special_tokens=False):
                    session.model(mx.array([[tok]]), cache=session.cache)
                    stats.generated += 1
                    yield Step(tok)
                yield Step(50, stop=True)  # <|tool_response>: the model waits for the result

            session._steps = steps
            return result

    return Worker(on_event)


@pytest.mark.parametrize("worker", ["plain", "tool_call", "unreadable_call"])
def test_the_view_drives_the_real_engine_to_a_visible_finish(
    qtbot, tiny_checkpoint, tmp_path, worker
):
    from app.ui.agent.controller import AgentController
    from app.ui.agent.model_source import EngineModelSource
    from app.ui.agent.view import AgentView
    from engine import protocol as ev
    from engine.worker import EngineWorker

    data = tmp_path / "data"
    data.mkdir()
    ws = tmp_path / "project"
    ws.mkdir()
    (ws / "hello.txt").write_text("hi\n")
    settings = Settings(QSettings(str(data / "settings.ini"), QSettings.Format.IniFormat))
    settings.set_value(Key.AGENT_MAX_TOKENS, 8)
    settings.set_value(Key.TEMPERATURE, 0.0)
    settings.set_value(Key.AGENT_MAX_STEPS, 2)
    factories = {
        "plain": EngineWorker,
        "tool_call": scripted_first_answer,
        "unreadable_call": lambda on_event: scripted_first_answer(on_event, UNREADABLE_CALL),
    }
    bridge = EngineBridge(factories[worker])
    store = Store(data)
    try:
        bridge.start()
        with qtbot.waitSignal(bridge.model_loaded, timeout=60000):
            bridge.submit(ev.LoadModel(path=str(tiny_checkpoint)))
        source = EngineModelSource(bridge, settings)
        controller = AgentController(data, source, use_sandbox=False)
        view = AgentView(settings, store, controller)
        streamed = []
        source.text_streamed.connect(view.show_partial)
        source.text_streamed.connect(lambda text, channel: streamed.append(text))
        qtbot.addWidget(view)
        view.show()
        view.set_workspace(ws)
        closed, sent = [], []
        bridge.command_submitted.connect(
            lambda c: closed.append(c.session_id) if isinstance(c, ev.CloseSession) else None
        )
        bridge.command_submitted.connect(
            lambda c: sent.append(c.content) if isinstance(c, ev.SendMessage) else None
        )
        if worker == "plain":  # a screenshot goes with the task, as content items
            from PIL import Image

            Image.new("RGB", (96, 96), (255, 0, 0)).save(tmp_path / "screen.png")
            view.composer.files_offered.emit([str(tmp_path / "screen.png")])
            assert len(view.composer.chips) == 1
        view.composer.edit.setPlainText("What files are here?")
        assert view.start()
        qtbot.waitUntil(lambda: view.finished is not None, timeout=120000)
        finished = view.finished
        assert finished.reason is not StopReason.ERROR, finished.message
        assert view.timeline.finish_banner.isVisibleTo(view) and view.timeline.finish_title.text()
        assert finished.message in view.timeline.finish_detail.text()
        assert view.steps and 1 in view.steps
        qtbot.waitUntil(lambda: bool(closed), timeout=5000)  # the engine session is closed after
        assert closed[0].startswith("agent-") and not source.models
        if worker == "plain":
            assert streamed  # the reply showed while the model wrote it
            assert sent[0][0]["type"] == "image" and sent[0][1]["text"] == "What files are here?"
        if worker == "tool_call":
            card = view.cards[1]
            assert card.title.text() == "List ."
            assert card.observation.ok and "hello.txt" in card.result_body.text()
            assert finished.steps == 2 or finished.reason is StopReason.STEP_LIMIT
        if worker == "unreadable_call":  # the format hint went back and the run went on
            card = view.cards[1]
            assert card.title.text() == "A tool call that could not be read"
            assert card.observation.format_hint and "the run went on" in card.note_label.text()
            assert finished.steps == 2, finished.message
            assert 2 in view.steps and view.steps[2].replied
    finally:
        bridge.stop()
        store.close()
