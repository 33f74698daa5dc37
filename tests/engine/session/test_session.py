"""A live session keeps its cache across turns and stays equal to a fresh prefill of what it fed."""

import mlx.core as mx
import numpy as np
import pytest

from engine import protocol as ev
from engine.decode import cache as kv_cache
from engine.decode.cache import Retention
from engine.decode.generation import GenerationConfig, generate_tokens
from engine.session import Cancelled, Session, SessionError, SessionOptions
from engine.loading import load_everything

from session_invariants import (
    GREEDY,
    answer_of,
    assert_close,
    assert_kept_cache_matches_fresh,
    fresh_logits,
    kept_next_logits,
    run,
    scripted_steps,
)


@pytest.fixture(scope="module")
def loaded(tiny_checkpoint):
    return load_everything(str(tiny_checkpoint))


def new_session(loaded, **options) -> Session:
    opts = SessionOptions(chunk_tokens=5, audio_chunk_frames=3, **options)
    return Session(loaded.model, loaded.tokenizer, loaded.template, loaded.gen_config, opts)


# Sliding caches (window 8 on the tiny shape) that evict after a few tokens, so that going back to a mark
# cannot trim and must restore a snapshot or feed segments again.
EVICTING = Retention(slack=2, max_retain=2, step=2)


def last_answer_ids(session) -> list[int]:
    return session.segments[-1].ids.tolist()


def test_turn_three_from_kept_cache_equals_fresh_prefill(loaded):
    s = new_session(loaded, system_prompt="Be brief.")
    for text in ["Hello there, who are you?", "Tell me more.", "And once more, please!"]:
        run(s.send(text, GREEDY))
        assert_kept_cache_matches_fresh(s)
    # Greedy tokens of the last answer equal those decoded after a one-shot prefill.
    mark = s.answer_marks[-1]
    ids = np.concatenate([seg.ids for seg in s.segments[: mark.n_segments]])
    cache = loaded.model.make_cache()
    logits = loaded.model(mx.array(ids[None]), cache=cache)
    fresh = [st.token for st in generate_tokens(loaded.model, cache, logits, settings=GREEDY,
                                                config=loaded.gen_config) if not st.stop]
    assert fresh == last_answer_ids(s)
    assert s.offset == sum(len(seg) for seg in s.segments) == cache[0].offset


def test_audio_streamed_in_random_chunks_equals_one_shot(loaded):
    rng = np.random.default_rng(0)
    samples = rng.uniform(-0.5, 0.5, 16000 + 1234).astype(np.float32)
    samples[640:1280] = 0.0  # an all-zero frame
    streamed = new_session(loaded)
    run(streamed.send("First a text turn.", GREEDY))
    run(streamed.start_voice(GREEDY))
    cuts = np.sort(rng.choice(np.arange(1, len(samples)), size=7, replace=False))
    for part in np.split(samples, cuts):
        run(streamed.append_audio(part))
    run(streamed.end_voice("", GREEDY))

    one_shot = new_session(loaded)
    run(one_shot.send("First a text turn.", GREEDY))
    run(one_shot.send([{"type": "audio", "audio": samples}], GREEDY))

    assert streamed.token_ids().tolist() == one_shot.token_ids().tolist()
    assert_close(kept_next_logits(streamed), kept_next_logits(one_shot))
    assert_kept_cache_matches_fresh(streamed)


@pytest.mark.parametrize("retention,max_snapshots,trims", [
    (Retention(), 8, True),  # the caches still hold the rows: a trim
    (EVICTING, 8, False),  # rows evicted: the turn's snapshot
    (EVICTING, 1, False),  # and its snapshot dropped too: feed the segments again from position 0
])
def test_rollback_equals_fresh_prefill_of_earlier_turns(loaded, retention, max_snapshots, trims):
    s = new_session(loaded, max_snapshots=max_snapshots, retention=retention)
    for text in ["one", "two two", "three three three"]:
        run(s.send(text, GREEDY))
    assert kv_cache.can_trim_to(s.cache, s.turns[1].offset) == trims
    assert (s.turns[1].snapshot is not None) == (max_snapshots > 1)
    run(s.rollback(1))
    assert s.user_turns == 1 and [m["role"] for m in s.messages] == ["user", "assistant"]
    run(s.send("two, edited", GREEDY))

    fresh = new_session(loaded)
    run(fresh.send("one", GREEDY))
    run(fresh.send("two, edited", GREEDY))
    assert s.token_ids().tolist() == fresh.token_ids().tolist()
    assert_close(kept_next_logits(s), kept_next_logits(fresh))
    assert_kept_cache_matches_fresh(s)


@pytest.mark.parametrize("retention,max_snapshots", [(Retention(), 8), (EVICTING, 8), (EVICTING, 0)])
def test_regenerate_restores_the_prompt_and_answers_again(loaded, retention, max_snapshots):
    s = new_session(loaded, retention=retention, max_snapshots=max_snapshots)
    run(s.send("Hi", GREEDY))
    first = last_answer_ids(s)
    assert kv_cache.can_trim_to(s.cache, s.answer_marks[-1].offset) == (retention == Retention())
    offset_before = s.answer_marks[-1].offset
    run(s.regenerate(GREEDY))
    assert last_answer_ids(s) == first  # greedy: the same answer
    assert s.answer_marks[-1].offset == offset_before
    run(s.send("Next", GREEDY))
    assert_kept_cache_matches_fresh(s)


@pytest.mark.parametrize("retention", [Retention(), EVICTING])
def test_cancel_in_prefill_undoes_the_turn(loaded, retention):
    s = new_session(loaded, retention=retention)
    run(s.send("A first turn.", GREEDY))
    ids_before, messages_before = s.token_ids().tolist(), list(s.messages)
    gen = s.send("a long second message " * 5, GREEDY)
    with pytest.raises(Cancelled):
        for e in gen:
            if isinstance(e, ev.Progress):
                s.cancel.set()
    s.cancel.clear()
    assert s.token_ids().tolist() == ids_before and s.messages == messages_before
    run(s.send("Then this.", GREEDY))
    assert_kept_cache_matches_fresh(s)


def test_cancel_in_decode_keeps_the_partial_answer(loaded):
    s = new_session(loaded)
    s.gen_config = GenerationConfig(stop_tokens=())  # nothing ends the answer but the cancel
    settings = ev.GenerationSettings(temperature=0.0, max_tokens=50, use_drafter=False)
    events = []
    for e in s.send("Write a long story.", settings):
        events.append(e)
        if isinstance(e, (ev.TextDelta, ev.ToolCallEvent, ev.ParseErrorEvent)):
            s.cancel.set()
    s.cancel.clear()
    finished = [e for e in events if isinstance(e, ev.TurnFinished)][0]
    assert finished.reason == "cancelled"
    stats = [e for e in events if isinstance(e, ev.TurnStats)][0]
    assert 1 <= stats.generated_tokens < 50
    assert s.offset == len(s.token_ids())
    run(s.send("Go on.", GREEDY))
    assert_kept_cache_matches_fresh(s)


def test_bad_requests_are_clear_errors_and_change_nothing(loaded):
    s = new_session(loaded, context_length=60)
    with pytest.raises(SessionError, match="no answer to regenerate"):
        run(s.regenerate(GREEDY))
    with pytest.raises(SessionError, match="no voice turn"):
        run(s.append_audio(np.zeros(640, np.float32)))
    with pytest.raises(SessionError, match="too long"):
        run(s.send("word " * 200, GREEDY))
    assert s.offset == 0 and s.segments == []
    events = run(s.send("ok", GREEDY))
    assert answer_of(events) is not None
    assert fresh_logits(loaded.model, s.segments[:1]).shape[-1] == loaded.model.config.text_config.vocab_size


def test_tool_call_round_trip_continues_the_same_turn(loaded):
    s = new_session(loaded, tools=[{"type": "function", "function": {
        "name": "read_file", "description": "Read a file",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}},
                       "required": ["path"]}}}])
    s._steps = scripted_steps(s, 'Let me look.<|tool_call>call:read_file{path:<|"|>a.py<|"|>}<tool_call|>', 50)
    events = run(s.send("What is in a.py?", GREEDY))
    calls = [e for e in events if isinstance(e, ev.ToolCallEvent)]
    assert [(c.name, c.arguments) for c in calls] == [("read_file", {"path": "a.py"})]
    assert [e for e in events if isinstance(e, ev.TurnFinished)][0].reason == "tool_calls"
    del s._steps  # back to real decoding
    run(s.send_tool_results([{"name": "read_file", "response": "print('hi')"}], GREEDY))
    text = loaded.tokenizer.decode(s.token_ids().tolist())
    assert ('<tool_call|><|tool_response>response:read_file{value:<|"|>print(\'hi\')<|"|>}'
            '<tool_response|>') in text
    assert s.messages[-1]["tool_responses"][0]["name"] == "read_file"
    assert_kept_cache_matches_fresh(s)
    with pytest.raises(SessionError, match="has not asked"):
        run(s.send_tool_results([{"name": "read_file", "response": "again"}], GREEDY))
    run(s.send("Thanks.", GREEDY))
    assert_kept_cache_matches_fresh(s)


def test_loaded_history_feeds_the_rendered_conversation_and_lives_on(loaded):
    from engine.inputs.template import render_chat

    history = [
        {"role": "user", "content": "Hi, what is 2+2?"},
        {"role": "assistant", "content": "It is 4."},
        {"role": "user", "content": [{"type": "audio", "audio": np.full(1500, 0.1, np.float32)},
                                     {"type": "text", "text": "And this?"}]},
        {"role": "assistant", "content": "A tone."},
    ]
    s = new_session(loaded, system_prompt="Be brief.")
    run(s.load_history(history, GREEDY))
    assert s.user_turns == 2
    rendered = render_chat(s.messages, template=loaded.template, add_generation_prompt=False)
    assert loaded.tokenizer.decode(s.token_ids().tolist()) == rendered.replace(
        "<|audio|>", "<|audio>" + "<|audio|>" * 3 + "<audio|>")
    run(s.send("Now a new question.", GREEDY))
    assert_kept_cache_matches_fresh(s)
    run(s.rollback(1))
    run(s.send("Instead this.", GREEDY))
    assert_kept_cache_matches_fresh(s)
    with pytest.raises(SessionError, match="empty"):
        run(s.load_history([], GREEDY))


def test_loaded_history_can_end_in_tool_responses_and_the_model_continues(loaded):
    s = new_session(loaded)
    history = [
        {"role": "user", "content": "Read a.py"},
        {"role": "assistant", "content": "",
         "tool_calls": [{"function": {"name": "read_file", "arguments": {"path": "a.py"}}}],
         "tool_responses": [{"name": "read_file", "response": {"text": "x = 1"}}]},
    ]
    events = run(s.load_history(history, GREEDY, answer=True))
    assert [e for e in events if isinstance(e, ev.TurnFinished)]
    text = loaded.tokenizer.decode(s.token_ids().tolist())
    assert "<tool_response|><|channel>thought\n<channel|>" in text
    run(s.send("ok", GREEDY))
    assert_kept_cache_matches_fresh(s)


def test_tool_results_cancelled_in_prefill_leave_the_model_waiting_for_them(loaded):
    s = new_session(loaded)
    s._steps = scripted_steps(s, '<|tool_call>call:read_file{path:<|"|>a.py<|"|>}<tool_call|>', 50)
    run(s.send("What is in a.py?", GREEDY))
    del s._steps
    ids_before, last_before = s.token_ids().tolist(), dict(s.messages[-1])
    s.options.chunk_tokens = 2
    gen = s.send_tool_results([{"name": "read_file", "response": "x" * 40}], GREEDY)
    with pytest.raises(Cancelled):
        for e in gen:
            if isinstance(e, ev.Progress):
                s.cancel.set()
    s.cancel.clear()
    assert s.token_ids().tolist() == ids_before and s.messages[-1] == last_before
    assert [c.name for c in s.awaiting_tools] == ["read_file"]
    run(s.send_tool_results([{"name": "read_file", "response": "x = 1"}], GREEDY))
    run(s.send("ok", GREEDY))
    assert_kept_cache_matches_fresh(s)


def test_a_first_voice_turn_with_thinking_matches_the_same_turn_sent_at_once(loaded):
    thinking = ev.GenerationSettings(temperature=0.0, max_tokens=4, use_drafter=False,
                                     enable_thinking=True)
    samples = np.random.default_rng(3).uniform(-0.4, 0.4, 2000).astype(np.float32)
    streamed = new_session(loaded, system_prompt="Listen.")
    run(streamed.start_voice(thinking))
    run(streamed.append_audio(samples))
    run(streamed.end_voice("What was that?", thinking))
    at_once = new_session(loaded, system_prompt="Listen.")
    run(at_once.send([{"type": "audio", "audio": samples}, {"type": "text", "text": "What was that?"}],
                     thinking))
    assert streamed.token_ids().tolist() == at_once.token_ids().tolist()
    assert "<|think|>" in loaded.tokenizer.decode(streamed.token_ids().tolist())


def test_the_last_turn_stays_cheap_to_go_back_to(loaded):
    """The sliding caches keep the rows that trimming back to the last turn needs (within max_retain)."""
    s = new_session(loaded, retention=Retention(slack=2, max_retain=10_000, step=2))
    for text in ["one one one", "two two two", "three three three"]:
        run(s.send(text, GREEDY))
    assert kv_cache.can_trim_to(s.cache, s.turns[-1].offset)
    assert kv_cache.can_trim_to(s.cache, s.answer_marks[-1].offset)
    assert not kv_cache.can_trim_to(s.cache, s.turns[1].offset)  # older rows were let go
    run(s.rollback(2))
    run(s.send("three, edited", GREEDY))
    assert_kept_cache_matches_fresh(s)


def test_regenerate_after_a_rollback_past_evicted_rows_and_snapshots(loaded):
    """Back past what the caches and snapshots hold (rebuilt by replay), then the first answer again."""
    s = new_session(loaded, retention=EVICTING, max_snapshots=1)
    for text in ["one", "two two", "three three three"]:
        run(s.send(text, GREEDY))
    first_answer = s.segments[s.answer_marks[0].n_segments].ids.tolist()
    assert not kv_cache.can_trim_to(s.cache, s.turns[1].offset)
    assert s.answer_marks[0].snapshot is None and s.turns[1].snapshot is None
    run(s.rollback(1))
    events = run(s.regenerate(GREEDY))
    assert isinstance(events[-1], ev.TurnFinished) and any(isinstance(e, ev.Accepted) for e in events)
    assert last_answer_ids(s) == first_answer  # greedy: the same answer again
    assert_kept_cache_matches_fresh(s)


def test_regenerate_after_loading_history_answers_as_a_live_turn_would(loaded):
    history = [
        {"role": "user", "content": "Hi, what is 2+2?"},
        {"role": "assistant", "content": "It is 4."},
        {"role": "user", "content": "And 3+3?"},
        {"role": "assistant", "content": "It is 6."},
    ]
    s = new_session(loaded)
    run(s.load_history(history, GREEDY))
    assert [m.prompt_fed for m in s.answer_marks] == [False, False]
    run(s.regenerate(GREEDY))
    live = new_session(loaded)
    run(live.load_history(history[:2], GREEDY))
    run(live.send("And 3+3?", GREEDY))
    assert s.token_ids().tolist() == live.token_ids().tolist()
    assert s.messages == live.messages
    assert_kept_cache_matches_fresh(s)
    run(s.regenerate(GREEDY))  # the new answer's mark is a live one
    assert s.token_ids().tolist() == live.token_ids().tolist() and s.answer_marks[-1].prompt_fed


def test_a_failed_regenerate_keeps_its_mark_and_can_be_tried_again(loaded, monkeypatch):
    s = new_session(loaded)
    run(s.send("Hi", GREEDY))
    first = last_answer_ids(s)
    real = loaded.model.hidden_states

    def broken(*args, **kwargs):
        raise RuntimeError("the device went away")

    monkeypatch.setattr(loaded.model, "hidden_states", broken)
    with pytest.raises(RuntimeError):
        run(s.regenerate(GREEDY))
    monkeypatch.setattr(loaded.model, "hidden_states", real)
    assert len(s.answer_marks) == 1 and last_answer_ids(s) == first
    run(s.regenerate(GREEDY))
    assert last_answer_ids(s) == first


def test_input_only_tokens_are_never_generated(loaded, monkeypatch):
    """With the model pushed hard towards media placeholders and turn openers, answers hold none of them."""
    from engine.decode.generation import input_only_tokens

    banned = input_only_tokens(loaded.model.config, loaded.tokenizer)
    assert {loaded.model.config.image_token_id, loaded.model.config.audio_token_id, 105, 2} <= set(banned)
    real = loaded.model.logits

    def pushed(hidden):
        logits = real(hidden)
        bias = np.zeros(logits.shape[-1], np.float32)
        bias[list(banned)] = 100.0
        return logits + mx.array(bias)

    monkeypatch.setattr(loaded.model, "logits", pushed)
    # Without the suppression the push wins: the first token would be an input-only one.
    cache = loaded.model.make_cache()
    prompt = loaded.model(mx.array([[2, 105, 30, 31, 106, 107]]), cache=cache)
    plain = next(generate_tokens(loaded.model, cache, prompt, settings=GREEDY, config=GenerationConfig()))
    assert plain.token in banned
    s = new_session(loaded)
    s.gen_config = GenerationConfig(stop_tokens=())
    for settings in (GREEDY, ev.GenerationSettings(temperature=1.0, top_k=8, max_tokens=6, seed=3)):
        run(s.send("Describe a picture.", settings))
        assert not set(last_answer_ids(s)) & set(banned)


@pytest.fixture(scope="module")
def small_clip(tmp_path_factory):
    """Eight frames of a moving pattern with 0.8 s of AAC sound (tests/engine/inputs/video_clips.py)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "inputs"))
    from video_clips import Clip, write_clip

    clip = Clip("small.mp4", 96, 64, 8, sound="aac", options={"threads": "1", "preset": "ultrafast"})
    return write_clip(clip, tmp_path_factory.mktemp("clip"))


def test_video_turn_with_its_sound_equals_a_fresh_prefill(loaded, small_clip, tmp_path):
    """Prefill chunks of 5 tokens never cut a frame's block; sound follows the frames; save/rollback."""
    from engine.session.persistence import load_session, save_session

    s = new_session(loaded)
    run(s.send("Hello.", GREEDY))
    run(s.send([{"type": "video", "video": str(small_clip)}, {"type": "text", "text": "What moves?"}],
               GREEDY))
    assert_kept_cache_matches_fresh(s)
    assert [c["type"] for c in s.messages[-2]["content"]] == ["video", "audio", "text"]
    seg = s.segments[s.answer_marks[-1].n_segments - 1]
    assert seg.pixel_values_videos.shape == (8, 70, 6912) and seg.input_features.shape[0] == 1
    ids = seg.ids.tolist()
    video, audio = loaded.model.config.video_token_id, loaded.model.config.audio_token_id
    assert ids.index(audio) > len(ids) - 1 - ids[::-1].index(video)  # the sound comes after the frames
    run(s.send("And then?", GREEDY))
    save_session(s, tmp_path / "video.safetensors")
    reopened = new_session(loaded)
    load_session(reopened, tmp_path / "video.safetensors")
    for session in (s, reopened):  # going back feeds the saved video turn again, frames included
        run(session.rollback(2))
        run(session.send([{"type": "video", "video": str(small_clip), "sound": False}], GREEDY))
    assert last_answer_ids(reopened) == last_answer_ids(s)  # greedy: the same answer from the same cache
    assert_kept_cache_matches_fresh(reopened)
    assert [c["type"] for c in reopened.messages[-2]["content"]] == ["video"]


def test_a_bad_video_is_a_clear_error_and_changes_nothing(loaded, tmp_path):
    from engine.inputs.video import VideoError

    s = new_session(loaded)
    run(s.send("Hello.", GREEDY))
    before = (s.offset, len(s.segments), [dict(m) for m in s.messages], s.user_turns)
    bad = tmp_path / "notes.mov"
    bad.write_text("not a video")
    with pytest.raises(VideoError, match="is not a video Tandem can read"):
        run(s.send([{"type": "text", "text": "Look"}, {"type": "video", "video": str(bad)}], GREEDY))
    assert (s.offset, len(s.segments), s.messages, s.user_turns) == before
    run(s.send("Still here?", GREEDY))
    assert_kept_cache_matches_fresh(s)


def test_loaded_history_reads_its_videos_first_with_their_sound(loaded, small_clip, tmp_path):
    """A video in an earlier turn is fed with its sound after it; a bad one changes nothing."""
    s = new_session(loaded)
    run(s.send("Hello.", GREEDY))
    before = (s.offset, len(s.segments), [dict(m) for m in s.messages], s.user_turns)
    bad = tmp_path / "notes.mov"
    bad.write_text("not a video")
    history = [{"role": "user", "content": [{"type": "video", "video": str(bad)}]},
               {"role": "assistant", "content": "A square moves."}]
    from engine.inputs.video import VideoError

    with pytest.raises(VideoError, match="is not a video Tandem can read"):
        run(s.load_history(history, GREEDY))
    assert (s.offset, len(s.segments), s.messages, s.user_turns) == before
    history[0]["content"] = [{"type": "video", "video": str(small_clip)}, {"type": "text", "text": "What?"}]
    run(s.load_history(history + [{"role": "user", "content": "And then?"}], GREEDY, answer=True))
    assert [c["type"] for c in s.messages[0]["content"]] == ["video", "audio", "text"]
    assert s.segments[0].pixel_values_videos.shape[0] == 8 and s.segments[0].input_features.shape[0] == 1
    assert_kept_cache_matches_fresh(s)
