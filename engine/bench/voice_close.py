"""Benchmark: end of speech to first answer token, with and without the close fed ahead, in decode steps.

    python -m engine.bench.voice_close [--model DIR | --shape tiny|small] [--seconds 3 30] [--repeats 3]
                                       [--silence 0.7] [--slack 32]

Through `engine.session.Session` (no app, no microphone): test audio arrives in 200 ms blocks.
- Push-to-talk: every block is appended, then `end_voice("")` is timed to the first output event, with
  `close_ahead` on and off, for each `--seconds`. One decode step (median time per token of a plain greedy
  decode on the same cache) is measured in the same process; the figures are ratios to it.
- Per device: `close_ahead=None` (the session decides from the measured prefill rate) for the shortest one.
- Hands-free: the blocks are paced in real time, followed by `--silence` seconds of silence blocks (what the
  microphone sends while the detector waits for the turn-end silence), then `end_voice`: all of them streamed,
  or (as the app does) those after a `--pause` of silence held back. Timed from the
  moment the last block of speech arrived to the first output event; compared with silence + one step.
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


def hands_free(loaded, settings, seconds: float, silence: float, close_ahead: bool, slack: int,
               pause: float | None = None) -> dict:
    """With `pause`, the blocks that start `pause` seconds into the silence are held back (what the app does
    once its detector hears a short pause), so the close fed after the last block sent is ready at the end."""
    session = new_session(loaded, close_ahead, slack)
    list(session.start_voice(settings))
    audio = np.concatenate([test_audio(seconds), np.zeros(int(silence * SAMPLE_RATE), np.float32)])
    speech_end = int(seconds * SAMPLE_RATE)
    start, spoken_at, behind = time.perf_counter(), None, 0.0
    for i in range(0, len(audio), BLOCK):
        due = start + min(i + BLOCK, len(audio)) / SAMPLE_RATE  # the block is complete on the microphone
        behind = max(behind, time.perf_counter() - due)
        time.sleep(max(0.0, due - time.perf_counter()))
        if spoken_at is None and i + BLOCK >= speech_end:
            spoken_at = start + speech_end / SAMPLE_RATE
        if pause is None or i < speech_end + pause * SAMPLE_RATE:
            list(session.append_audio(audio[i : i + BLOCK]))
    time.sleep(max(0.0, start + len(audio) / SAMPLE_RATE - time.perf_counter()))
    first = first_output(session.end_voice("", settings))
    return {"end_to_first_token_s": time.perf_counter() - spoken_at, "end_voice_to_first_token_s": first,
            "prefill_behind_real_time_s": behind}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="checkpoint folder (default: a generated one)")
    parser.add_argument("--shape", default="tiny", help="shape of the generated checkpoint")
    parser.add_argument("--seconds", type=float, nargs="+", default=[3.0, 30.0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--silence", type=float, default=0.7, help="hands-free turn-end silence")
    parser.add_argument("--pause", type=float, default=0.3, help="hands-free pause after which audio is held")
    parser.add_argument("--slack", type=int, default=32, help="rows every cache can always take back")
    args = parser.parse_args(argv)

    from engine import protocol as ev
    from engine.checkpoint import make_checkpoint
    from engine.loading import load_everything

    # One answer token: the turn finishes with it, so the first output event marks it whatever the parser holds.
    settings = ev.GenerationSettings(temperature=0.0, max_tokens=1, use_drafter=False, seed=0)
    with tempfile.TemporaryDirectory() as work:
        model = args.model
        if model is None:
            model = str(Path(work) / args.shape)
            make_checkpoint(Path(model), shape=args.shape, seed=0)
        loaded = load_everything(model)
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
        for name, ahead, pause in (("close_ahead_on_held_after_pause", True, args.pause),
                                   ("close_ahead_on_all_streamed", True, None),
                                   ("close_ahead_off_all_streamed", False, None)):
            run = hands_free(loaded, settings, short, args.silence, ahead, args.slack, pause)
            run["over_silence_in_decode_steps"] = (run["end_to_first_token_s"] - args.silence) / step
            result["hands_free"][name] = run
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
