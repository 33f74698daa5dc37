"""Hands-free turns: a live 16 kHz stream cut by the VAD into "turn started / its audio / turn ended".

`TurnSegmenter.feed(samples)` takes whatever `Recorder.drain()` returned and gives back, in order,
what the engine thread does with it:
- `TurnStarted`: open a voice turn (or, while the model answers, stop the answer: barge-in);
- `TurnAudio`: samples that belong to the open turn, pre-roll first; stream them into the prefill;
- `TurnEnded`: the silence after the speech is complete; close the turn and answer.
Audio outside any turn is dropped. Concatenating one turn's `TurnAudio` gives exactly the input
samples from `TurnStarted.start` to `TurnEnded.end`, whatever the chunk sizes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.audio.vad import SpeechEnded, SpeechStarted, VoiceActivityDetector


@dataclass(frozen=True)
class TurnStarted:
    """A turn opened; its first sample is at stream position `start` (pre-roll included)."""

    start: int


@dataclass(frozen=True)
class TurnAudio:
    """Samples of the open turn, following the previous ones without a gap."""

    samples: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class TurnEnded:
    """The turn closed at `end` (after the silence); the voice stopped at `speech_end`."""

    end: int
    speech_end: int


TurnEvent = TurnStarted | TurnAudio | TurnEnded


class TurnSegmenter:
    """Turns a stream of chunks into turn events.

    Args:
        vad: the detector to use; a default `VoiceActivityDetector()` when None.
    """

    def __init__(self, vad: VoiceActivityDetector | None = None) -> None:
        self.vad = vad if vad is not None else VoiceActivityDetector()

    @property
    def in_turn(self) -> bool:
        return self.vad.in_speech

    @property
    def silence_samples(self) -> int:
        """Inside a turn, the silence heard since the voice last stopped, in samples (else 0)."""
        return self.vad.silence_samples

    def feed(self, samples: np.ndarray) -> list[TurnEvent]:
        """Judge one chunk (16 kHz mono float32) and say what it means for the turn."""
        samples = np.asarray(samples, dtype=np.float32)
        chunk_start = self.vad.samples_fed
        was_in_turn = self.vad.in_speech
        out: list[TurnEvent] = []
        for event in self.vad.feed(samples):
            if isinstance(event, SpeechStarted):
                out.append(TurnStarted(event.start))
                if event.audio.size:
                    out.append(TurnAudio(event.audio))
            elif isinstance(event, SpeechEnded):
                if was_in_turn:  # the turn began in an earlier chunk: its part of this one
                    part = samples[: event.end - chunk_start]
                    if part.size:
                        out.append(TurnAudio(part))
                out.append(TurnEnded(event.end, event.speech_end))
            was_in_turn = False  # after any event, this chunk's turn audio came with the event
        if was_in_turn and samples.size:
            out.append(TurnAudio(samples))
        return out
