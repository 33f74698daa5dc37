"""TurnSegmenter: turn events and turn audio from a chunked stream, whatever the chunk sizes."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_speech import RATE
from synthetic_speech import noise as _noise
from synthetic_speech import voice as _voice

from app.audio.turns import TurnAudio, TurnEnded, TurnSegmenter, TurnStarted
from app.audio.vad import VoiceActivityDetector


def _scene() -> np.ndarray:
    """Two utterances 1 s apart, in a quiet room."""
    return np.concatenate(
        [_noise(0.8, -60), _voice(1.0), _noise(1.0, -60, 3), _voice(0.7, 4), _noise(1.0, -60, 5)]
    )


def _segment(signal: np.ndarray, sizes: list[int]) -> list:
    segmenter, events, at, i = TurnSegmenter(), [], 0, 0
    while at < signal.size:
        size = sizes[i % len(sizes)]
        events += segmenter.feed(signal[at : at + size])
        at, i = at + size, i + 1
    return events


def _turns(events: list) -> list[tuple[int, int, np.ndarray]]:
    turns, start, audio = [], None, []
    for event in events:
        if isinstance(event, TurnStarted):
            assert start is None, "a turn started inside another"
            start, audio = event.start, []
        elif isinstance(event, TurnAudio):
            assert start is not None, "turn audio outside a turn"
            audio.append(event.samples)
        else:
            assert start is not None, "a turn ended that never started"
            turns.append((start, event.end, np.concatenate(audio)))
            start = None
    return turns


@pytest.mark.parametrize("sizes", [[10**7], [640], [97], [333, 4_000, 17, 320], [7_919]])
def test_turn_audio_is_exactly_the_stream_between_start_and_end(sizes: list[int]) -> None:
    signal = _scene()
    turns = _turns(_segment(signal, sizes))
    assert len(turns) == 2
    for start, end, audio in turns:
        np.testing.assert_array_equal(audio, signal[start:end])
    (s1, e1, _), (s2, e2, _) = turns
    assert abs(s1 - (0.8 - 0.3) * RATE) <= 320 and abs(e1 - (1.8 + 0.8) * RATE) <= 640
    assert e1 <= s2 and abs(e2 - (3.5 + 0.8) * RATE) <= 640


def test_quiet_stream_gives_no_events_and_in_turn_follows_the_speech() -> None:
    segmenter = TurnSegmenter(VoiceActivityDetector(silence_s=0.4))
    assert segmenter.feed(_noise(1.0, -60)) == []
    events = segmenter.feed(_voice(0.5))
    assert isinstance(events[0], TurnStarted) and segmenter.in_turn
    assert segmenter.feed(_voice(0.2, 9))[0].samples.size == int(0.2 * RATE)
    events = segmenter.feed(_noise(1.0, -60, 2))
    assert [type(e) for e in events] == [TurnAudio, TurnEnded] and not segmenter.in_turn
