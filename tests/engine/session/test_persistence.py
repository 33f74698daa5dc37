"""engine.session.persistence: a saved session gives the same next turn; other files are refused clearly."""

import mlx.core as mx
import pytest

from engine.decode.cache import Retention, SlidingCache
from engine.session import NotFound, Session, SessionError, SessionOptions
from engine.session.persistence import load_session, read_session, save_session
from engine.worker import load_everything

from session_invariants import GREEDY, assert_close, assert_kept_cache_matches_fresh, kept_next_logits, run


@pytest.fixture(scope="module")
def loaded(tiny_checkpoint):
    return load_everything(str(tiny_checkpoint))


def new_session(loaded, **options) -> Session:
    opts = SessionOptions(chunk_tokens=5, **options)
    return Session(loaded.model, loaded.tokenizer, loaded.template, loaded.gen_config, opts)


@pytest.mark.parametrize("retention", [Retention(), Retention(slack=2, max_retain=2, step=2)])
def test_saved_cache_gives_the_same_next_turn(loaded, tmp_path, retention):
    s = new_session(loaded, retention=retention)
    run(s.send("Remember the number 7.", GREEDY))
    run(s.send("And 8.", GREEDY))
    save_session(s, tmp_path / "conv.safetensors")
    reopened = new_session(loaded)
    load_session(reopened, tmp_path / "conv.safetensors")
    assert reopened.token_ids().tolist() == s.token_ids().tolist()
    assert reopened.messages == s.messages and reopened.offset == s.offset
    assert [(m.offset, m.n_segments, m.n_messages, m.answer_open) for m in reopened.turns] == [
        (m.offset, m.n_segments, m.n_messages, m.answer_open) for m in s.turns]
    assert [c.size() for c in reopened.cache] == [c.size() for c in s.cache]
    run(s.send("Which numbers?", GREEDY))
    run(reopened.send("Which numbers?", GREEDY))
    assert_close(kept_next_logits(s), kept_next_logits(reopened))
    run(reopened.rollback(1))  # going back past the load point feeds saved segments again
    run(reopened.send("And 9.", GREEDY))
    assert_kept_cache_matches_fresh(reopened)


def test_other_files_are_refused_with_a_clear_error(loaded, tmp_path):
    from mlx_lm.models.cache import KVCache, save_prompt_cache

    s = new_session(loaded)
    with pytest.raises(NotFound, match="no saved conversation cache"):
        load_session(s, tmp_path / "missing.safetensors")
    mlx_lm_file = tmp_path / "mlx-lm.safetensors"
    cache = KVCache()
    cache.update_and_fetch(mx.zeros((1, 1, 2, 4)), mx.zeros((1, 1, 2, 4)))
    save_prompt_cache(str(mlx_lm_file), [cache], {"tandem": "{}"})
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file at all")
    for path in (mlx_lm_file, junk):
        with pytest.raises(SessionError, match="not a conversation cache this version of Tandem can read"):
            load_session(s, path)
    run(s.send("Still fine.", GREEDY))


def test_a_cache_of_another_model_is_refused(loaded, tmp_path):
    s = new_session(loaded)
    run(s.send("Hi.", GREEDY))
    save_session(s, tmp_path / "conv.safetensors")
    fresh = loaded.model.make_cache()
    assert read_session(tmp_path / "conv.safetensors", fresh).offset == s.offset
    wider = [SlidingCache(c.window + 1) if isinstance(c, SlidingCache) else c for c in fresh]
    for other in (fresh[:-1], wider):
        with pytest.raises(SessionError, match="different model"):
            read_session(tmp_path / "conv.safetensors", other)


@pytest.mark.parametrize("retention", [Retention(), Retention(slack=2, max_retain=2, step=2)])
def test_regenerate_works_on_a_reopened_conversation(loaded, tmp_path, retention):
    """The answer marks come back with the cache: Regenerate after a reopen gives the answer again (greedy)."""
    s = new_session(loaded, retention=retention)
    run(s.send("Remember the number 7.", GREEDY))
    run(s.send("And 8.", GREEDY))
    save_session(s, tmp_path / "conv.safetensors")
    reopened = new_session(loaded, retention=retention)
    load_session(reopened, tmp_path / "conv.safetensors")
    assert [m.offset for m in reopened.answer_marks] == [m.offset for m in s.answer_marks]
    run(reopened.regenerate(GREEDY))
    assert reopened.token_ids().tolist() == s.token_ids().tolist()
    assert_kept_cache_matches_fresh(reopened)
    run(reopened.rollback(1))
    run(reopened.regenerate(GREEDY))  # the first answer, past the load point
    assert reopened.token_ids().tolist() == s.token_ids()[: s.turns[1].offset].tolist()


def test_a_load_that_fails_changes_nothing_and_a_save_that_fails_keeps_the_old_files(loaded, tmp_path,
                                                                                    monkeypatch):
    from engine.session import persistence

    from session_invariants import Observed

    s = new_session(loaded)
    run(s.send("Hi.", GREEDY))
    path = tmp_path / "conv.safetensors"
    save_session(s, path)
    saved_bytes = path.read_bytes(), persistence.segments_path(path).read_bytes()
    run(s.send("More.", GREEDY))
    before = Observed.of(s)
    persistence.segments_path(path).rename(tmp_path / "elsewhere.npz")
    with pytest.raises(SessionError, match="incomplete"):
        load_session(s, path)
    before.assert_unchanged(s)
    (tmp_path / "elsewhere.npz").rename(persistence.segments_path(path))

    def full_disk(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(persistence.np, "savez", full_disk)
    with pytest.raises(OSError):
        save_session(s, path)
    assert (path.read_bytes(), persistence.segments_path(path).read_bytes()) == saved_bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conv.safetensors", "conv.safetensors.segments.npz"]


@pytest.mark.parametrize("kv_bits", [8, 4])
def test_a_quantized_kv_cache_is_saved_and_reopened_as_it_was(loaded, tmp_path, kv_bits):
    from engine.decode.cache import QuantizedFullCache

    s = new_session(loaded, kv_bits=kv_bits)
    run(s.send("Remember the number 7.", GREEDY))
    save_session(s, tmp_path / "conv.safetensors")
    reopened = new_session(loaded, kv_bits=kv_bits)
    load_session(reopened, tmp_path / "conv.safetensors")
    quantized = [(a, b) for a, b in zip(s.cache, reopened.cache) if isinstance(a, QuantizedFullCache)]
    assert quantized and all(isinstance(b, QuantizedFullCache) and b.bits == kv_bits for _, b in quantized)
    for a, b in quantized:  # the packed rows, scales and biases themselves, not a re-quantized copy
        assert a.offset == b.offset and len(b.state) == 6
        assert all(mx.array_equal(x, y).item() for x, y in zip(a.state, b.state))
    assert reopened.token_ids().tolist() == s.token_ids().tolist()
    run(s.send("Which number?", GREEDY))
    run(reopened.send("Which number?", GREEDY))
    assert s.messages[-1]["content"] == reopened.messages[-1]["content"]


def test_a_quantized_save_opened_with_another_precision_says_which_to_use(loaded, tmp_path):
    s = new_session(loaded, kv_bits=8)
    run(s.send("Hi.", GREEDY))
    save_session(s, tmp_path / "conv.safetensors")
    plain = new_session(loaded)
    run(plain.send("Mine.", GREEDY))
    before = (plain.token_ids().tolist(), list(plain.messages))
    with pytest.raises(SessionError, match="saved with a 8-bit KV cache and this conversation uses a "
                                           "full-precision one: open it with the 8-bit KV cache"):
        load_session(plain, tmp_path / "conv.safetensors")
    assert (plain.token_ids().tolist(), plain.messages) == before  # nothing lost
