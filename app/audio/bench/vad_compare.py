"""Benchmark: which voice-activity detector ends turns right? Prints JSON.

    python -m app.audio.bench.vad_compare [--utterances 20] [--silence 0.7]

Each detector scores frames; the same turn logic (app.audio.vad.VoiceActivityDetector, the one the
app uses) turns the scores into turns, fed in 40 ms chunks as the app drains the microphone.
Detectors: "silero" (the app's learned scorer), "energy" (the app's fallback), and for comparison
"ten-vad" and "webrtcvad" (webrtcvad-wheels, aggressiveness 3) when those packages are installed.

Scenes (app.audio.bench.scenes): each of `--utterances` espeak-ng sentences with a 400 ms pause in
the middle, over quiet hiss, a fan and a keyboard at 20 dB SNR; and 20 s of fan, keyboard and
digital silence with nobody talking. An utterance is right when the detector opens exactly one
turn, that turn starts before the first word (pre-roll included) and ends after the last one
(so the pause did not end it), and the end comes within `--silence` + 0.3 s of the last word.
Reported per detector: utterances right per noise, pauses that ended the turn, missed or late
ends, turns opened by noise alone, and the time to score 30 ms of audio (median over all calls).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from app.audio.bench import scenes
from app.audio.energy_scorer import EnergyScorer
from app.audio.vad import SpeechEnded, SpeechStarted, SpeechScorer, VoiceActivityDetector

CHUNK = 640  # the app drains the microphone every 40 ms
LATE_S = 0.3  # an end this much later than silence_s after the last word counts as late


class TenVadScorer:
    """ten-vad (Agora, native library through ctypes): 16 ms hops of int16."""

    name, frame, onset, hold, lag_s = "ten-vad", 256, 0.5, 0.35, 0.0

    def __init__(self) -> None:
        from ten_vad import TenVad

        self._vad = TenVad(hop_size=self.frame, threshold=self.onset)

    def score(self, frame: np.ndarray) -> float:
        pcm = np.ascontiguousarray(np.clip(frame * 32767, -32768, 32767).astype(np.int16))
        return float(self._vad.process(pcm)[0])


class WebRtcVadScorer:
    """webrtcvad (WebRTC's GMM detector): 30 ms frames, a yes/no answer."""

    name, frame, onset, hold, lag_s = "webrtcvad", 480, 0.5, 0.5, 0.0

    def __init__(self, aggressiveness: int = 3) -> None:
        import webrtcvad

        self._vad = webrtcvad.Vad(aggressiveness)

    def score(self, frame: np.ndarray) -> float:
        pcm = np.clip(frame * 32767, -32768, 32767).astype(np.int16).tobytes()
        return 1.0 if self._vad.is_speech(pcm, scenes.RATE) else 0.0


def _silero() -> SpeechScorer:
    from app.audio.silero_scorer import SileroScorer

    return SileroScorer()


DETECTORS: dict[str, Callable[[], SpeechScorer]] = {
    "silero": _silero,
    "energy": EnergyScorer,
    "ten-vad": TenVadScorer,
    "webrtcvad": WebRtcVadScorer,
}


class _Timed:
    """Wraps a scorer and keeps the time of each call."""

    def __init__(self, scorer: SpeechScorer) -> None:
        self.inner = scorer
        self.name, self.frame = scorer.name, scorer.frame
        self.onset, self.hold, self.lag_s = scorer.onset, scorer.hold, scorer.lag_s
        self.times: list[float] = []

    def score(self, frame: np.ndarray) -> float:
        began = time.perf_counter()
        value = self.inner.score(frame)
        self.times.append(time.perf_counter() - began)
        return value


def run_scene(make: Callable[[], SpeechScorer], scene: scenes.Scene, silence_s: float,
              times: list[float]) -> list[tuple[str, int]]:
    """The turn events of one scene: ("start", first sample) and ("end", end sample)."""
    scorer = _Timed(make())
    vad = VoiceActivityDetector(silence_s=silence_s, scorer=scorer)
    events: list[tuple[str, int]] = []
    for at in range(0, scene.samples.size, CHUNK):
        for event in vad.feed(scene.samples[at : at + CHUNK]):
            if isinstance(event, SpeechStarted):
                events.append(("start", event.start))
            elif isinstance(event, SpeechEnded):
                events.append(("end", event.end))
    times.extend(scorer.times)
    return events


def judge(events: list[tuple[str, int]], truth: scenes.Truth, silence_s: float) -> str:
    """"right", or what went wrong: "missed", "pause_ended_turn", "extra_turn", "late_end", ..."""
    starts = [at for kind, at in events if kind == "start"]
    ends = [at for kind, at in events if kind == "end"]
    if not starts:
        return "missed"
    if any(truth.pause_start <= at <= truth.pause_end + silence_s * scenes.RATE for at in ends):
        return "pause_ended_turn"
    if len(starts) > 1:
        return "extra_turn"
    if starts[0] > truth.speech_start:
        return "late_start"
    if not ends:
        return "no_end"
    if ends[0] < truth.speech_end:
        return "early_end"
    if ends[0] > truth.speech_end + (silence_s + LATE_S) * scenes.RATE:
        return "late_end"
    return "right"


def bench(names: list[str], utterances: int, silence_s: float) -> dict[str, Any]:
    made = {kind: [scenes.utterance(i, kind) for i in range(utterances)] for kind in scenes.NOISES}
    level = scenes.speech_rms(made["quiet"][0].samples) / 10 ** (scenes.SNR_DB / 20)
    rooms = {
        kind: scenes.noise_only(kind, 20.0, rms_dbfs=20 * np.log10(level), seed=99)
        for kind in ("fan", "keyboard", "silence")
    }
    results: dict[str, Any] = {}
    for name in names:
        try:
            DETECTORS[name]()
        except Exception as exc:  # a comparison detector that is not installed is skipped
            results[name] = {"skipped": f"{type(exc).__name__}: {exc}"}
            continue
        times: list[float] = []
        row: dict[str, Any] = {"right": {}, "wrong": {}, "end_after_last_word_ms": []}
        for kind, scene_list in made.items():
            verdicts = []
            for scene in scene_list:
                events = run_scene(DETECTORS[name], scene, silence_s, times)
                verdicts.append(judge(events, scene.truth, silence_s))
                ends = [at for k, at in events if k == "end" and at >= scene.truth.speech_end]
                if verdicts[-1] == "right":
                    row["end_after_last_word_ms"].append(
                        1000 * (ends[0] - scene.truth.speech_end) / scenes.RATE
                    )
            row["right"][kind] = f"{verdicts.count('right')}/{len(verdicts)}"
            row["wrong"][kind] = {v: verdicts.count(v) for v in set(verdicts) if v != "right"}
        row["turns_opened_by_noise_alone"] = {
            kind: sum(k == "start" for k, _ in run_scene(DETECTORS[name], room, silence_s, times))
            for kind, room in rooms.items()
        }
        frame = DETECTORS[name]().frame
        per_call = statistics.median(times)
        row["frame_ms"] = 1000 * frame / scenes.RATE
        row["us_per_30ms_audio"] = round(1e6 * per_call * (0.03 * scenes.RATE) / frame, 1)
        ends_ms = row.pop("end_after_last_word_ms")
        row["end_after_last_word_ms_median"] = round(statistics.median(ends_ms)) if ends_ms else None
        results[name] = row
    return {
        "benchmark": "vad_compare",
        "silence_s": silence_s,
        "pause_s": scenes.PAUSE_S,
        "snr_db": scenes.SNR_DB,
        "utterances_per_noise": utterances,
        "machine": platform.platform(),
        "detectors": results,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--utterances", type=int, default=20)
    parser.add_argument("--silence", type=float, default=0.7)
    parser.add_argument("--detectors", nargs="+", default=list(DETECTORS))
    args = parser.parse_args(argv)
    print(json.dumps(bench(args.detectors, args.utterances, args.silence), indent=2))


if __name__ == "__main__":
    main()
