"""Voice-activity detection for hands-free turns and barge-in: a scorer per frame, one turn logic.

A `SpeechScorer` judges fixed-size frames of 16 kHz audio and gives each a score; the detector turns
the scores into turns. A frame is voiced when its score reaches the scorer's `onset`; inside a
turn the bar drops to its `hold` (hysteresis), so soft word endings keep the turn open. Speech
starts after `min_speech_s` of voiced frames in a row; it ends after `silence_s` of unvoiced frames.

Two scorers exist: `SileroScorer` (app.audio.silero_scorer: a small learned model, the default when
it loads) and `EnergyScorer` (app.audio.energy_scorer: energy over an adaptive noise floor, the
fallback). `default_scorer()` picks; `python -m app.audio.bench.vad_compare` compares them on made-up audio.

`feed(samples)` takes 16 kHz mono float32 chunks of any length and returns the events they
complete, in order. Sample positions count every sample ever fed, from 0:
- `SpeechStarted.start` is where the turn begins: `pre_roll_s` before the first voiced frame (never
  before the end of the previous turn, nor before the first sample kept). `audio` holds the turn's
  samples from `start` to the end of the chunk just fed (or to the turn's end if it ended in the
  same chunk), so the caller can hand the whole opening, pre-roll included, to the model at once.
- Every later sample belongs to the turn until `SpeechEnded.end`, which is where `silence_s` of
  silence was complete (trailing silence included; `speech_end` is where the voice stopped).

Used for barge-in as well: while the model answers, a `SpeechStarted` means the person talks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from engine.inputs.audio import SAMPLE_RATE  # the recorder delivers the model's 16 kHz mono

SILENCE_S = 0.8  # the usual end-of-turn wait for a silence detector (PEERS.md §8: 500-800 ms)
PRE_ROLL_S = 0.3  # a first syllable's attack comes before the score crosses the threshold
MIN_SPEECH_S = 0.06  # a click or a knock is shorter than a syllable


class SpeechScorer(Protocol):
    """Scores fixed-size frames of 16 kHz mono float32: the higher, the more like speech.

    `frame` is the number of samples per call; a frame is voiced at `onset` or above, and inside a
    turn at `hold` or above (`hold <= onset`). `lag_s` is how long the score stays up after a voice
    stops (a recurrent model's memory): the turn logic counts it as silence already heard.
    `name` says which detector this is, for people.
    """

    name: str
    frame: int
    onset: float
    hold: float
    lag_s: float

    def score(self, frame: np.ndarray) -> float: ...


@dataclass(frozen=True)
class SpeechStarted:
    """A turn began at sample `start`; `audio` is the turn so far (pre-roll included)."""

    start: int
    audio: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class SpeechEnded:
    """A turn ended at sample `end` (after the silence); the voice itself stopped at `speech_end`."""

    end: int
    speech_end: int


VadEvent = SpeechStarted | SpeechEnded


def default_scorer() -> SpeechScorer:
    """The learned detector (Silero) when its runtime and model load, else the energy detector."""
    from app.audio.energy_scorer import EnergyScorer
    from app.audio.silero_scorer import SileroScorer, SileroUnavailable

    try:
        return SileroScorer()
    except SileroUnavailable:
        return EnergyScorer()


def detector_note() -> str:
    """One sentence for the settings: which speech detector hands-free mode uses here."""
    from app.audio.silero_scorer import SileroScorer, SileroUnavailable

    try:
        SileroScorer()
    except SileroUnavailable as exc:
        return f"Speech is found by its loudness only: {exc}."
    return "Speech is found by a small voice model (Silero VAD), so noise and short pauses do not end a turn."


class VoiceActivityDetector:
    """Finds where a person starts and stops talking in a 16 kHz mono stream.

    Args:
        silence_s: silence that ends a turn.
        pre_roll_s: audio kept before the detected start and included in the turn.
        min_speech_s: voiced time needed before a turn starts.
        scorer: judges each frame; an `EnergyScorer()` when None.
    """

    def __init__(
        self,
        silence_s: float = SILENCE_S,
        pre_roll_s: float = PRE_ROLL_S,
        min_speech_s: float = MIN_SPEECH_S,
        scorer: SpeechScorer | None = None,
    ) -> None:
        if silence_s <= 0:
            raise ValueError(f"silence_s must be positive, not {silence_s!r}")
        if pre_roll_s < 0 or min_speech_s < 0:
            raise ValueError("pre_roll_s and min_speech_s cannot be negative")
        if scorer is None:
            from app.audio.energy_scorer import EnergyScorer

            scorer = EnergyScorer()
        if scorer.hold > scorer.onset:
            raise ValueError(f"hold ({scorer.hold}) must not exceed onset ({scorer.onset})")
        self.scorer = scorer
        self.frame = scorer.frame
        heard = max(silence_s / 2, silence_s - scorer.lag_s)  # the score's own lag is silence too
        self.silence_frames = max(1, math.ceil(heard * SAMPLE_RATE / self.frame))
        self.pre_roll = round(pre_roll_s * SAMPLE_RATE)
        self.min_speech_frames = max(1, math.ceil(min_speech_s * SAMPLE_RATE / self.frame))
        self.in_speech = False
        self._fed = 0  # samples fed so far
        self._done = 0  # samples already judged (whole frames)
        self._keep = np.zeros(0, np.float32)  # samples from _keep_start to _fed
        self._keep_start = 0
        self._run = 0  # voiced frames in a row (before a turn) / unvoiced in a row (inside one)
        self._run_start = 0  # sample where the current run began
        self._turn_floor = 0  # a new turn cannot reach back before this sample

    def feed(self, samples: np.ndarray) -> list[VadEvent]:
        """Judge `samples` (16 kHz mono float32, any length) and return the events they complete."""
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(
                f"feed() takes mono samples (one dimension), not shape {samples.shape}"
            )
        self._keep = np.concatenate([self._keep, samples])
        self._fed += samples.size
        events: list[VadEvent] = []
        started: int | None = None
        frame_size = self.frame
        while self._fed - self._done >= frame_size:
            at = self._done - self._keep_start
            event = self._judge(self._keep[at : at + frame_size], self._done)
            self._done += frame_size
            if isinstance(event, SpeechStarted):
                started = len(events)
            elif isinstance(event, SpeechEnded) and started is not None:
                events[started] = self._with_audio(events[started], event.end)
                started = None
            if event is not None:
                events.append(event)
        if started is not None:
            events[started] = self._with_audio(events[started], self._fed)
        self._trim()
        return events

    @property
    def samples_fed(self) -> int:
        return self._fed

    @property
    def silence_samples(self) -> int:
        """Inside a turn: how many samples, up to the last judged one, were unvoiced in a row (else 0)."""
        return self._run * self.frame if self.in_speech else 0

    def _judge(self, frame: np.ndarray, at: int) -> VadEvent | None:
        score = self.scorer.score(frame)
        voiced = score >= (self.scorer.hold if self.in_speech else self.scorer.onset)
        if not self.in_speech:
            if not voiced:
                self._run = 0
                return None
            if self._run == 0:
                self._run_start = at
            self._run += 1
            if self._run < self.min_speech_frames:
                return None
            self.in_speech, self._run = True, 0
            start = max(self._run_start - self.pre_roll, self._turn_floor, self._keep_start)
            return SpeechStarted(start=start, audio=np.zeros(0, np.float32))
        if voiced:
            self._run = 0
            return None
        if self._run == 0:
            self._run_start = at
        self._run += 1
        if self._run < self.silence_frames:
            return None
        self.in_speech, self._run = False, 0
        end = at + self.frame
        self._turn_floor = end
        return SpeechEnded(end=end, speech_end=self._run_start)

    def _with_audio(self, event: VadEvent, until: int) -> SpeechStarted:
        assert isinstance(event, SpeechStarted)
        first = event.start - self._keep_start
        return SpeechStarted(
            start=event.start, audio=self._keep[first : until - self._keep_start].copy()
        )

    def _trim(self) -> None:
        # Keep the unjudged tail plus enough history for a pre-roll before a run not yet confirmed.
        oldest = self._done - self.pre_roll - self.min_speech_frames * self.frame
        if self._run and not self.in_speech:
            oldest = min(oldest, self._run_start - self.pre_roll)
        oldest = max(oldest, self._keep_start)
        if oldest > self._keep_start:
            self._keep = self._keep[oldest - self._keep_start :]
            self._keep_start = oldest
