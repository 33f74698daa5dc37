"""Benchmark: hands-free, from the end of the person's speech to the first spoken audio of the answer.

    python -m app.audio.bench.speech_to_speech [--model DIR | --shape tiny] [--seconds 3] [--silence 0.7]
                                               [--pause 0.3] [--sentence-tokens 12] [--repeats 3]

The engine's side is `engine.bench.voice_close.stream_turn` (test audio streamed into a real session's voice
turn in real time, the audio after a `--pause` of silence held back, the turn ended when the silence reaches
`--silence`), once with the answer begun at the pause (`prepare_answer`, the app's PrepareVoiceAnswer) and
once without. The answer (`--sentence-tokens` tokens, a first sentence) goes to the app's `Speaker` as it
streams, as the window does; the Speaker plays into the virtual microphone's sink (started here when no
audio server answers), and the first spoken sample is found on the microphone, counted in samples, so the
voice's rendering and the device's latency are in it. Prints JSON with each run and the medians.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from typing import Any

from app.audio import SAMPLE_RATE
from app.audio.bench.virtual_mic import ensure_virtual_mic, first_loud_sample


def one_turn(loaded, speaker: Any, recorder: Any, settings, args, begin: bool) -> dict:
    """Seconds from the end of speech to the first spoken sample, and what the engine did before it."""
    from engine.bench.voice_close import new_session, stream_turn

    session = new_session(loaded, True, args.slack)
    list(session.start_voice(settings))
    spoken_at, _ = stream_turn(session, settings, args.seconds, args.silence, args.pause, begin)
    ahead = len(session.prepared_close.answer) if session.prepared_close is not None else 0
    recorder.drain()
    ended, heard_before = time.perf_counter(), recorder.samples_delivered
    for event in session.end_voice("", settings):
        name = type(event).__name__
        if name == "TextDelta" and event.channel == "answer":
            speaker.add_text(event.text)
        elif name == "TurnFinished":
            speaker.finish()
    first, deadline = None, time.monotonic() + 30
    while first is None and time.monotonic() < deadline:
        first = first_loud_sample(recorder, heard_before)
        time.sleep(0.005)
    speaker.stop()
    time.sleep(0.3)
    if first is None:
        raise SystemExit("no spoken audio reached the microphone within 30 s")
    return {"end_of_speech_to_first_audio_s": round(ended - spoken_at + first / SAMPLE_RATE, 3),
            "answer_tokens_decoded_during_the_pause": ahead}


def bench(args) -> dict[str, Any]:
    from app.audio.capture import Recorder
    from app.audio.tts import Speaker
    from engine import protocol as ev
    from engine.bench.voice_close import load_bench_model

    settings = ev.GenerationSettings(temperature=0.0, max_tokens=args.sentence_tokens, use_drafter=False)
    with tempfile.TemporaryDirectory() as work:
        loaded = load_bench_model(args.model, args.shape, work)
        speaker, recorder = Speaker(enabled=True), Recorder()
        recorder.start()
        time.sleep(0.5)
        runs: dict[str, list[dict]] = {"answer_begun_at_the_pause": [], "answer_begun_at_the_end": []}
        try:
            for _ in range(args.repeats):
                for name, begin in (("answer_begun_at_the_pause", True), ("answer_begun_at_the_end", False)):
                    runs[name].append(one_turn(loaded, speaker, recorder, settings, args, begin))
        finally:
            recorder.stop()
            speaker.close()
    return {
        "benchmark": "speech_to_speech (hands-free: end of speech to first spoken audio)",
        "model": args.model or f"generated {args.shape} (random weights)",
        "reduced": args.model is None,
        "speech_s": args.seconds, "turn_end_silence_s": args.silence, "pause_s": args.pause,
        "answer_tokens": args.sentence_tokens,
        "runs": runs,
        "median_s": {name: statistics.median(r["end_of_speech_to_first_audio_s"] for r in rs)
                     for name, rs in runs.items()},
        "machine": platform.platform(),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="checkpoint folder (default: a generated one)")
    parser.add_argument("--shape", default="tiny")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--silence", type=float, default=0.7)
    parser.add_argument("--pause", type=float, default=0.3)
    parser.add_argument("--sentence-tokens", type=int, default=12)
    parser.add_argument("--slack", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    stop = ensure_virtual_mic()
    try:
        print(json.dumps(bench(args), indent=2))
    finally:
        stop()


if __name__ == "__main__":
    main()
