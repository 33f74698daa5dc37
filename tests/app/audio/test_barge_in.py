"""BargeInGate: without echo cancellation, Tandem's echo never barges in; a louder, longer voice does."""

from __future__ import annotations

import numpy as np
from synthetic_speech import RATE
from synthetic_speech import noise as _noise
from synthetic_speech import voice as _voice

from app.audio.barge_in import LONG_ONSET_S, BargeInGate
from app.audio.turns import TurnAudio, TurnEnded, TurnSegmenter, TurnStarted


def _run(signal: np.ndarray, strict: bool, played: np.ndarray, chunk: int = 640) -> list:
    """Feed `signal` as the microphone; `played` is what went to the speakers meanwhile."""
    gate = BargeInGate(TurnSegmenter())
    gate.strict = strict
    events = []
    for at in range(0, signal.size, chunk):
        gate.note_played(played[at : at + chunk])
        events += gate.feed(signal[at : at + chunk])
    return events


def _echo(seconds: float) -> np.ndarray:
    """Tandem's voice as the microphone hears it from the speakers (about -30 dBFS)."""
    return 0.3 * _voice(seconds, seed=11)


def test_the_echo_alone_never_barges_in() -> None:
    echo = _echo(4.0)
    signal = np.concatenate([_noise(0.5, -60), echo, _noise(1.0, -60, 2)])
    played = np.concatenate([np.zeros(int(0.5 * RATE)), echo, np.zeros(RATE)])
    assert _run(signal, strict=False, played=played)[0].__class__ is TurnStarted  # looks like speech
    assert _run(signal, strict=True, played=played) == []


def test_a_louder_longer_voice_over_the_echo_barges_in_with_all_its_audio() -> None:
    echo = _echo(5.0)
    person = np.zeros_like(echo)
    person[int(2.5 * RATE) :] = 1.5 * _voice(2.5, seed=4)  # about +10 dB over the echo
    signal = np.concatenate([_noise(0.5, -60), echo + person, _noise(1.5, -60, 2)])
    played = np.concatenate([np.zeros(int(0.5 * RATE)), echo, np.zeros(int(1.5 * RATE))])
    events = _run(signal, strict=True, played=played)
    kinds = [type(e) for e in events]
    assert kinds[0] is TurnStarted and kinds[-1] is TurnEnded and kinds.count(TurnStarted) == 1
    start = events[0].start
    audio = np.concatenate([e.samples for e in events if isinstance(e, TurnAudio)])
    np.testing.assert_array_equal(audio, signal[start : events[-1].end])  # nothing lost
    assert int((0.5 + 2.5 - 0.8) * RATE) <= start <= int((0.5 + 2.5) * RATE)  # with the person


def test_a_voice_as_soft_as_the_echo_or_shorter_than_the_onset_is_dropped() -> None:
    echo = _echo(5.0)
    soft, short = np.zeros_like(echo), np.zeros_like(echo)
    soft[int(2.5 * RATE) :] = 0.3 * _voice(2.5, seed=4)
    short[int(2.5 * RATE) : int((2.5 + LONG_ONSET_S / 2) * RATE)] = 1.5 * _voice(LONG_ONSET_S / 2)
    played = np.concatenate([np.zeros(int(0.5 * RATE)), echo, np.zeros(int(1.5 * RATE))])
    for extra in (soft, short):
        signal = np.concatenate([_noise(0.5, -60), echo + extra, _noise(1.5, -60, 2)])
        assert _run(signal, strict=True, played=played) == []


def test_when_not_strict_the_events_pass_unchanged() -> None:
    signal = np.concatenate([_noise(0.5, -60), _voice(1.0), _noise(1.5, -60, 2)])
    gate_events = _run(signal, strict=False, played=np.zeros_like(signal))
    segmenter, plain = TurnSegmenter(), []
    for at in range(0, signal.size, 640):
        plain += segmenter.feed(signal[at : at + 640])
    assert [type(e) for e in gate_events] == [type(e) for e in plain]
    assert gate_events[0].start == plain[0].start
