"""engine.session_budget: idle conversations go to disk least recently used first and come back unchanged."""

import mlx.core as mx
import numpy as np
import pytest

from engine import protocol as ev
from engine.decode import cache as kv_cache
from engine.decode.cache import Retention
from engine.loading import load_everything
from engine.session import Session, SessionOptions
from engine.session_budget import GIB, MIN_LIMIT, SessionBudget, cache_bytes, default_limit
from engine.worker import EngineWorker
from test_worker import Recorder

GREEDY = ev.GenerationSettings(temperature=0.0, max_tokens=6, use_drafter=False)
# Window 8 on the tiny shape: rows are pinned after a few tokens, and older turns need a replay.
EVICTING = Retention(slack=2, max_retain=2, step=2)


@pytest.fixture(scope="module")
def loaded(tiny_checkpoint):
    return load_everything(str(tiny_checkpoint))


def new_session(loaded, **options) -> Session:
    opts = SessionOptions(chunk_tokens=5, **options)
    return Session(loaded.model, loaded.tokenizer, loaded.template, loaded.gen_config, opts)


def run(events) -> list:
    return list(events)


def answer(events) -> str:
    return next(e.text for e in events if isinstance(e, ev.TurnFinished))


def rows(session) -> list[np.ndarray]:
    out = []
    for c in session.cache:
        out += [np.array(a) for a in c.state]
        pinned = getattr(c, "pinned", None)
        if pinned is not None:
            out += [np.array(pinned.keys), np.array(pinned.values)]
    return out


def test_the_least_recently_used_idle_session_goes_first(loaded, tmp_path):
    sessions = {sid: new_session(loaded) for sid in "abc"}
    budget = SessionBudget(0, tmp_path)
    for sid in "bac":
        run(budget.ensure_loaded(sid, sessions))
        run(sessions[sid].send(f"hello from {sid}", GREEDY))
    events = run(budget.enforce(sessions, keep="c"))
    assert [e.session_id for e in events] == ["b", "a"]  # b was used first; c just ran
    assert all(isinstance(e, ev.SessionEvicted) and e.bytes_freed > 0 and e.message for e in events)
    assert cache_bytes(sessions["a"]) == cache_bytes(sessions["b"]) == 0 < cache_bytes(sessions["c"])
    reloaded = run(budget.ensure_loaded("b", sessions))
    assert isinstance(reloaded[0], ev.SessionReloaded) and cache_bytes(sessions["b"]) > 0
    assert [e.session_id for e in run(budget.enforce(sessions, keep="b"))] == ["c"]
    budget.forget("a")
    assert list(tmp_path.iterdir()) == [budget.path_of("c")]


@pytest.mark.parametrize("retention", [Retention(), EVICTING], ids=["rows-kept", "pinned"])
def test_a_reloaded_session_is_the_session_it_was(loaded, tmp_path, retention):
    """Its caches hold the same rows; the next turn, a regenerate and a rollback match a twin never evicted."""
    twin, s = new_session(loaded, retention=retention), new_session(loaded, retention=retention)
    for text in ["one one one", "two two two two two two"]:
        assert answer(run(twin.send(text, GREEDY))) == answer(run(s.send(text, GREEDY)))
    before = rows(s)
    sessions = {"s": s}
    budget = SessionBudget(0, tmp_path)
    run(budget.ensure_loaded("s", sessions))
    run(budget.enforce(sessions, keep=None))
    assert s.cache == []
    run(budget.ensure_loaded("s", sessions))
    assert all(np.array_equal(a, b) for a, b in zip(rows(s), before, strict=True))
    assert kv_cache.can_trim_to(s.cache, s.turns[-1].offset)  # going back to the last turn is a trim
    assert answer(run(s.regenerate(GREEDY))) == answer(run(twin.regenerate(GREEDY)))
    assert answer(run(s.send("three", GREEDY))) == answer(run(twin.send("three", GREEDY)))
    run(budget.enforce(sessions, keep=None))
    run(budget.ensure_loaded("s", sessions))
    run(s.rollback(1)), run(twin.rollback(1))
    assert answer(run(s.send("two, edited", GREEDY))) == answer(run(twin.send("two, edited", GREEDY)))
    assert s.token_ids().tolist() == twin.token_ids().tolist()
    probe = mx.array(s.token_ids()[-1:][None])
    kept = s.model.hidden_states(probe, s.cache)
    fresh = twin.model.hidden_states(probe, twin.cache)
    assert np.allclose(np.array(kept), np.array(fresh), atol=1e-5)


def test_the_default_limit_leaves_the_weights_and_a_margin():
    assert default_limit(7 * GIB, total_bytes=16 * GIB) == int(16 * GIB * 0.7) - 7 * GIB - 2 * GIB
    assert default_limit(20 * GIB, total_bytes=16 * GIB) == MIN_LIMIT


def test_the_worker_evicts_and_reloads_with_events(tiny_checkpoint, tmp_path):
    rec = Recorder()
    worker = EngineWorker(rec, memory_budget=0, eviction_folder=tmp_path)
    worker.start()
    try:
        rec.wait_for(worker.submit(ev.LoadModel(path=str(tiny_checkpoint))), (ev.ModelLoaded,))
        for sid in ("x", "y"):
            worker.submit(ev.OpenSession(session_id=sid))
            rid = worker.submit(ev.SendMessage(session_id=sid, content=f"hi {sid}", settings=GREEDY))
            rec.wait_for(rid, (ev.TurnFinished,))
        evicted = [e.session_id for e in rec.events if isinstance(e, ev.SessionEvicted)]
        assert evicted == ["x"]  # once y was opened (limit 0: every idle conversation goes)
        rid = worker.submit(ev.SendMessage(session_id="x", content="again", settings=GREEDY))
        finished = rec.wait_for(rid, (ev.TurnFinished,))
        kinds = [type(e) for e in rec.of(rid)]
        assert kinds[0] is ev.SessionReloaded and finished.reason in ("stop", "length")
        assert rec.wait_for(rid, (ev.SessionEvicted,)).session_id == "y"
        worker.submit(ev.CloseSession(session_id="y"))
    finally:
        worker.stop()


def test_a_session_with_a_quantized_cache_goes_to_disk_and_back(loaded, tmp_path):
    s = new_session(loaded, kv_bits=4)
    run(s.send("one one one", GREEDY))
    before = [np.array(a) for c in s.cache for a in c.state]
    budget, sessions = SessionBudget(0, tmp_path), {"q": s}
    run(budget.ensure_loaded("q", sessions))
    run(budget.enforce(sessions, keep=None))
    run(budget.ensure_loaded("q", sessions))
    assert [type(c).__name__ for c in s.cache].count("QuantizedFullCache") > 0
    after = [np.array(a) for c in s.cache for a in c.state]
    assert all(np.array_equal(a, b) for a, b in zip(after, before, strict=True))
    assert answer(run(s.send("two", GREEDY)))
