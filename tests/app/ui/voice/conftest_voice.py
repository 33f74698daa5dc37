"""Helpers for the window's voice tests: the microphone test tools of tests/app/audio and
cross-correlation. The virtual microphone and the espeak-ng speech are fixtures of tests/conftest.py
(`virtual_mic`, `speech_wav`, `speech`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(REPO / "tests" / "app" / "audio"))

from fake_player import FakePlayer
from mock_sounddevice import MockSoundDevice
from synthetic_speech import noise, voice

from app.audio.energy_scorer import EnergyScorer
from engine import protocol as ev

MIC_SCRIPT = REPO / "scripts" / "virtual_mic.sh"
RATE = 16_000

__all__ = ["FakePlayer", "MockSoundDevice", "noise", "voice"]


def best_lag(captured: np.ndarray, reference: np.ndarray) -> tuple[int, float]:
    """Where `reference` sits in `captured` (highest cross-correlation, either sign), and Pearson r there."""
    n = 1 << int(np.ceil(np.log2(captured.size + reference.size)))
    corr = np.fft.irfft(np.fft.rfft(captured, n) * np.conj(np.fft.rfft(reference, n)), n)
    lag = int(np.argmax(corr))
    if lag > n - reference.size:
        lag -= n  # the reference starts before the capture did
    lo, hi = max(lag, 0), min(lag + reference.size, captured.size)
    if hi - lo < reference.size // 2:
        return lag, 0.0
    return lag, float(np.corrcoef(captured[lo:hi], reference[lo - lag : hi - lag])[0, 1])


def appended(engine) -> np.ndarray:
    """Every sample the window sent to the engine with AppendAudio, in order."""
    chunks = [c.samples for c in engine.of_type(ev.AppendAudio)]
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


def use_mock_mic(window, mock, learned_vad: bool = False) -> None:
    """Make the window's voice input record from a MockSoundDevice.

    The synthetic tones of `voice()` are not speech to the learned detector, so hands-free turns
    use the energy detector unless `learned_vad` (for real speech, such as espeak-ng's).
    """
    window.voice_input.sounddevice = mock
    if not learned_vad:
        window.voice_input.make_scorer = EnergyScorer
    window.voice_input.check_microphone()
