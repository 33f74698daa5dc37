"""Helpers for the window's voice tests: the microphone test tools of tests/app/audio, espeak-ng
speech, the virtual microphone, and cross-correlation.

The fixture bodies are plain functions; a test module makes them fixtures under the names it uses:
    voice_mic = pytest.fixture(scope="session", name="voice_mic")(virtual_mic_session)
`virtual_mic_session` reuses a virtual microphone that is already running (scripts/run-tests.sh,
or a fixture earlier in the session) and starts its own otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "tests" / "app" / "audio"))

from mock_sounddevice import MockSoundDevice
from synthetic_speech import noise, voice

from engine import events as ev

MIC_SCRIPT = REPO / "scripts" / "virtual_mic.sh"
RATE = 16_000

__all__ = ["MockSoundDevice", "noise", "voice"]


@dataclass
class Mic:
    env: dict[str, str]

    def play(self, wav: Path) -> subprocess.Popen:
        return subprocess.Popen(
            ["paplay", "--device=vsink", str(wav)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )


def _server_up(env: dict[str, str]) -> bool:
    result = subprocess.run(
        ["pactl", "info"], env=env, capture_output=True, timeout=10, check=False
    )
    return (
        result.returncode == 0
        and b"vsink"
        in subprocess.run(
            ["pactl", "list", "short", "sinks"],
            env=env,
            capture_output=True,
            timeout=10,
            check=False,
        ).stdout
    )


def _reinit_portaudio() -> None:
    if (
        "sounddevice" in sys.modules
    ):  # PortAudio lists devices once; a server started later is unseen
        sd = sys.modules["sounddevice"]
        sd._terminate()
        sd._initialize()


def virtual_mic_session() -> Iterator[Mic]:
    missing = [t for t in ("pulseaudio", "paplay", "pactl") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"the virtual microphone needs {', '.join(missing)}")
    if os.environ.get("XDG_RUNTIME_DIR") and _server_up(dict(os.environ)):
        yield Mic(dict(os.environ))
        return
    runtime = tempfile.mkdtemp(prefix="tandem-vmic-ui-")
    env = dict(os.environ, XDG_RUNTIME_DIR=runtime)
    env.pop("PULSE_SERVER", None)
    subprocess.run(
        ["bash", str(MIC_SCRIPT), "start"], env=env, check=True, timeout=30, capture_output=True
    )
    saved = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = runtime
    _reinit_portaudio()
    try:
        yield Mic(env)
    finally:
        subprocess.run(
            ["bash", str(MIC_SCRIPT), "stop"], env=env, check=False, timeout=30, capture_output=True
        )
        if saved is None:
            os.environ.pop("XDG_RUNTIME_DIR", None)
        else:
            os.environ["XDG_RUNTIME_DIR"] = saved
        _reinit_portaudio()
        shutil.rmtree(runtime, ignore_errors=True)


def espeak_wav(folder: Path, text: str, name: str = "speech") -> Path:
    """`text` spoken by espeak-ng, as 16 kHz mono 16-bit WAV."""
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("speech for the voice tests is made with espeak-ng and sox")
    raw, wav = folder / f"{name}22k.wav", folder / f"{name}16k.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(raw), text], check=True, timeout=30)
    subprocess.run(
        ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)], check=True, timeout=30
    )
    return wav


def spoken_speech(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """About 2 s of English speech: its WAV file and its float32 samples."""
    wav = espeak_wav(tmp_path_factory.mktemp("voice-ui"), "Hello Tandem. Tell me a story.")
    samples, rate = soundfile.read(wav, dtype="float32")
    assert rate == RATE
    return wav, samples


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


def use_mock_mic(window, mock) -> None:
    """Make the window's voice input record from a MockSoundDevice."""
    window.voice_input.sounddevice = mock
    window.voice_input.check_microphone()
