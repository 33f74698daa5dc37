"""The engine thread: commands in, events out; errors become events and the engine keeps working.

Cancel tests run a checkpoint whose generation config has no stop token, with a budget no test reaches: an
answer cannot end by itself, so a cancel test passes only when the Cancel stopped it (reason "cancelled").
"""

import json
import shutil
import threading
import time

import numpy as np
import pytest

from engine import protocol as ev
from engine.decode.generation import drafter_pays_off
from engine.worker import EngineWorker

GREEDY = ev.GenerationSettings(temperature=0.0, max_tokens=8, use_drafter=False)


ENDLESS = ev.GenerationSettings(temperature=0.0, max_tokens=100_000, use_drafter=False)


class Recorder:
    def __init__(self):
        self.events: list[ev.Event] = []
        self.threads: set[str] = set()
        self.cond = threading.Condition()
        self.hook = None  # called with each event, on the engine thread, before it is recorded

    def __call__(self, event):
        if self.hook is not None:
            self.hook(event)
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


@pytest.fixture(scope="session")
def endless_checkpoint(tiny_checkpoint, tmp_path_factory):
    """The tiny checkpoint with no stop token: an answer goes on until cancelled (or its budget)."""
    out = tmp_path_factory.mktemp("endless") / "tiny"
    shutil.copytree(tiny_checkpoint, out)
    config = json.loads((out / "generation_config.json").read_text())
    (out / "generation_config.json").write_text(json.dumps({**config, "eos_token_id": []}))
    return out


@pytest.fixture()
def engine(endless_checkpoint):
    rec = Recorder()
    worker = EngineWorker(rec)
    worker.start()
    rid = worker.submit(ev.LoadModel(path=str(endless_checkpoint)))
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
    assert isinstance(done, ev.TurnFinished) and done.reason == "length"
    kinds = [type(e) for e in rec.of(rid)]
    assert kinds.index(ev.Accepted) < kinds.index(ev.TextDelta)  # the prompt is in before the answer
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
    assert not [e for r in bad for e in rec.of(r) if isinstance(e, ev.Accepted)]  # refusals took nothing


def test_cancel_stops_a_running_answer_and_the_next_turn_works(engine):
    worker, rec = engine
    worker.submit(ev.OpenSession(session_id="c3"))
    rid = worker.submit(ev.SendMessage(session_id="c3", content="Talk for a long time.", settings=ENDLESS))
    rec.wait_for(rid, ev.TextDelta)
    worker.submit(ev.Cancel(session_id="c3"))  # from another thread, while it decodes
    done = rec.wait_for(rid, ev.TurnFinished)
    assert done.reason == "cancelled"
    rid2 = worker.submit(ev.SendMessage(session_id="c3", content="Short now.", settings=GREEDY))
    assert rec.wait_for(rid2, (ev.TurnFinished, ev.ErrorEvent)).reason == "length"


@pytest.mark.parametrize("at", [ev.Progress, ev.Accepted, ev.TextDelta])
def test_a_stop_at_any_point_gives_reason_cancelled(engine, at):
    """A Cancel sent (on the engine thread, so exactly then) during the prefill, between the prefill and the
    first token, or after it: the answer ends with reason "cancelled"; before acceptance nothing stays."""
    worker, rec = engine
    worker.submit(ev.OpenSession(session_id="s"))
    prompt = "A message long enough for several prefill chunks. " * 40
    sent = []

    def stop_at(event):
        if isinstance(event, at) and event.session_id == "s" and not sent:
            sent.append(worker.submit(ev.Cancel(session_id="s")))

    rec.hook = stop_at
    rid = worker.submit(ev.SendMessage(session_id="s", content=prompt, settings=ENDLESS))
    done = rec.wait_for(rid, ev.TurnFinished)
    rec.hook = None
    assert done.reason == "cancelled" and sent
    accepted = [e for e in rec.of(rid) if isinstance(e, ev.Accepted)]
    stats = [e for e in rec.of(rid) if isinstance(e, ev.TurnStats)]
    if at is ev.Progress:  # the turn was taken back
        assert not accepted and not stats
    else:
        generated = stats[0].generated_tokens
        assert accepted and (generated == 0 if at is ev.Accepted else 1 <= generated < 10)
    rid = worker.submit(ev.SendMessage(session_id="s", content="Next.", settings=GREEDY))
    assert rec.wait_for(rid, (ev.TurnFinished, ev.ErrorEvent)).reason == "length"


def test_a_stop_before_a_command_starts_drops_it_and_reaches_no_other(engine):
    """A Cancel sent while the message waits behind another conversation's answer: it never runs."""
    worker, rec = engine
    worker.submit(ev.OpenSession(session_id="busy"))
    worker.submit(ev.OpenSession(session_id="q"))
    busy = worker.submit(ev.SendMessage(session_id="busy", content="Go on and on.", settings=ENDLESS))
    rec.wait_for(busy, ev.TextDelta)
    waiting = worker.submit(ev.SendMessage(session_id="q", content="Me next.", settings=GREEDY))
    worker.submit(ev.Cancel(session_id="q"))
    after = worker.submit(ev.SendMessage(session_id="q", content="And me.", settings=GREEDY))
    worker.submit(ev.Cancel(session_id="busy"))
    assert rec.wait_for(busy, ev.TurnFinished).reason == "cancelled"
    assert rec.wait_for(waiting, ev.TurnFinished).reason == "cancelled"
    assert [type(e) for e in rec.of(waiting)] == [ev.TurnFinished]
    assert rec.wait_for(after, (ev.TurnFinished, ev.ErrorEvent)).reason == "length"


def test_a_cancel_numbered_after_a_command_started_always_reaches_it():
    """The race the engine had: a command checked for a Cancel, one arrived, then the command cleared
    the flag and the Cancel was lost. With numbers nothing is cleared: whatever the interleaving, a
    Cancel sent after a command was submitted (answering) or started (any) reaches it."""
    from engine.worker import CancelBook, CommandCancel

    book = CancelBook()
    send = ev.SendMessage(session_id="a", content="x")
    number = book.stamp(send)
    flag = CommandCancel(book, "a")
    flag.threshold = book.threshold(send, number)  # the worker starts it: checked, not cancelled
    assert not flag.is_set()
    book.stamp(ev.Cancel(session_id="a"))  # arrives right after the check
    assert flag.is_set()
    audio = ev.AppendAudio(session_id="a", samples=np.zeros(640, np.float32))
    queued = book.stamp(audio)
    book.stamp(ev.Cancel(session_id="a"))  # aimed at the answer; the audio was queued before it
    flag.threshold = book.threshold(audio, queued)
    assert not flag.is_set()  # not an answer: only a Cancel sent while it runs reaches it
    book.stamp(ev.Cancel())  # a Cancel for every conversation
    assert flag.is_set() and not CommandCancel(book, "b").is_set()


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


def test_an_answer_begun_at_a_pause_is_the_answer_the_end_of_turn_gives(engine):
    worker, rec = engine
    rng = np.random.default_rng(2)
    chunks = [rng.uniform(-0.3, 0.3, 1000).astype(np.float32) for _ in range(4)]
    answers = {}
    for sid, pauses in (("plain", ()), ("paused", (1, 3))):
        worker.submit(ev.OpenSession(session_id=sid))
        worker.submit(ev.StartVoiceTurn(session_id=sid, settings=GREEDY))
        for i, chunk in enumerate(chunks):
            worker.submit(ev.AppendAudio(session_id=sid, samples=chunk))
            if i in pauses:  # a pause: the answer is begun; after the first one the person goes on
                worker.submit(ev.PrepareVoiceAnswer(session_id=sid, settings=GREEDY))
        rid = worker.submit(ev.EndVoiceTurn(session_id=sid, settings=GREEDY))
        done = rec.wait_for(rid, (ev.TurnFinished, ev.ErrorEvent))
        assert isinstance(done, ev.TurnFinished), done
        answers[sid] = done.text
    assert answers["paused"] == answers["plain"]
    assert not [e for e in rec.events if isinstance(e, ev.ErrorEvent) and e.session_id in answers]


def test_a_cancel_drops_answers_still_waiting_in_the_queue(engine):
    worker, rec = engine
    worker.submit(ev.OpenSession(session_id="q"))
    first = worker.submit(ev.SendMessage(session_id="q", content="one", settings=ENDLESS))
    queued = worker.submit(ev.SendMessage(session_id="q", content="two", settings=ENDLESS))
    worker.submit(ev.Cancel(session_id="q"))
    assert rec.wait_for(first, ev.TurnFinished).reason == "cancelled"
    dropped = rec.wait_for(queued, ev.TurnFinished)
    assert dropped.reason == "cancelled"
    assert not [e for e in rec.of(queued) if isinstance(e, (ev.TextDelta, ev.TurnStats))]
    after = worker.submit(ev.SendMessage(session_id="q", content="three", settings=GREEDY))
    assert rec.wait_for(after, (ev.TurnFinished, ev.ErrorEvent)).reason == "length"


def test_regenerate_is_accepted_with_its_first_token_and_a_refused_one_changes_nothing(engine):
    worker, rec = engine
    worker.submit(ev.OpenSession(session_id="r"))
    rid = worker.submit(ev.Regenerate(session_id="r", settings=GREEDY))
    err = rec.wait_for(rid, ev.ErrorEvent)
    assert err.kind == "bad_request" and not [e for e in rec.of(rid) if isinstance(e, ev.Accepted)]
    first = worker.submit(ev.SendMessage(session_id="r", content="Hi", settings=GREEDY))
    rec.wait_for(first, ev.TurnFinished)
    again = worker.submit(ev.Regenerate(session_id="r", settings=GREEDY))
    rec.wait_for(again, ev.TurnFinished)
    kinds = [type(e) for e in rec.of(again)]
    assert kinds.index(ev.Accepted) < kinds.index(ev.TextDelta)
    assert [e.text for e in rec.of(again) if isinstance(e, ev.TextDelta)] == [
        e.text for e in rec.of(first) if isinstance(e, ev.TextDelta)]


def test_prepared_media_stay_until_a_message_uses_them(engine, tmp_path, monkeypatch):
    """A failed message leaves its prepared image for the next try; a failed preparation keeps nothing."""
    from PIL import Image

    import engine.inputs.image as image_module

    worker, rec = engine
    worker.submit(ev.OpenSession(session_id="m", context_length=320))
    path = tmp_path / "a.png"
    Image.fromarray(np.zeros((48, 48, 3), np.uint8)).save(path)
    rec.wait_for(worker.submit(ev.PrepareMedia(session_id="m", item={"type": "image", "image": str(path)})),
                 ev.Progress)
    assert list(worker.media["m"]) == [str(path)]
    too_long = [{"type": "image", "image": str(path)}, {"type": "text", "text": "word " * 100}]
    rid = worker.submit(ev.SendMessage(session_id="m", content=too_long, settings=GREEDY))
    assert rec.wait_for(rid, ev.ErrorEvent).kind == "too_long"
    assert list(worker.media["m"]) == [str(path)]  # still there for the next try

    def refused(*args, **kwargs):
        raise OSError("the file cannot be read")

    monkeypatch.setattr(image_module, "preprocess_image", refused)
    other = tmp_path / "b.png"
    rid = worker.submit(ev.PrepareMedia(session_id="m", item={"type": "image", "image": str(other)}))
    rec.wait_for(rid, ev.ErrorEvent)
    assert list(worker.media["m"]) == [str(path)]
    rid = worker.submit(ev.SendMessage(session_id="m", content=[{"type": "image", "image": str(path)}],
                                       settings=GREEDY))
    rec.wait_for(rid, ev.TurnFinished)
    assert worker.media["m"] == {}


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
