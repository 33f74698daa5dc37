"""The agent loop driven end to end through the real engine thread and a tiny random checkpoint."""

import dataclasses
import threading

import mlx.core as mx

from app.agent.control import Limits
from app.agent.engine_model import EngineAgentModel
from app.agent.events import Finished, Observation, StopReason
from app.agent.loop import AgentRun
from app.agent.permissions import ApprovalMode
from engine import protocol as ev
from engine.decode.generation import Step
from engine.worker import EngineWorker

CALL = '<|tool_call>call:list_dir{path:<|"|>.<|"|>}<tool_call|>'
BAD_CALL = '<|tool_call>call:list_dir{path:<|"|>.<tool_call|>'  # the string is never closed


class ScriptedFirstAnswer(EngineWorker):
    """The real engine, except that the first answer of each session is the given text.

    Random weights never produce a tool call; this feeds the call's tokens through the model as if it
    had generated them, so everything after (parsing, tool results, the next answer) is real.
    """

    def __init__(self, on_event, text: str):
        super().__init__(on_event)
        self.text = text

    def _open_session(self, c):
        result = super()._open_session(c)
        session = self.sessions[c.session_id]

        def steps(logits, settings, stats, constraint=None):
            del session._steps  # only the first answer is scripted
            for tok in session.tokenizer.encode(self.text, add_special_tokens=False):
                session.model(mx.array([[tok]]), cache=session.cache)
                stats.generated += 1
                yield Step(tok)
            yield Step(50, stop=True)  # <|tool_response>: the model asks for the result

        session._steps = steps
        return result


def run_agent(tiny_checkpoint, tmp_path, worker_class, **worker_kwargs):
    loaded = threading.Event()
    route = {}

    def on_event(e):
        if "model" in route:
            route["model"].deliver(e)
        elif isinstance(e, (ev.ModelLoaded, ev.ErrorEvent)):
            route["load"] = e
            loaded.set()

    worker = worker_class(on_event, **worker_kwargs)
    worker.start()
    worker.submit(ev.LoadModel(path=str(tiny_checkpoint)))
    assert loaded.wait(60) and isinstance(route["load"], ev.ModelLoaded), route.get("load")
    sent = []

    def submit(command):
        sent.append(command)
        return worker.submit(command)

    model = EngineAgentModel(submit, "agent-1",
                             ev.GenerationSettings(temperature=0.0, max_tokens=12))
    route["model"] = model
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "hello.txt").write_text("hi\n")
    events = []
    run = AgentRun(model, ws, "What files are here?", data_dir=tmp_path / "data",
                   on_event=events.append, mode=ApprovalMode.ASK, use_sandbox=False,
                   limits=Limits(max_steps=2, max_wall_s=120))
    finished = run.run()
    worker.stop()
    return finished, events, sent


def test_agent_runs_on_the_real_engine_with_random_weights(tiny_checkpoint, tmp_path):
    finished, _, _ = run_agent(tiny_checkpoint, tmp_path, EngineWorker)
    assert isinstance(finished, Finished)
    assert finished.reason in set(StopReason) - {StopReason.ERROR}, finished.message


def test_a_tool_call_from_the_engine_runs_and_its_result_goes_back(tiny_checkpoint, tmp_path):
    finished, events, _ = run_agent(tiny_checkpoint, tmp_path, ScriptedFirstAnswer, text=CALL)
    observations = [e for e in events if isinstance(e, Observation)]
    assert observations and "hello.txt" in str(observations[0])
    assert finished.reason != StopReason.ERROR, finished.message
    assert finished.steps >= 1


def test_an_unreadable_call_reaches_the_model_as_a_hint_and_the_run_goes_on(
    tiny_checkpoint, tmp_path
):
    finished, events, sent = run_agent(
        tiny_checkpoint, tmp_path, ScriptedFirstAnswer, text=BAD_CALL
    )
    assert finished.reason != StopReason.ERROR, finished.message
    assert finished.steps == 2
    (hint,) = [e for e in events if isinstance(e, Observation)]
    assert hint.format_hint and "could not be read" in hint.response["hint"]
    follow_up = [c for c in sent if isinstance(c, (ev.SendMessage, ev.SendToolResults))]
    assert [type(c) for c in follow_up] == [ev.SendMessage, ev.SendMessage]
    assert "could not be read" in follow_up[1].content and BAD_CALL[:20] in follow_up[1].content


class FakeEngine:
    """Answers each SendMessage / SendToolResults with the next scripted list of events."""

    def __init__(self, answers):
        self.answers, self.sent, self.model = list(answers), [], None

    def submit(self, command):
        self.sent.append(command)
        if isinstance(command, (ev.SendMessage, ev.SendToolResults)):
            for event in self.answers.pop(0):
                self.model.deliver(dataclasses.replace(event, request_id=command.request_id))
        return command.request_id


def test_results_go_back_as_tool_results_only_when_the_engine_waits_for_them():
    parsed = [ev.ToolCallEvent(name="list_dir", arguments={}), ev.TurnFinished(reason="tool_calls")]
    broken = [ev.ParseErrorEvent(raw="call:x{", message="bad"), ev.TurnFinished(reason="stop")]
    cut = [ev.ToolCallEvent(name="list_dir", arguments={}), ev.TurnFinished(reason="length")]
    engine = FakeEngine([parsed, parsed, broken, cut, [ev.TurnFinished()]])
    model = engine.model = EngineAgentModel(engine.submit, "s")
    assert model.begin("sys", [], "task").tool_calls[0].name == "list_dir"
    model.reply_to_tools([{"name": "list_dir", "response": {"entries": []}}])
    assert model.reply_to_tools([{"name": "list_dir", "response": {}}]).parse_errors == ["call:x{"]
    model.reply_to_tools([{"name": "x", "response": {"hint": "write it so"}}])
    model.reply_to_tools([{"name": "list_dir", "response": {"entries": ["a"]}}])
    kinds = [type(c).__name__ for c in engine.sent if not isinstance(c, ev.OpenSession)]
    assert kinds == ["SendMessage", "SendToolResults", "SendToolResults", "SendMessage",
                     "SendMessage"]  # fmt: skip
    assert '"hint": "write it so"' in engine.sent[-2].content
    assert '"entries": ["a"]' in engine.sent[-1].content
