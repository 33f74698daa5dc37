"""Agent runs kept in the store (RunHistory, no Qt): begun before they start, recorded as they go,
read back whole, never recorded after a delete, and a failed save said once without stopping."""

from __future__ import annotations

import pytest

from app.agent import Decision, Finished, StopReason
from app.agent.events import CommandOutput, Observation, StepStarted
from app.agent.run_record import Decided, from_record
from app.store import AGENT_RUN, Store
from app.ui.agent.run_history import NOT_SAVED, RunHistory, RunNotSaved


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "data")
    yield s
    s.close()


def test_a_run_is_stored_then_recorded_and_read_back(store, tmp_path):
    history = RunHistory(store)
    shot = tmp_path / "s.png"
    from PIL import Image

    Image.new("RGB", (4, 4)).save(shot)
    run_id = history.begin("Fix it", [store.import_file(shot)], "/work/p", "ask")
    assert store.conversation(run_id).kind == AGENT_RUN and history.recording
    assert history.record(StepStarted(1, 5))
    history.record(CommandOutput(1, "out"))
    history.decided(1, Decision.allow_once())
    history.record(Observation(1, "run_command", {"exit_code": 0}, ok=True))
    history.record(Finished(StopReason.DONE, "Done.", 1), used="0:03")
    history.end()
    assert not history.recording and history.run_id == run_id
    stored = history.load(run_id)
    assert (stored.info.workspace, stored.info.mode) == ("/work/p", "ask")
    assert stored.task == "Fix it" and stored.files == ["s.png"]
    events = [from_record(r) for r in stored.records]
    assert events == [StepStarted(1, 5), Decided(1, Decision.allow_once()),
                      CommandOutput(1, "out"),
                      Observation(1, "run_command", {"exit_code": 0}, ok=True),
                      Finished(StopReason.DONE, "Done.", 1)]
    assert stored.records[-1]["used"] == "0:03"
    assert history.load(store.create_conversation("a chat").id) is None


def test_a_run_that_did_not_start_leaves_nothing(store):
    history = RunHistory(store)
    history.begin("task", [], "/p", "ask")
    history.abandon()
    assert store.conversations() == [] and history.run_id is None and not history.recording


def test_a_run_that_cannot_be_stored_raises_a_sentence(store):
    history = RunHistory(store)
    store.close()
    with pytest.raises(RunNotSaved) as refused:
        history.begin("task", [], "/p", "ask")
    assert str(refused.value) == NOT_SAVED and history.run_id is None


def test_a_deleted_run_is_recorded_no_more(store):
    history = RunHistory(store)
    run_id = history.begin("task", [], "/p", "ask")
    store.delete_conversation(run_id)
    assert history.record(StepStarted(1, 5))  # dropped, and not a save failure
    assert not history.recording
    assert history.forget(run_id) and history.run_id is None
    assert not history.forget("another")


def test_a_failed_save_is_said_once_and_the_run_goes_on(store):
    history = RunHistory(store)
    history.begin("task", [], "/p", "ask")
    store.close()  # the disk went away
    assert history.record(StepStarted(1, 5)) is False  # said once
    assert history.record(StepStarted(2, 5)) is True  # not again
    history.decided(1, Decision.deny())
    history.end()
