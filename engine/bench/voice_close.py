"""Benchmark: end of speech to first answer token, with and without the close fed ahead, in decode steps.

    python -m engine.bench.voice_close [--model DIR | --shape tiny|small] [--seconds 3 30] [--repeats 3]
                                       [--silence 0.7] [--pause 0.3] [--slack 32] [--sentence-tokens 12]

Through `engine.session.Session` (no app, no microphone): test audio arrives in 200 ms blocks.
- Push-to-talk: every block is appended, then `end_voice("")` is timed to the first output event, with
  `close_ahead` on and off, for each `--seconds`. One decode step (median time per token of a plain greedy
  decode on the same cache) is measured in the same process; the figures are ratios to it.
- Per device: `close_ahead=None` (the session decides from the measured prefill rate) for the shortest one.
- Hands-free: the blocks are paced in real time, followed by `--silence` seconds of silence blocks (what the
  microphone sends while the detector waits for the turn-end silence), then `end_voice`: all of them streamed,
  or those after a `--pause` of silence held back, and (as the app does) held back with the answer begun at
  the pause (`prepare_answer`). Timed from the
  moment the last block of speech arrived to the first output event; compared with silence + one step.
- First sentence (hands-free, held after the pause): end of speech to the end of a `--sentence-tokens`-token
  answer (what speech sentence by sentence starts with), with the answer begun at the pause
  (`prepare_answer`, decoding until the turn-end silence is reached) and without.
The answers are one token long, so the first output event (TurnFinished at the latest) marks the first token;
it comes after the decoder has fed that token (one forward), as in every answer.
The random-weight checkpoints have a test tokenizer whose close is 19 tokens (the released one: 13), so the
caches get `--slack` rows (default 32) to take a close back; the JSON says so. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from engine.inputs.audio import SAMPLE_RATE

BLOCK = SAMPLE_RATE // 5  # 200 ms, as the app sends them
OUTPUT_EVENTS = ("TextDelta", "ToolCallEvent", "ParseErrorEvent", "TurnFinished")


def test_audio(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.1 * np.sin(2 * np.pi * 220 * t) + 0.01 * rng.standard_normal(t.shape)).astype(np.float32)


def first_output(events) -> float:
    """Seconds until the first output event; the rest is drained."""
    start, first = time.perf_counter(), None
    for event in events:
        if first is None and type(event).__name__ in OUTPUT_EVENTS:
            first = time.perf_counter() - start
    return first if first is not None else time.perf_counter() - start


def decode_step_seconds(loaded, settings) -> float:
    """Median seconds per token of a plain greedy decode after a short prompt."""
    from engine.decode.generation import generate_tokens
    import mlx.core as mx

    cache = loaded.model.make_cache()
    logits = loaded.model(mx.array([[2, 105, 106, 107, 108]]), cache=cache)
    times, last = [], time.perf_counter()
    for step in generate_tokens(loaded.model, cache, logits, settings=settings, config=loaded.gen_config):
        now = time.perf_counter()
        times.append(now - last)
        last = now
        if step.stop:
            break
    return statistics.median(times[1:] or times)


def load_bench_model(model: str | None, shape: str, work: str):
    """The checkpoint at `model`, else a random-weight one of `shape` written under `work`, loaded."""
    from engine.checkpoint import make_checkpoint
    from engine.loading import load_everything

    if model is None:
        model = str(Path(work) / shape)
        make_checkpoint(Path(model), shape=shape, seed=0)
    return load_everything(model)


def new_session(loaded, close_ahead: bool | None, slack: int):
    from engine.decode.cache import Retention
    from engine.session import Session, SessionOptions

    options = SessionOptions(close_ahead=close_ahead, retention=Retention(slack=slack))
    return Session(loaded.model, loaded.tokenizer, loaded.template, loaded.gen_config, options)


def push_to_talk(loaded, settings, seconds: float, close_ahead: bool | None, slack: int) -> dict:
    session = new_session(loaded, close_ahead, slack)
    list(session.start_voice(settings))
    audio = test_audio(seconds)
    for i in range(0, len(audio), BLOCK):
        list(session.append_audio(audio[i : i + BLOCK]))
    prepared = session.prepared_close is not None
    return {"end_to_first_token_s": first_output(session.end_voice("", settings)), "close_was_ready": prepared}


def stream_turn(session, settings, seconds: float, silence: float, pause: float | None = None,
                begin_answer: bool = False) -> tuple[float, float]:
    """Stream `seconds` of test audio and `silence` seconds of silence into the session's open voice turn in
    200 ms blocks, in real time. With `pause`, the blocks that start `pause` seconds into the silence are held
    back (what the app does once its detector hears a short pause), so the close fed after the last block sent
    is ready at the end; with `begin_answer` the session also begins the answer then (`prepare_answer`, as
    the app's PrepareVoiceAnswer), decoding until the turn-end silence is reached. Returns, once the silence
    is reached, the moment the speech ended (`time.perf_counter()`) and how far the prefill fell behind."""
    audio = np.concatenate([test_audio(seconds), np.zeros(int(silence * SAMPLE_RATE), np.float32)])
    speech_end = int(seconds * SAMPLE_RATE)
    start, behind, begun = time.perf_counter(), 0.0, False
    turn_end = start + len(audio) / SAMPLE_RATE
    held_from = None if pause is None else speech_end + int(pause * SAMPLE_RATE)
    for i in range(0, len(audio), BLOCK):
        if held_from is not None and i >= held_from:
            if begin_answer and not begun:  # the pause is heard: the answer is begun until the turn ends
                begun = True
                time.sleep(max(0.0, start + held_from / SAMPLE_RATE - time.perf_counter()))
                list(session.prepare_answer(settings, lambda: time.perf_counter() >= turn_end))
            continue
        due = start + min(i + BLOCK, len(audio)) / SAMPLE_RATE  # the block is complete on the microphone
        behind = max(behind, time.perf_counter() - due)
        time.sleep(max(0.0, due - time.perf_counter()))
        list(session.append_audio(audio[i : i + BLOCK]))
    time.sleep(max(0.0, turn_end - time.perf_counter()))
    return start + speech_end / SAMPLE_RATE, behind


def hands_free(loaded, settings, seconds: float, silence: float, close_ahead: bool, slack: int,
               pause: float | None = None, begin_answer: bool = False) -> dict:
    """A hands-free turn (`stream_turn`), then `end_voice` timed from the end of the speech."""
    session = new_session(loaded, close_ahead, slack)
    list(session.start_voice(settings))
    spoken_at, behind = stream_turn(session, settings, seconds, silence, pause, begin_answer)
    ahead = len(session.prepared_close.answer) if session.prepared_close is not None else 0
    first, last = None, None
    for event in session.end_voice("", settings):
        if type(event).__name__ in OUTPUT_EVENTS:
            first = first or time.perf_counter()
        if type(event).__name__ == "TurnFinished":
            last, tokens = time.perf_counter(), len(session.segments[-1])
    return {"end_to_first_token_s": first - spoken_at, "end_to_whole_answer_s": last - spoken_at,
            "answer_tokens": tokens, "decoded_during_the_pause": ahead, "prefill_behind_real_time_s": behind}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="checkpoint folder (default: a generated one)")
    parser.add_argument("--shape", default="tiny", help="shape of the generated checkpoint")
    parser.add_argument("--seconds", type=float, nargs="+", default=[3.0, 30.0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--silence", type=float, default=0.7, help="hands-free turn-end silence")
    parser.add_argument("--pause", type=float, default=0.3, help="hands-free pause after which audio is held")
    parser.add_argument("--slack", type=int, default=32, help="rows every cache can always take back")
    parser.add_argument("--sentence-tokens", type=int, default=12, help="answer tokens of a first sentence")
    args = parser.parse_args(argv)

    from engine import protocol as ev

    # One answer token: the turn finishes with it, so the first output event marks it whatever the parser holds.
    settings = ev.GenerationSettings(temperature=0.0, max_tokens=1, use_drafter=False, seed=0)
    with tempfile.TemporaryDirectory() as work:
        loaded = load_bench_model(args.model, args.shape, work)
        list(new_session(loaded, False, args.slack).send("warm up", settings))
        step = decode_step_seconds(loaded, ev.GenerationSettings(temperature=0.0, max_tokens=12, use_drafter=False))
        result: dict = {
            "model": args.model or f"generated {args.shape} (random weights)",
            "reduced": args.model is None,
            "cache_slack_rows": args.slack,
            "decode_step_s": step,
            "push_to_talk": {},
        }
        for seconds in args.seconds:
            for ahead in (True, False):
                runs = [push_to_talk(loaded, settings, seconds, ahead, args.slack) for _ in range(args.repeats)]
                median = statistics.median(r["end_to_first_token_s"] for r in runs)
                result["push_to_talk"][f"{seconds:g}s_close_ahead_{'on' if ahead else 'off'}"] = {
                    "runs_s": [r["end_to_first_token_s"] for r in runs],
                    "median_s": median,
                    "decode_steps": median / step,
                    "close_was_ready": all(r["close_was_ready"] for r in runs),
                }
        short = min(args.seconds)
        auto = push_to_talk(loaded, settings, short, None, args.slack)  # decided from the measured rate
        result["close_ahead_auto_on_this_device"] = auto["close_was_ready"]
        result["hands_free"] = {"speech_s": short, "silence_s": args.silence, "pause_s": args.pause}
        for name, ahead, pause, begin in (("answer_begun_at_the_pause", True, args.pause, True),
                                          ("close_ahead_on_held_after_pause", True, args.pause, False),
                                          ("close_ahead_on_all_streamed", True, None, False),
                                          ("close_ahead_off_all_streamed", False, None, False)):
            run = hands_free(loaded, settings, short, args.silence, ahead, args.slack, pause, begin)
            run["over_silence_in_decode_steps"] = (run["end_to_first_token_s"] - args.silence) / step
            result["hands_free"][name] = run
        # A first sentence (`--sentence-tokens` answer tokens, what speech starts with): begun at the pause or not.
        sentence = ev.GenerationSettings(temperature=0.0, max_tokens=args.sentence_tokens, use_drafter=False)
        result["first_sentence"] = {"tokens": args.sentence_tokens}
        for name, begin in (("answer_begun_at_the_pause", True), ("answer_begun_at_the_end", False)):
            run = hands_free(loaded, sentence, short, args.silence, True, args.slack, args.pause, begin)
            run["sentence_over_silence_in_decode_steps"] = (run["end_to_whole_answer_s"] - args.silence) / step
            result["first_sentence"][name] = run
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
