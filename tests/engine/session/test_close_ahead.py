"""A voice turn's close fed ahead: taken back it leaves the audio heard, kept it equals the plain end of turn."""

import mlx.core as mx
import numpy as np
import pytest

from engine import protocol as ev
from engine.decode import cache as kv_cache
from engine.decode.cache import Retention
from engine.loading import load_everything
from engine.session import Cancelled, Session, SessionOptions
from engine.session.close_ahead import CloseAheadRate
from engine.session.persistence import load_session, save_session
from engine.session.segments import Segment

from session_invariants import GREEDY, answer_of, assert_close, assert_kept_cache_matches_fresh, fresh_logits, run


@pytest.fixture(scope="module")
def loaded(tiny_checkpoint):
    return load_everything(str(tiny_checkpoint))


def new_session(loaded, close_ahead: bool, answer_ahead: int = 32) -> Session:
    # The tiny tokenizer's close is 19 tokens (the real one's 13): slack for it and the partial frame; the
    # tiny window is 8, so the rows back to a turn's start are kept for 64 rows (the 12B keeps a window, 1024).
    opts = SessionOptions(chunk_tokens=5, audio_chunk_frames=3, close_ahead=close_ahead,
                          retention=Retention(slack=24, max_retain=64), answer_ahead_tokens=answer_ahead)
    return Session(loaded.model, loaded.tokenizer, loaded.template, loaded.gen_config, opts)


SAMPLES = np.random.default_rng(7).uniform(-0.5, 0.5, 4000).astype(np.float32)
CHUNKS = np.split(SAMPLES, [700, 1500, 1900, 3333])  # partial frames left after most chunks


def voice_turn(session: Session, chunks=CHUNKS, text: str = "") -> list:
    run(session.send("First a text turn.", GREEDY))
    run(session.start_voice(GREEDY))
    for part in chunks:
        run(session.append_audio(part))
    return run(session.end_voice(text, GREEDY))


def assert_cache_is_what_was_fed(session: Session) -> None:
    """The caches hold exactly `session.segments`: one more token gives a fresh prefill's logits."""
    assert all(c.offset == session.offset for c in session.cache)
    probe = Segment(np.asarray([7], np.int32))
    live = session.model(mx.array(probe.ids[None]), cache=session.cache)[:, -1]
    kv_cache.trim_to(session.cache, session.offset)  # the probe taken back out
    assert_close(live, fresh_logits(session.model, session.segments + [probe]))


def test_a_close_fed_ahead_is_kept_by_end_voice_and_equals_the_plain_turn(loaded):
    ahead, plain = new_session(loaded, True), new_session(loaded, False)
    answer_ahead, answer_plain = answer_of(voice_turn(ahead)), answer_of(voice_turn(plain))
    assert ahead.close_rate.close_seconds is not None  # the close was fed ahead, and kept
    assert ahead.token_ids().tolist() == plain.token_ids().tolist()
    assert answer_ahead == answer_plain
    assert ahead.messages == plain.messages
    assert_kept_cache_matches_fresh(ahead)
    run(ahead.send("And then?", GREEDY))
    run(plain.send("And then?", GREEDY))
    assert ahead.token_ids().tolist() == plain.token_ids().tolist()


def test_more_audio_takes_the_close_back_leaving_the_audio_heard(loaded):
    s = new_session(loaded, True)
    run(s.send("First a text turn.", GREEDY))
    run(s.start_voice(GREEDY))
    for part in CHUNKS[:3]:
        run(s.append_audio(part))
        assert s.prepared_close is not None
        assert s.cache[0].offset == s.offset + s.prepared_close.tokens
    s.drop_prepared_close()
    assert_cache_is_what_was_fed(s)
    assert s.voice is not None and s.voice.buffer.shape[0] == 1900 % 640  # the partial frame still waits


def test_typed_text_at_the_end_feeds_its_own_close(loaded):
    ahead, plain = new_session(loaded, True), new_session(loaded, False)
    voice_turn(ahead, text="What was that?")
    voice_turn(plain, text="What was that?")
    assert ahead.token_ids().tolist() == plain.token_ids().tolist()
    assert_kept_cache_matches_fresh(ahead)


def test_a_cancel_while_the_close_is_fed_takes_the_append_back_and_the_turn_goes_on(loaded):
    s = new_session(loaded, True)
    run(s.send("First a text turn.", GREEDY))
    run(s.start_voice(GREEDY))
    run(s.append_audio(SAMPLES[:1300]))  # two frames in, a close prepared
    with pytest.raises(Cancelled):
        for e in s.append_audio(SAMPLES[1300:1500]):  # no new frame: only the close is fed
            if isinstance(e, ev.Progress):
                s.cancel.set()
    s.cancel.clear()
    assert s.prepared_close is None
    # The cancelled append is taken back whole: its samples are not in the turn.
    assert s.voice is not None and s.voice.buffer.shape[0] == 1300 - 1280
    assert_cache_is_what_was_fed(s)
    for part in np.split(SAMPLES[1300:], [1200]):
        run(s.append_audio(part))
    run(s.end_voice("", GREEDY))
    plain = new_session(loaded, False)
    voice_turn(plain, chunks=np.split(SAMPLES, [1300, 2500]))
    assert s.token_ids().tolist() == plain.token_ids().tolist()
    assert_kept_cache_matches_fresh(s)


def test_cancel_voice_rollback_and_save_take_the_close_out_first(loaded, tmp_path):
    s = new_session(loaded, True)
    run(s.send("First a text turn.", GREEDY))
    before = s.token_ids().tolist()
    run(s.start_voice(GREEDY))
    run(s.append_audio(SAMPLES[:1500]))
    s.cancel_voice()
    assert s.prepared_close is None and s.token_ids().tolist() == before
    assert_cache_is_what_was_fed(s)

    run(s.start_voice(GREEDY))
    run(s.append_audio(SAMPLES[:1500]))
    save_session(s, tmp_path / "c.safetensors")
    assert s.prepared_close is None
    reopened = new_session(loaded, True)
    load_session(reopened, tmp_path / "c.safetensors")
    assert reopened.offset == s.offset
    assert_cache_is_what_was_fed(s)

    run(s.append_audio(SAMPLES[1500:2000]))
    run(s.rollback(1))
    assert s.prepared_close is None and s.token_ids().tolist() == before
    assert_cache_is_what_was_fed(s)


def test_without_close_ahead_nothing_is_fed_past_the_audio(loaded):
    s = new_session(loaded, False)
    run(s.send("First a text turn.", GREEDY))
    run(s.start_voice(GREEDY))
    run(s.append_audio(SAMPLES))
    assert s.prepared_close is None and s.cache[0].offset == s.offset


def test_a_close_longer_than_the_caches_can_always_trim_is_not_fed_ahead(loaded):
    opts = SessionOptions(chunk_tokens=5, audio_chunk_frames=3, close_ahead=True, retention=Retention(slack=16))
    s = Session(loaded.model, loaded.tokenizer, loaded.template, loaded.gen_config, opts)
    run(s.start_voice(GREEDY))
    run(s.append_audio(SAMPLES))
    assert s.prepared_close is None and s.cache[0].offset == s.offset


def test_the_rate_closes_ahead_only_where_the_prefill_keeps_up_with_the_speech():
    rate = CloseAheadRate()
    assert not rate.pays_off(14)  # nothing measured yet
    rate.record_batch(samples=16000, frames=25, seconds=0.05)  # 1 s of speech fed in 50 ms (a GPU)
    assert rate.pays_off(14)  # about 28 ms more for the close: still far ahead of the speech
    rate.record_close(tokens=14, seconds=2.0)  # but the close measured slow
    assert not rate.pays_off(14)
    slow = CloseAheadRate()
    slow.record_batch(samples=16000, frames=25, seconds=0.9)  # keeps up, but only just
    assert not slow.pays_off(14)  # 0.9 s + 0.5 s for the close > 1 s of speech
    slow.record_batch(samples=16000, frames=25, seconds=30.0)  # a loaded CPU: far behind
    assert not slow.pays_off(1)
    assert CloseAheadRate(wanted=True).pays_off(14) and not CloseAheadRate(wanted=False).pays_off(14)


# ---------------------------------------------------------------- the answer begun at a pause

LONGER = ev.GenerationSettings(temperature=0.0, max_tokens=12, use_drafter=False)


def paused_turn(session: Session, chunks=CHUNKS, settings=LONGER, waits=lambda: False) -> list:
    """A text turn, then a voice turn with a pause after its audio (prepare_answer) before it ends."""
    run(session.send("First a text turn.", GREEDY))
    run(session.start_voice(settings))
    for part in chunks:
        run(session.append_audio(part))
    return run(session.prepare_answer(settings, waits))


def plain_turn(loaded, chunks=CHUNKS, settings=LONGER) -> tuple[Session, list]:
    plain = new_session(loaded, False)
    run(plain.send("First a text turn.", GREEDY))
    run(plain.start_voice(settings))
    for part in chunks:
        run(plain.append_audio(part))
    return plain, run(plain.end_voice("", settings))


def tokens_of(events: list) -> str:
    return "".join(e.text for e in events if isinstance(e, ev.TextDelta))


@pytest.mark.parametrize("close_ahead", [True, False])
def test_an_answer_begun_at_a_pause_is_kept_and_equals_the_plain_turn_token_for_token(loaded, close_ahead):
    s = new_session(loaded, close_ahead, answer_ahead=5)
    paused_turn(s)
    prepared = s.prepared_close
    assert prepared is not None and len(prepared.answer) == 5  # decoded while the person was silent
    assert s.cache[0].offset == s.offset + prepared.tokens + 5
    events = run(s.end_voice("", LONGER))
    plain, plain_events = plain_turn(loaded)
    assert answer_of(events) == answer_of(plain_events) and tokens_of(events) == tokens_of(plain_events)
    assert s.token_ids().tolist() == plain.token_ids().tolist()  # the 5 ahead, then 7 more decoded on
    assert s.messages == plain.messages
    assert_kept_cache_matches_fresh(s)
    stats = next(e for e in events if isinstance(e, ev.TurnStats))
    assert stats.generated_tokens == 12


def test_more_audio_after_a_pause_takes_the_begun_answer_back_and_nothing_heard_is_lost(loaded):
    s = new_session(loaded, True)
    paused_turn(s, chunks=CHUNKS[:3])
    assert s.prepared_close.answer
    run(s.append_audio(CHUNKS[3]))  # the person goes on
    assert s.prepared_close is None or not s.prepared_close.answer
    s.drop_prepared_close()
    assert_cache_is_what_was_fed(s)  # exactly the audio heard, nothing of the answer
    run(s.append_audio(CHUNKS[4]))
    events = run(s.end_voice("", LONGER))
    plain, plain_events = plain_turn(loaded)
    assert answer_of(events) == answer_of(plain_events)
    assert s.token_ids().tolist() == plain.token_ids().tolist()
    assert_kept_cache_matches_fresh(s)


def test_decoding_ahead_stops_as_soon_as_another_command_waits_and_keeps_what_it_has(loaded):
    s = new_session(loaded, True)
    calls = []
    paused_turn(s, waits=lambda: calls.append(1) or len(calls) > 3)
    assert 1 <= len(s.prepared_close.answer) <= 3
    events = run(s.end_voice("", LONGER))
    assert answer_of(events) == answer_of(plain_turn(loaded)[1])
    assert_kept_cache_matches_fresh(s)


def test_other_settings_or_typed_text_at_the_end_do_not_use_the_begun_answer(loaded):
    other = ev.GenerationSettings(temperature=1.0, seed=5, max_tokens=9, use_drafter=False)  # sampled
    s = new_session(loaded, True)
    paused_turn(s)
    events = run(s.end_voice("", other))
    plain, plain_events = plain_turn(loaded, settings=other)
    assert answer_of(events) == answer_of(plain_events)
    assert s.token_ids().tolist() == plain.token_ids().tolist()
    assert_kept_cache_matches_fresh(s)

    typed = new_session(loaded, True)
    paused_turn(typed)
    run(typed.end_voice("And in French?", GREEDY))
    plain = new_session(loaded, False)
    voice_turn(plain, text="And in French?")
    assert typed.token_ids().tolist() == plain.token_ids().tolist()
    assert_kept_cache_matches_fresh(typed)


def test_a_stop_while_the_begun_answer_is_given_out_keeps_only_what_was_given(loaded):
    s = new_session(loaded, True)
    paused_turn(s)
    seen = []
    events = []
    for e in s.end_voice("", LONGER):
        events.append(e)
        if isinstance(e, ev.TextDelta):
            seen.append(e)
            if len(seen) == 2:
                s.cancel.set()
    s.cancel.clear()
    assert events[-1].reason == "cancelled"
    assert s.cache[0].offset == s.offset  # the rest of the begun answer went
    assert_kept_cache_matches_fresh(s)


def test_a_failed_end_of_turn_with_a_begun_answer_leaves_the_turn_open_as_it_was(loaded, monkeypatch):
    s = new_session(loaded, True, answer_ahead=5)  # the answer goes on past what was decoded ahead
    paused_turn(s)
    before = (s.offset, s.token_ids().tolist(), len(s.messages))
    monkeypatch.setattr(s, "_forward_token", lambda token: (_ for _ in ()).throw(RuntimeError("broken")))
    with pytest.raises(RuntimeError):
        run(s.end_voice("", LONGER))
    monkeypatch.undo()
    assert (s.offset, s.token_ids().tolist(), len(s.messages)) == before
    assert s.voice is not None and s.prepared_close is None
    assert_cache_is_what_was_fed(s)
    events = run(s.end_voice("", LONGER))
    assert answer_of(events) == answer_of(plain_turn(loaded)[1])
    assert_kept_cache_matches_fresh(s)


def test_a_failure_while_decoding_ahead_takes_all_of_it_back(loaded, monkeypatch):
    import engine.session.voice as voice_module

    s = new_session(loaded, True)
    run(s.send("First a text turn.", GREEDY))
    run(s.start_voice(LONGER))
    for part in CHUNKS:
        run(s.append_audio(part))
    assert s.prepared_close is not None  # the close fed ahead after the last batch

    def failing(*args, **kwargs):
        yield from ()
        raise RuntimeError("the device went away")

    monkeypatch.setattr(voice_module, "generate_tokens", failing)
    with pytest.raises(RuntimeError):
        run(s.prepare_answer(LONGER))
    monkeypatch.undo()
    assert s.prepared_close is None  # its rows went with the command
    assert_cache_is_what_was_fed(s)
    events = run(s.end_voice("", LONGER))
    assert answer_of(events) == answer_of(plain_turn(loaded)[1])
    assert_kept_cache_matches_fresh(s)


def test_in_a_turn_longer_than_the_caches_keep_only_what_a_trim_takes_back_is_fed_ahead(loaded):
    opts = SessionOptions(chunk_tokens=5, audio_chunk_frames=3, close_ahead=True, retention=Retention(slack=24))
    s = Session(loaded.model, loaded.tokenizer, loaded.template, loaded.gen_config, opts)  # 24 rows past the window
    run(s.start_voice(LONGER))
    long_audio = np.random.default_rng(3).uniform(-0.5, 0.5, 40 * 640 + 100).astype(np.float32)
    for part in np.array_split(long_audio, 8):
        run(s.append_audio(part))
    run(s.prepare_answer(LONGER))
    prepared = s.prepared_close
    assert prepared is not None and prepared.tokens + len(prepared.answer) <= 24
    assert kv_cache.can_trim_to(s.cache, s.offset)  # taken back by a trim, not by feeding the turn again
    run(s.append_audio(np.zeros(640, np.float32)))  # the person goes on (and the close is fed again)
    s.drop_prepared_close()
    assert_cache_is_what_was_fed(s)



def test_at_a_pause_a_close_slower_than_the_silence_left_is_not_fed(loaded):
    s = new_session(loaded, None)  # the device decides
    run(s.send("First a text turn.", GREEDY))
    run(s.start_voice(LONGER))
    run(s.append_audio(CHUNKS[0]))
    s.drop_prepared_close()
    s.close_rate.record_batch(samples=3200, frames=5, seconds=20.0)  # 4 s per frame: a slow device
    run(s.prepare_answer(LONGER, within_s=0.4))
    assert s.prepared_close is None and s.cache[0].offset == s.offset  # nothing a person would wait for
    s.close_rate.record_batch(samples=3200, frames=5, seconds=0.01)  # 2 ms per frame
    run(s.prepare_answer(LONGER, within_s=0.4))
    assert s.prepared_close is not None and s.prepared_close.answer
    run(s.prepare_answer(LONGER))  # no silence given (a benchmark, a test): fed where the device allows
    assert s.prepared_close.answer


def test_the_close_is_rendered_once_per_turn_not_after_every_batch(loaded, monkeypatch):
    s = new_session(loaded, True)
    run(s.send("First a text turn.", GREEDY))
    run(s.start_voice(GREEDY))
    rendered = []
    real = s._new_turn_text
    monkeypatch.setattr(s, "_new_turn_text", lambda *a: rendered.append(a) or real(*a))
    for part in CHUNKS:
        run(s.append_audio(part))
    assert s.close_rate.close_seconds is not None  # fed ahead after the batches
    assert len(rendered) == 1  # the conversation's template, rendered once for the whole turn
    run(s.end_voice("", GREEDY))
    plain = new_session(loaded, False)
    voice_turn(plain)
    assert s.token_ids().tolist() == plain.token_ids().tolist()
