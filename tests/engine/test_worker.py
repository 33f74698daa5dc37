"""The engine thread: commands in, events out; errors become events and the engine keeps working."""

import threading
import time

import numpy as np
import pytest

from engine import protocol as ev
from engine.decode.generation import drafter_pays_off
from engine.worker import EngineWorker

GREEDY = ev.GenerationSettings(temperature=0.0, max_tokens=8, use_drafter=False)


class Recorder:
    def __init__(self):
        self.events: list[ev.Event] = []
        self.threads: set[str] = set()
        self.cond = threading.Condition()

    def __call__(self, event):
        with self.cond:
            self.events.append(event)
            self.threads.add(threading.current_thread().name)
            self.cond.notify_all()

    def wait_for(self, request_id, kinds, timeout=60.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for e in self.events:
                    if e.request_id == request_id and isinstance(e, kinds):
                        return e
                left = deadline - time.monotonic()
                assert left > 0, f"no {kinds} for request {request_id}: {self.events[-5:]}"
                self.cond.wait(left)

    def of(self, request_id):
        return [e for e in self.events if e.request_id == request_id]


@pytest.fixture()
def engine(tiny_checkpoint):
    rec = Recorder()
    worker = EngineWorker(rec)
    worker.start()
    rid = worker.submit(ev.LoadModel(path=str(tiny_checkpoint)))
    loaded = rec.wait_for(rid, (ev.ModelLoaded, ev.ErrorEvent))
    assert isinstance(loaded, ev.ModelLoaded), loaded
    assert loaded.random_weights and loaded.context_length > 0
    assert loaded.drafter_pays_off == drafter_pays_off()  # the app's default for the drafter
    yield worker, rec
    worker.stop()
    assert not worker.alive


def test_message_streams_an_answer_on_the_engine_thread(engine):
    worker, rec = engine
    worker.submit(ev.OpenSession(session_id="c1", system_prompt="Be brief."))
    rid = worker.submit(ev.SendMessage(session_id="c1", content="Hello!", settings=GREEDY))
    done = rec.wait_for(rid, (ev.TurnFinished, ev.ErrorEvent))
    assert isinstance(done, ev.TurnFinished) and done.reason in ("stop", "length", "tool_calls")
    stats = [e for e in rec.of(rid) if isinstance(e, ev.TurnStats)][0]
    assert stats.prompt_tokens > 0 and stats.generated_tokens >= 1
    assert all(e.session_id == "c1" for e in rec.of(rid))
    assert rec.threads == {"tandem-engine"}


def test_errors_are_events_and_the_engine_keeps_working(engine):
    worker, rec = engine
    bad = [
        worker.submit(ev.SendMessage(session_id="nope", content="hi", settings=GREEDY)),
        worker.submit(ev.OpenSession(session_id="c2", context_length=40)),
        worker.submit(ev.Regenerate(session_id="c2", settings=GREEDY)),
        worker.submit(ev.AppendAudio(session_id="c2", samples=np.zeros(640, np.float32))),
        worker.submit(ev.SendMessage(session_id="c2", content="word " * 100, settings=GREEDY)),
        worker.submit(ev.SendMessage(session_id="c2", content=[{"type": "image", "image": "/no/such.png"}],
                                     settings=GREEDY)),
    ]
    errors = {rid: rec.wait_for(rid, ev.ErrorEvent) for rid in bad[:1] + bad[2:]}
    messages = {rid: e.message for rid, e in errors.items()}
    assert "no open conversation" in messages[bad[0]] and errors[bad[0]].kind == "not_found"
    assert "no answer to regenerate" in messages[bad[2]] and errors[bad[2]].kind == "bad_request"
    assert "no voice turn" in messages[bad[3]] and errors[bad[3]].kind == "bad_request"
    assert "too long" in messages[bad[4]] and errors[bad[4]].kind == "too_long"
    assert "such.png" in messages[bad[5]] or "not found" in messages[bad[5]].lower()
    assert all(not e.detail for e in list(errors.values())[:4])  # refusals carry no traceback
    rid = worker.submit(ev.SendMessage(session_id="c2", content="ok", settings=GREEDY))
    assert isinstance(rec.wait_for(rid, (ev.TurnFinished, ev.ErrorEvent)), ev.TurnFinished)


def test_cancel_stops_a_running_answer_and_the_next_turn_works(engine):
    worker, rec = engine
    worker.submit(ev.OpenSession(session_id="c3"))
    long = ev.GenerationSettings(temperature=0.0, max_tokens=2000, use_drafter=False)
    rid = worker.submit(ev.SendMessage(session_id="c3", content="Talk for a long time.", settings=long))
    rec.wait_for(rid, (ev.TextDelta, ev.ToolCallEvent, ev.ParseErrorEvent, ev.TurnFinished))
    worker.submit(ev.Cancel(session_id="c3"))
    done = rec.wait_for(rid, ev.TurnFinished)
    assert done.reason in ("cancelled", "stop", "tool_calls")
    rid2 = worker.submit(ev.SendMessage(session_id="c3", content="Short now.", settings=GREEDY))
    assert isinstance(rec.wait_for(rid2, (ev.TurnFinished, ev.ErrorEvent)), ev.TurnFinished)


def test_voice_turn_through_the_engine(engine):
    worker, rec = engine
    worker.submit(ev.OpenSession(session_id="v"))
    worker.submit(ev.StartVoiceTurn(session_id="v"))
    rng = np.random.default_rng(1)
    for _ in range(4):
        worker.submit(ev.AppendAudio(session_id="v", samples=rng.uniform(-0.3, 0.3, 1000).astype(np.float32)))
    rid = worker.submit(ev.EndVoiceTurn(session_id="v", settings=GREEDY))
    done = rec.wait_for(rid, (ev.TurnFinished, ev.ErrorEvent))
    assert isinstance(done, ev.TurnFinished), done
    assert not [e for e in rec.events if isinstance(e, ev.ErrorEvent) and e.session_id == "v"]


def test_a_cancel_drops_answers_still_waiting_in_the_queue(engine):
    worker, rec = engine
    worker.submit(ev.OpenSession(session_id="q"))
    slow = ev.GenerationSettings(temperature=0.0, max_tokens=200, use_drafter=False)
    first = worker.submit(ev.SendMessage(session_id="q", content="one", settings=slow))
    queued = worker.submit(ev.SendMessage(session_id="q", content="two", settings=slow))
    worker.submit(ev.Cancel(session_id="q"))
    assert rec.wait_for(first, ev.TurnFinished).reason in ("cancelled", "stop", "tool_calls")
    dropped = rec.wait_for(queued, ev.TurnFinished)
    assert dropped.reason == "cancelled"
    assert not [e for e in rec.of(queued) if isinstance(e, (ev.TextDelta, ev.TurnStats))]
    after = worker.submit(ev.SendMessage(session_id="q", content="three", settings=GREEDY))
    assert rec.wait_for(after, (ev.TurnFinished, ev.ErrorEvent)).reason in ("stop", "length", "tool_calls")


def test_without_a_model_commands_fail_with_kind_no_model():
    rec = Recorder()
    worker = EngineWorker(rec)
    worker.start()
    try:
        rid = worker.submit(ev.OpenSession(session_id="x"))
        err = rec.wait_for(rid, ev.ErrorEvent)
        assert err.kind == "no_model" and err.session_id == "x" and err.request_id == rid
        rid = worker.submit(ev.SendMessage(session_id="x", content="hi"))
        assert rec.wait_for(rid, ev.ErrorEvent).kind == "no_model"
    finally:
        worker.stop()


def test_every_command_has_a_handler_and_events_are_frozen():
    import dataclasses
    import inspect

    commands = {c for _, c in inspect.getmembers(ev, inspect.isclass)
                if issubclass(c, ev.Command) and c not in (ev.Command, ev.SessionCommand, ev.Shutdown)}
    assert commands == set(EngineWorker(lambda e: None).handlers)
    assert all(issubclass(c, ev.SessionCommand) for c in commands
               if "session_id" in {f.name for f in dataclasses.fields(c)} and c is not ev.Cancel)
    event = ev.TextDelta(text="a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.text = "b"
