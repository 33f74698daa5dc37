"""Titles written by the model in the background: only when the engine is idle, in a throwaway
session, and stopped by any other command."""

from __future__ import annotations

import threading

import pytest
from test_worker import GREEDY, Recorder

from engine import protocol as ev
from engine.title import clean_title
from engine.worker import EngineWorker


@pytest.fixture()
def engine(tiny_checkpoint):
    rec = Recorder()
    worker = EngineWorker(rec)
    worker.start()
    rid = worker.submit(ev.LoadModel(path=str(tiny_checkpoint)))
    assert isinstance(rec.wait_for(rid, (ev.ModelLoaded, ev.ErrorEvent)), ev.ModelLoaded)
    yield worker, rec
    worker.stop()


def test_a_title_is_one_short_line_and_leaves_the_conversation_alone(engine):
    worker, rec = engine
    worker.submit(ev.OpenSession(session_id="c"))
    first = worker.submit(ev.SendMessage(session_id="c", content="Hello", settings=GREEDY))
    rec.wait_for(first, ev.TurnFinished)
    rid = worker.submit(ev.WriteTitle(conversation_id="c", text="User: Hello\nAssistant: Hi"))
    written = rec.wait_for(rid, (ev.TitleWritten, ev.ErrorEvent, ev.TurnFinished))
    assert isinstance(written, ev.TitleWritten), written
    assert "\n" not in written.title and len(written.title) <= 60
    assert not [e for e in rec.of(rid) if isinstance(e, ev.TextDelta)]  # nothing streams
    assert len(worker.sessions["c"].turns) == 1  # its own session is untouched
    again = worker.submit(ev.SendMessage(session_id="c", content="More", settings=GREEDY))
    assert rec.wait_for(again, (ev.TurnFinished, ev.ErrorEvent)).reason in ("stop", "length")


def test_a_title_waits_for_the_commands_already_queued(engine):
    worker, rec = engine
    worker.submit(ev.OpenSession(session_id="c"))
    title = worker.submit(ev.WriteTitle(conversation_id="c", text="User: a\nAssistant: b"))
    answer = worker.submit(ev.SendMessage(session_id="c", content="first", settings=GREEDY))
    rec.wait_for(title, (ev.TitleWritten, ev.TurnFinished))
    order = [e.request_id for e in rec.events if e.request_id in (title, answer)
             and isinstance(e, (ev.TurnFinished, ev.TitleWritten))]
    assert order == [answer, title]  # the answer did not wait for the title


class Gate(threading.Event):
    """The title's cancel flag: its first check waits until the test has sent its command."""

    def __init__(self):
        super().__init__()
        self.checked, self.go = threading.Event(), threading.Event()

    def is_set(self):
        if not self.checked.is_set():
            self.checked.set()
            self.go.wait(30)
        return super().is_set()


def test_any_command_stops_a_running_title(engine):
    worker, rec = engine
    worker.submit(ev.OpenSession(session_id="c"))
    worker.title_cancel = gate = Gate()
    title = worker.submit(ev.WriteTitle(conversation_id="c", text="User: a\nAssistant: b"))
    assert gate.checked.wait(30)  # the title is being written
    answer = worker.submit(ev.SendMessage(session_id="c", content="now", settings=GREEDY))
    gate.go.set()
    ended = rec.wait_for(title, (ev.TitleWritten, ev.TurnFinished, ev.ErrorEvent))
    assert isinstance(ended, ev.TurnFinished) and ended.reason == "cancelled"
    assert rec.wait_for(answer, (ev.TurnFinished, ev.ErrorEvent)).reason in ("stop", "length")


def test_clean_title():
    assert clean_title('  "Trip to Kyoto."\nmore') == "Trip to Kyoto"
    assert clean_title("**Title: Sourdough basics**") == "Sourdough basics"
    assert clean_title("\n\n") == ""
    assert clean_title("x" * 100) == "x" * 59 + "…"
