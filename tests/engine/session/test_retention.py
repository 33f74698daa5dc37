"""The retention policy: no snapshot copies at marks; going back to the last turn is a trim, or starts at
the rows the sliding caches pinned for it, so only that turn's tokens are fed again."""

import pytest

from engine.decode import cache as kv_cache
from engine.decode.cache import Retention
from engine.loading import load_everything
from engine.session import Session, SessionOptions
from session_invariants import GREEDY, assert_kept_cache_matches_fresh, run

# Window 8 on the tiny shape: rows beyond 2 tokens back are pinned or evicted.
EVICTING = Retention(slack=2, max_retain=2, step=2)


@pytest.fixture(scope="module")
def loaded(tiny_checkpoint):
    return load_everything(str(tiny_checkpoint))


def new_session(loaded, **options) -> Session:
    opts = SessionOptions(chunk_tokens=5, **options)
    return Session(loaded.model, loaded.tokenizer, loaded.template, loaded.gen_config, opts)


def test_marks_keep_no_snapshot_copies_by_default(loaded):
    s = new_session(loaded)
    for text in ["one", "two two", "three three three"]:
        run(s.send(text, GREEDY))
    assert all(m.snapshot is None for m in s.turns + s.answer_marks)


def test_regenerate_past_evicted_rows_feeds_only_the_last_prompt_again(loaded, monkeypatch):
    s = new_session(loaded, retention=EVICTING)
    for text in ["one one one one", "two two two two two"]:
        run(s.send(text, GREEDY))
    turn, mark = s.turns[-1], s.answer_marks[-1]
    assert not kv_cache.can_trim_to(s.cache, mark.offset)
    assert kv_cache.nearest_trim_point(s.cache, mark.offset) == turn.offset  # its rows are pinned
    first = s.segments[-1].ids.tolist()
    fed = []
    real = s.model.hidden_states
    monkeypatch.setattr(s.model, "hidden_states", lambda ids, *a, **k: fed.append(ids.shape[1]) or real(ids, *a, **k))
    events = run(s.regenerate(GREEDY))
    monkeypatch.undo()
    assert sum(fed) <= (mark.offset - turn.offset) + len(first)  # the last prompt and the new answer
    assert s.segments[-1].ids.tolist() == first  # greedy: the same answer
    run(s.send("three", GREEDY))
    assert_kept_cache_matches_fresh(s)
