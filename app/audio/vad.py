"""Voice-activity detection for hands-free turns and barge-in: energy against an adaptive noise floor.

This is an energy detector, not a learned model. Each 20 ms frame's energy (dBFS) is compared with
an adaptive noise floor: the quietest frame of the last 2 s ("minimum statistics"). Pauses between
words keep the floor down while someone talks; a room that gets louder for good (a fan) raises it
within 2 s, so such noise never holds a turn open. A frame is voiced when it is `onset_db` above
the floor (and above
`min_speech_dbfs`, so near-digital silence never counts); inside a turn the bar drops to
`hold_db` (hysteresis), so soft word endings keep the turn open. Speech starts after
`min_speech_s` of voiced frames in a row; it ends after `silence_s` of unvoiced frames.

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
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from engine.inputs.audio import SAMPLE_RATE  # the recorder delivers the model's 16 kHz mono

FRAME = 320  # 20 ms at 16 kHz: the detector's time step
SILENCE_S = 0.8  # the usual end-of-turn wait for a silence detector (PEERS.md §8: 500-800 ms)
PRE_ROLL_S = 0.3  # a first syllable's attack comes before the energy crosses the threshold
MIN_SPEECH_S = 0.06  # 3 frames: a click or a knock is shorter than a syllable
ONSET_DB = 12.0  # a voiced frame is this far above the noise floor
HOLD_DB = 6.0  # inside a turn, soft speech only needs to clear this
MIN_SPEECH_DBFS = -55.0  # quieter than this is never speech, whatever the floor
FLOOR_WINDOW = 100  # 2 s of 20 ms frames: longer than any pause-free stretch of speech
ENERGY_FLOOR = 1e-12  # keeps log10 finite for exact zeros (-120 dBFS)


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


class VoiceActivityDetector:
    """Finds where a person starts and stops talking in a 16 kHz mono stream.

    Args:
        silence_s: silence that ends a turn.
        pre_roll_s: audio kept before the detected start and included in the turn.
        min_speech_s: voiced time needed before a turn starts.
        onset_db: how far above the noise floor a frame must be to start speech.
        hold_db: how far above the noise floor a frame must be to continue speech.
        min_speech_dbfs: absolute level below which a frame is never voiced.
    """

    def __init__(
        self,
        silence_s: float = SILENCE_S,
        pre_roll_s: float = PRE_ROLL_S,
        min_speech_s: float = MIN_SPEECH_S,
        onset_db: float = ONSET_DB,
        hold_db: float = HOLD_DB,
        min_speech_dbfs: float = MIN_SPEECH_DBFS,
    ) -> None:
        if silence_s <= 0:
            raise ValueError(f"silence_s must be positive, not {silence_s!r}")
        if pre_roll_s < 0 or min_speech_s < 0:
            raise ValueError("pre_roll_s and min_speech_s cannot be negative")
        if hold_db > onset_db:
            raise ValueError(f"hold_db ({hold_db}) must not exceed onset_db ({onset_db})")
        self.silence_frames = max(1, math.ceil(silence_s * SAMPLE_RATE / FRAME))
        self.pre_roll = round(pre_roll_s * SAMPLE_RATE)
        self.min_speech_frames = max(1, math.ceil(min_speech_s * SAMPLE_RATE / FRAME))
        self.onset_db = onset_db
        self.hold_db = hold_db
        self.min_speech_dbfs = min_speech_dbfs
        self._recent_db: deque[float] = deque(maxlen=FLOOR_WINDOW)
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
        while self._fed - self._done >= FRAME:
            frame = self._keep[
                self._done - self._keep_start : self._done - self._keep_start + FRAME
            ]
            event = self._judge(frame, self._done)
            self._done += FRAME
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

    def _judge(self, frame: np.ndarray, at: int) -> VadEvent | None:
        energy = float(np.mean(np.square(frame, dtype=np.float64)))
        db = 10.0 * math.log10(max(energy, ENERGY_FLOOR))
        margin = self.hold_db if self.in_speech else self.onset_db
        floor = self.noise_floor_dbfs
        voiced = floor is not None and db >= self.min_speech_dbfs and db >= floor + margin
        self._recent_db.append(db)
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
        end = at + FRAME
        self._turn_floor = end
        return SpeechEnded(end=end, speech_end=self._run_start)

    @property
    def noise_floor_dbfs(self) -> float | None:
        """The quietest frame energy of the last 2 s; None before the first frame."""
        return min(self._recent_db) if self._recent_db else None

    def _with_audio(self, event: VadEvent, until: int) -> SpeechStarted:
        assert isinstance(event, SpeechStarted)
        first = event.start - self._keep_start
        return SpeechStarted(
            start=event.start, audio=self._keep[first : until - self._keep_start].copy()
        )

    def _trim(self) -> None:
        # Keep the unjudged tail plus enough history for a pre-roll before a run not yet confirmed.
        oldest = self._done - self.pre_roll - self.min_speech_frames * FRAME
        if self._run and not self.in_speech:
            oldest = min(oldest, self._run_start - self.pre_roll)
        oldest = max(oldest, self._keep_start)
        if oldest > self._keep_start:
            self._keep = self._keep[oldest - self._keep_start :]
            self._keep_start = oldest
