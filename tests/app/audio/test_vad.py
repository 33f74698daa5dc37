"""VoiceActivityDetector with the energy scorer on synthetic signals: turn starts and ends, pre-roll, chunking."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic_speech import RATE
from synthetic_speech import noise as _noise
from synthetic_speech import voice as _voice

from app.audio.energy_scorer import FRAME, EnergyScorer
from app.audio.vad import SpeechEnded, SpeechStarted, VoiceActivityDetector


def _feed_in_chunks(vad: VoiceActivityDetector, signal: np.ndarray, sizes: list[int]) -> list:
    events, at, i = [], 0, 0
    while at < signal.size:
        size = sizes[i % len(sizes)]
        events += vad.feed(signal[at : at + size])
        at, i = at + size, i + 1
    return events


def _turns(
    signal: np.ndarray, sizes: list[int], **kwargs: float
) -> list[tuple[int, int, np.ndarray]]:
    """Rebuild each turn's audio the way a caller does: the start event's audio, then later chunks."""
    vad = VoiceActivityDetector(**kwargs)
    turns, current, at, i = [], None, 0, 0
    while at < signal.size:
        chunk = signal[at : at + sizes[i % len(sizes)]]
        events = vad.feed(chunk)
        in_turn_before = current is not None
        offset = at
        for event in events:
            if isinstance(event, SpeechStarted):
                current = [event.start, [event.audio]]
            else:
                if in_turn_before:  # the part of this chunk that belongs to the turn
                    current[1].append(signal[offset : event.end])
                turns.append((current[0], event.end, np.concatenate(current[1])))
                current, in_turn_before = None, False
        if current is not None and in_turn_before:
            current[1].append(chunk)
        at, i = at + chunk.size, i + 1
    return turns


def _speech_scene() -> tuple[np.ndarray, int, int]:
    signal = np.concatenate([_noise(1.0, -60), _voice(1.5), _noise(1.5, -60, seed=2)])
    return signal, RATE, int(2.5 * RATE)


def test_turn_starts_with_pre_roll_and_ends_after_the_silence() -> None:
    signal, onset, offset = _speech_scene()
    vad = VoiceActivityDetector()
    events = vad.feed(signal)
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded]
    started, ended = events
    assert abs(started.start - (onset - vad.pre_roll)) <= FRAME
    np.testing.assert_array_equal(started.audio, signal[started.start : ended.end])
    assert abs(ended.speech_end - offset) <= 2 * FRAME
    assert abs(ended.end - (offset + 0.8 * RATE)) <= 2 * FRAME
    assert not vad.in_speech


def test_events_do_not_depend_on_chunk_sizes() -> None:
    signal, _, _ = _speech_scene()
    whole = _turns(signal, [signal.size])
    for sizes in ([1_000], [37, 5_000, 320, 1], [640]):
        chunked = _turns(signal, sizes)
        assert [(s, e) for s, e, _ in chunked] == [(s, e) for s, e, _ in whole]
        for (start, end, audio), _ in zip(chunked, whole):
            np.testing.assert_array_equal(audio, signal[start:end])


def test_start_event_carries_the_pre_roll_when_fed_in_small_chunks() -> None:
    signal, onset, _ = _speech_scene()
    vad = VoiceActivityDetector()
    started = next(e for e in _feed_in_chunks(vad, signal, [160]) if isinstance(e, SpeechStarted))
    assert started.start <= onset - vad.pre_roll + FRAME
    assert started.audio.size >= vad.pre_roll  # the audio before the detected start is included
    np.testing.assert_array_equal(
        started.audio, signal[started.start : started.start + started.audio.size]
    )


def test_short_pause_keeps_the_turn_and_silence_setting_is_honoured() -> None:
    signal = np.concatenate(
        [_noise(1.0, -60), _voice(0.6), _noise(0.5, -60, 3), _voice(0.6, 4), _noise(1.2, -60, 5)]
    )
    events = VoiceActivityDetector().feed(signal)
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded]  # a 0.5 s pause is not the end
    events = VoiceActivityDetector(silence_s=0.3).feed(signal)
    assert [type(e) for e in events] == [SpeechStarted, SpeechEnded] * 2
    first_end, second_start = events[1].end, events[2].start
    assert second_start >= first_end  # the next turn's pre-roll never reaches into the last one
    assert abs(events[1].end - (1.6 * RATE + 0.3 * RATE)) <= 2 * FRAME


def test_click_and_background_noise_do_not_start_a_turn() -> None:
    click = np.concatenate([_noise(1.0, -60), np.full(FRAME, 0.5, np.float32), _noise(1.0, -60, 6)])
    assert VoiceActivityDetector().feed(click) == []
    assert VoiceActivityDetector().feed(_noise(3.0, -45)) == []
    assert VoiceActivityDetector().feed(np.zeros(3 * RATE, np.float32)) == []


def test_a_room_that_gets_louder_does_not_hold_a_turn_open() -> None:
    signal = np.concatenate([_noise(1.0, -60), _noise(5.0, -30, seed=7)])
    events = VoiceActivityDetector().feed(signal)
    ends = [e for e in events if isinstance(e, SpeechEnded)]
    assert len(ends) == len(events) - len(ends)  # every start has its end
    assert all(e.end <= RATE + 3.2 * RATE for e in ends)  # 2 s floor window + 0.8 s silence


def test_bad_input_is_refused() -> None:
    vad = VoiceActivityDetector()
    with pytest.raises(ValueError, match="mono"):
        vad.feed(np.zeros((10, 2), np.float32))
    with pytest.raises(ValueError, match="silence_s"):
        VoiceActivityDetector(silence_s=0)
    with pytest.raises(ValueError, match="negative"):
        VoiceActivityDetector(pre_roll_s=-1)
    with pytest.raises(ValueError, match="hold_db"):
        EnergyScorer(onset_db=6, hold_db=12)


class _Scripted:
    """A scorer that returns a fixed list of scores, one per 100-sample frame."""

    name, frame, onset, hold, lag_s = "scripted", 100, 0.5, 0.3, 0.0

    def __init__(self, scores: list[float]) -> None:
        self.scores = iter(scores)

    def score(self, frame: np.ndarray) -> float:
        assert frame.shape == (self.frame,)
        return next(self.scores)


def test_any_scorer_drives_the_turn_with_its_own_frame_and_hysteresis() -> None:
    # 2 frames to start (min_speech 0.0125 s = 2 frames of 100), 0.4 holds, 3 quiet frames end it
    scores = [0.1, 0.6, 0.6, 0.4, 0.4, 0.2, 0.6, 0.1, 0.1, 0.1, 0.9]
    vad = VoiceActivityDetector(
        silence_s=300 / RATE, pre_roll_s=0, min_speech_s=0.0125, scorer=_Scripted(scores)
    )
    events = vad.feed(np.zeros(100 * len(scores), np.float32))
    assert [(type(e).__name__, getattr(e, "start", None) or getattr(e, "end", None)) for e in events] == [
        ("SpeechStarted", 100),
        ("SpeechEnded", 1_000),
    ]
    assert events[1].speech_end == 700
    with pytest.raises(ValueError, match="hold"):
        bad = _Scripted([])
        bad.hold = 0.9
        VoiceActivityDetector(scorer=bad)


def test_the_silence_heard_inside_a_turn_is_counted_and_reset_by_the_voice() -> None:
    vad = VoiceActivityDetector(silence_s=0.8)
    assert vad.silence_samples == 0
    vad.feed(np.concatenate([_noise(1.0, -60), _voice(1.0)]))
    assert vad.in_speech and vad.silence_samples < 2 * FRAME
    vad.feed(_noise(0.5, -60, seed=2))
    assert abs(vad.silence_samples - 0.5 * RATE) <= 3 * FRAME  # heard since the voice stopped
    vad.feed(_voice(0.3, seed=4))
    assert vad.silence_samples < 2 * FRAME  # the person went on
    vad.feed(_noise(1.0, -60, seed=3))
    assert not vad.in_speech and vad.silence_samples == 0  # the turn ended
