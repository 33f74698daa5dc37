"""Benchmark: does Tandem's own voice barge in on itself? Does a person's voice still? Prints JSON.

    python -m app.audio.bench.barge_in [--answers 20]

Through the virtual microphone (a PulseAudio null sink whose monitor is the input, started here
when no audio server answers): Tandem's `Speaker` says `--answers` spoken answers (espeak-ng,
played by its own `SoundPlayer` into the sink at the level espeak-ng renders, as through
speakers), while a `Recorder` listens, every 40 ms, as the window does. Then the same number of
answers again, with a person talking over each one 1.5 s in (another espeak-ng voice played into
the same sink with paplay, at the same level).

Every 40 ms tick's microphone samples and played samples are kept, then replayed through three
pipelines, each with the Silero detector and a 0.7 s turn-end silence:
- "aec": the app's path: `EchoCanceller` on the microphone, then the turn logic;
- "gate": no echo canceller, `BargeInGate` strict while the voice plays (the fallback);
- "raw": neither (what happens without this work).
A false barge-in is a turn detected during an answer nobody talked over; a barge-in is caught
when a turn is detected after the person began and before they stopped (+0.5 s); its latency is
counted from the paplay start (paplay and the sink add about 0.1-0.25 s before the voice arrives).
By design the "gate" pipeline lets through only a voice clearly louder than Tandem's; the person
here is as loud as Tandem, so it is expected to catch none.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.audio.bench import scenes
from app.audio.bench.virtual_mic import ensure_virtual_mic, play_into_sink

TICK_S = 0.04  # the window drains the microphone every 40 ms
SILENCE_S = 0.7
PERSON_AFTER_S = 1.5  # the person starts talking this long into the answer
ANSWERS = (
    "Sure. The train to the city leaves at nine fifteen from platform two. It takes forty minutes.",
    "Here is a short poem about the sea. The waves roll in, the gulls cry out, and the wind is cold.",
    "The difference is simple. A list can change after you make it, and a tuple cannot change.",
    "Tomorrow will be sunny in the morning. Clouds come in the afternoon, with light rain at night.",
    "I found three files in the folder. The largest one is the report, and it has twelve pages.",
)
PERSON = ("Wait, stop, I have another question for you.", "No no, that is not what I meant.")


@dataclass
class Recording:
    """One answer's ticks: microphone and played samples, and when the person started (sample)."""

    mic: list[np.ndarray] = field(default_factory=list)
    played: list[np.ndarray] = field(default_factory=list)
    person_at: int | None = None
    person_until: int | None = None


def record_answer(speaker: Any, recorder: Any, text: str, person: Path | None,
                  person_s: float) -> Recording:
    rec = Recording()
    speaker.take_played()
    recorder.drain()
    began, heard, started_person = time.monotonic(), 0, None
    speaker.speak(text)
    while speaker.speaking or time.monotonic() - began < 1.0:
        time.sleep(TICK_S)
        mic = recorder.drain()
        rec.mic.append(mic)
        rec.played.append(speaker.take_played())
        heard += mic.size
        if person is not None and started_person is None and (
            time.monotonic() - began >= PERSON_AFTER_S
        ):
            started_person = play_into_sink(person)
            rec.person_at = heard
            rec.person_until = heard + round(person_s * scenes.RATE)
        if time.monotonic() - began > 30:
            break
    if started_person is not None:
        started_person.wait(timeout=10)
    for _ in range(round(0.8 / TICK_S)):  # the tail, so a turn the echo started can end
        time.sleep(TICK_S)
        rec.mic.append(recorder.drain())
        rec.played.append(speaker.take_played())
    return rec


def replay(recs: list[Recording], pipeline: str) -> list[list[int]]:
    """When turns were detected in each answer (microphone samples, at the end of the tick that
    found them) through `pipeline`.

    The answers go through one pipeline in order, as one recording does in the app (the echo
    canceller keeps what it learnt from one answer to the next).
    """
    from app.audio.barge_in import BargeInGate
    from app.audio.echo import EchoCanceller
    from app.audio.silero_scorer import SileroScorer
    from app.audio.turns import TurnSegmenter, TurnStarted
    from app.audio.vad import VoiceActivityDetector

    gate = BargeInGate(TurnSegmenter(VoiceActivityDetector(SILENCE_S, scorer=SileroScorer())))
    echo = EchoCanceller() if pipeline == "aec" else None
    out = []
    for rec in recs:
        loud = [i for i, played in enumerate(rec.played) if played.size and np.any(played)]
        tail = round(0.5 / TICK_S)  # Speaker.speaking lasts until the device has played it all
        starts, heard = [], 0
        for i, (mic, played) in enumerate(zip(rec.mic, rec.played)):
            heard += mic.size
            if echo is not None:
                mic = echo.process(mic, played)
            gate.strict = pipeline == "gate" and bool(loud) and loud[0] <= i <= loud[-1] + tail
            gate.note_played(played)
            starts += [heard for e in gate.feed(mic) if isinstance(e, TurnStarted)]
        out.append(starts)
    return out


def bench(answers: int, save: Path | None = None) -> dict[str, Any]:
    import soundfile

    from app.audio.capture import Recorder
    from app.audio.tts import Speaker

    folder = Path(tempfile.mkdtemp(prefix="tandem-barge-in-"))
    people = []
    for i, text in enumerate(PERSON):
        voice = scenes.espeak(text, voice="en-gb", speed=170)
        path = folder / f"person{i}.wav"
        soundfile.write(path, voice, scenes.RATE, subtype="PCM_16")
        people.append((path, voice.size / scenes.RATE))
    speaker = Speaker(enabled=True)
    recorder = Recorder()
    recorder.start()
    time.sleep(0.5)
    quiet = [record_answer(speaker, recorder, ANSWERS[i % len(ANSWERS)], None, 0)
             for i in range(answers)]
    talked = [record_answer(speaker, recorder, ANSWERS[i % len(ANSWERS)], *people[i % 2])
              for i in range(answers)]
    recorder.stop()
    speaker.close()
    if save is not None:  # the recordings, to study a pipeline offline (--replay)
        np.savez_compressed(save, **_arrays(quiet, "quiet"), **_arrays(talked, "talked"))
    return judge(quiet, talked)


def _arrays(recs: list[Recording], name: str) -> dict[str, np.ndarray]:
    out = {}
    for i, rec in enumerate(recs):
        out[f"{name}{i}_mic"] = np.concatenate(rec.mic)
        out[f"{name}{i}_mic_sizes"] = np.array([m.size for m in rec.mic])
        out[f"{name}{i}_played"] = np.concatenate(rec.played)
        out[f"{name}{i}_played_sizes"] = np.array([p.size for p in rec.played])
        out[f"{name}{i}_person"] = np.array([rec.person_at or -1, rec.person_until or -1])
    return out


def load(path: Path) -> tuple[list[Recording], list[Recording]]:
    """Recordings kept by `--save`."""
    data = np.load(path)
    sets: dict[str, list[Recording]] = {"quiet": [], "talked": []}
    for name, recs in sets.items():
        i = 0
        while f"{name}{i}_mic" in data:
            cut = np.cumsum(data[f"{name}{i}_mic_sizes"])[:-1]
            played_cut = np.cumsum(data[f"{name}{i}_played_sizes"])[:-1]
            at, until = (int(v) for v in data[f"{name}{i}_person"])
            recs.append(Recording(
                list(np.split(data[f"{name}{i}_mic"], cut)),
                list(np.split(data[f"{name}{i}_played"], played_cut)),
                None if at < 0 else at, None if until < 0 else until,
            ))
            i += 1
    return sets["quiet"], sets["talked"]


def judge(quiet: list[Recording], talked: list[Recording]) -> dict[str, Any]:
    answers = len(quiet)
    results = {}
    for pipeline in ("aec", "gate", "raw"):
        false = sum(bool(starts) for starts in replay(quiet, pipeline))
        caught, early, latencies = 0, 0, []
        for rec, starts in zip(talked, replay(talked, pipeline)):
            assert rec.person_at is not None and rec.person_until is not None
            early += any(s < rec.person_at for s in starts)  # the echo, before the person
            hits = [s for s in starts if s >= rec.person_at]
            if hits and hits[0] <= rec.person_until + 0.5 * scenes.RATE:
                caught += 1
                latencies.append(1000 * (hits[0] - rec.person_at) / scenes.RATE)
        results[pipeline] = {
            "false_barge_ins": f"{false}/{answers}",
            "false_barge_ins_before_the_person": f"{early}/{answers}",
            "barge_ins_caught": f"{caught}/{answers}",
            "detected_after_paplay_start_ms_median": round(statistics.median(latencies))
            if latencies else None,
        }
    played_peak = max(float(np.max(np.abs(np.concatenate(r.played)))) for r in quiet)
    return {
        "benchmark": "barge_in",
        "answers": answers,
        "played_peak": round(played_peak, 3),
        "turn_end_silence_s": SILENCE_S,
        "machine": platform.platform(),
        "pipelines": results,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=20)
    parser.add_argument("--save", type=Path, default=None, help="keep the recordings (.npz)")
    parser.add_argument("--replay", type=Path, default=None,
                        help="judge recordings kept by --save instead of recording")
    args = parser.parse_args(argv)
    if args.replay is not None:
        print(json.dumps(judge(*load(args.replay)), indent=2))
        return
    stop = ensure_virtual_mic()
    try:
        print(json.dumps(bench(args.answers, args.save), indent=2))
    finally:
        stop()


if __name__ == "__main__":
    main()
