"""Barge-in without echo cancellation: while Tandem speaks, only a louder, longer voice interrupts.

With speakers and no echo canceller, the microphone hears Tandem's own voice, and the detector
takes it for a person. `BargeInGate` wraps the `TurnSegmenter`: while `strict` is on (the voice
plays and no echo canceller runs), a turn that starts is held back until it has lasted
`LONG_ONSET_S`; it then goes through only if most (`LOUD_SHARE`) of its 20 ms frames over that
time are at least `LOUDER_DB` above the microphone's usual loud level while Tandem's voice is heard (the 75th percentile of the
20 ms levels over the last `BACKGROUND_S` of strict time within `ECHO_TAIL_S` of a played sample,
`note_played()`, once there is a second of them: the level of its echo). The echo alone is never that much louder
than itself, so it never passes; a person has to speak clearly louder than Tandem's voice. While the
echo holds a turn open, the person's voice on top of it is judged the same way, over the turn's
latest `LONG_ONSET_S`: when it passes, the turn starts `PRE_ROLL_S` before that window. A held
turn that is never loud enough, or ends sooner, is dropped whole. When `strict` is off, events pass
unchanged and the echo level is forgotten. No Qt here.
"""

from __future__ import annotations

import collections
import math

import numpy as np

from app.audio.turns import TurnAudio, TurnEnded, TurnEvent, TurnSegmenter, TurnStarted
from engine.inputs.audio import SAMPLE_RATE  # the model's 16 kHz mono

LONG_ONSET_S = 0.5  # a person interrupting says more than one syllable
PRE_ROLL_S = 0.3  # kept before the loud part, as the detector's own pre-roll
LOUDER_DB = 6.0  # and says it clearly louder than the echo of Tandem's voice
LOUD_SHARE = 0.6  # in this share of the onset's 20 ms frames (speech has gaps)
BACKGROUND_S = 2.0  # the microphone's level over this much strict time: the echo's level
LEVEL_FRAME = 320  # 20 ms frames for the echo's level
ECHO_PERCENTILE = 75
MIN_ECHO_FRAMES = 50  # 1 s of the echo's level before a verdict: a first word and a gap mislead
AUDIBLE = 1e-3  # a played sample above this (-60 dBFS) can be heard
ECHO_TAIL_S = 0.5  # the microphone hears a played sample this long after it was played, at most


def _db(samples: np.ndarray) -> float:
    energy = float(np.mean(np.square(samples, dtype=np.float64))) if samples.size else 0.0
    return 10 * math.log10(max(energy, 1e-12))


class BargeInGate:
    """Holds back turns that start while Tandem speaks until they are long and loud enough."""

    def __init__(self, segmenter: TurnSegmenter) -> None:
        self.segmenter = segmenter
        self.strict = False
        self._history: collections.deque[float] = collections.deque(
            maxlen=round(BACKGROUND_S * SAMPLE_RATE / LEVEL_FRAME)
        )
        self._partial = np.zeros(0, np.float32)
        # a turn not yet let through: its latest audio and the stream position of its first sample
        self._pending: list[np.ndarray] | None = None
        self._pending_at = 0
        self._fed = 0
        self._last_played_at = -1  # microphone sample count when a played sample was last loud

    @property
    def in_turn(self) -> bool:
        return self.segmenter.in_turn

    @property
    def silence_samples(self) -> int:
        """Inside a turn let through, the silence heard since the voice last stopped (else 0)."""
        return 0 if self._pending is not None else self.segmenter.silence_samples

    def note_played(self, played: np.ndarray) -> None:
        """What went to the speakers since the last call (before the next `feed`)."""
        if played.size and float(np.max(np.abs(played))) > AUDIBLE:
            self._last_played_at = self._fed

    def feed(self, samples: np.ndarray) -> list[TurnEvent]:
        """Judge one chunk; the events the controller should act on."""
        self._remember_levels(samples)
        out: list[TurnEvent] = []
        for event in self.segmenter.feed(samples):
            if isinstance(event, TurnStarted) and self.strict:
                self._pending, self._pending_at = [], event.start
            elif isinstance(event, TurnAudio) and self._pending is not None:
                out += self._judge(event.samples)
            elif isinstance(event, TurnEnded) and self._pending is not None:
                self._pending = None  # too short or too soft all along: Tandem's own echo
            else:
                out.append(event)
        return out

    def _judge(self, samples: np.ndarray) -> list[TurnEvent]:
        """Let the turn through once its last `LONG_ONSET_S` is clearly louder than the echo."""
        assert self._pending is not None
        audio = np.concatenate([*self._pending, samples])
        keep = round((LONG_ONSET_S + PRE_ROLL_S) * SAMPLE_RATE)
        if audio.size > keep:  # an echo turn can last long: keep only what a person's start needs
            self._pending_at += audio.size - keep
            audio = audio[-keep:]
        self._pending = [audio]
        onset = round(LONG_ONSET_S * SAMPLE_RATE) // LEVEL_FRAME * LEVEL_FRAME
        if audio.size < onset or len(self._history) < MIN_ECHO_FRAMES:
            return []  # too short yet, or the echo's level is not known yet
        frames = audio[-onset:].reshape(-1, LEVEL_FRAME).astype(np.float64)
        levels = 10 * np.log10(np.maximum(np.mean(frames**2, axis=1), 1e-12))
        if np.mean(levels >= self._echo_db() + LOUDER_DB) < LOUD_SHARE:
            return []
        self._pending = None
        return [TurnStarted(self._pending_at), TurnAudio(audio)]

    def _echo_db(self) -> float:
        # the echo's usual loud level: its pauses (between words, sentences) must not lower it
        return float(np.percentile(self._history, ECHO_PERCENTILE)) if self._history else -120.0

    def _remember_levels(self, samples: np.ndarray) -> None:
        self._fed += samples.size
        if not self.strict and self._pending is None:
            self._history.clear()  # a turn held while Tandem spoke is still judged by its echo
        heard = self._last_played_at >= 0 and self._fed - self._last_played_at <= (
            ECHO_TAIL_S * SAMPLE_RATE + samples.size
        )
        if not (self.strict and heard):
            self._partial = np.zeros(0, np.float32)
            return
        data = np.concatenate([self._partial, np.asarray(samples, np.float32)])
        whole = data.size // LEVEL_FRAME * LEVEL_FRAME
        for frame in data[:whole].reshape(-1, LEVEL_FRAME):
            self._history.append(_db(frame))
        self._partial = data[whole:]
