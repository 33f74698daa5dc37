"""The agent loop driven end to end through the real engine thread and a tiny random checkpoint."""

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
    model = EngineAgentModel(worker.submit, "agent-1",
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
    return finished, events


def test_agent_runs_on_the_real_engine_with_random_weights(tiny_checkpoint, tmp_path):
    finished, events = run_agent(tiny_checkpoint, tmp_path, EngineWorker)
    assert isinstance(finished, Finished)
    assert finished.reason in set(StopReason) - {StopReason.ERROR}, finished.message


def test_a_tool_call_from_the_engine_runs_and_its_result_goes_back(tiny_checkpoint, tmp_path):
    finished, events = run_agent(tiny_checkpoint, tmp_path, ScriptedFirstAnswer, text=CALL)
    observations = [e for e in events if isinstance(e, Observation)]
    assert observations and "hello.txt" in str(observations[0])
    assert finished.reason != StopReason.ERROR, finished.message
    assert finished.steps >= 1
