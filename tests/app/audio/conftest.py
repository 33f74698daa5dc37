"""Fixtures for the microphone tests: speech made by espeak-ng, and the virtual microphone.

The virtual microphone is a PulseAudio null sink whose monitor is the default input
(scripts/virtual_mic.sh). scripts/run-tests.sh starts it before Python and sets
TANDEM_VIRTUAL_MIC=1; otherwise the `virtual_mic` fixture starts its own in a private
XDG_RUNTIME_DIR and re-initialises PortAudio so that it sees the new devices. Tests that need it
skip only when pulseaudio or paplay is not installed.
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
MIC_SCRIPT = REPO / "scripts" / "virtual_mic.sh"
SPEECH_TEXT = "Hello Tandem. Tell me a story."


@dataclass
class VirtualMic:
    """A running virtual microphone: `play(wav)` sends a file into it (like speaking)."""

    env: dict[str, str]

    def play(self, wav: Path) -> subprocess.Popen:
        return subprocess.Popen(
            ["paplay", "--device=vsink", str(wav)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )


def _reinit_portaudio() -> None:
    # PortAudio lists devices once, at initialisation; a server started later is invisible until then.
    if "sounddevice" in sys.modules:
        sd = sys.modules["sounddevice"]
        sd._terminate()
        sd._initialize()


@pytest.fixture(scope="session")
def virtual_mic() -> Iterator[VirtualMic]:
    missing = [tool for tool in ("pulseaudio", "paplay") if shutil.which(tool) is None]
    if missing:
        pytest.skip(
            f"the virtual microphone needs {' and '.join(missing)} (Debian: pulseaudio, pulseaudio-utils)"
        )
    if os.environ.get("TANDEM_VIRTUAL_MIC") == "1":
        yield VirtualMic(dict(os.environ))  # started by scripts/run-tests.sh before Python
        return
    runtime = tempfile.mkdtemp(prefix="tandem-vmic-")
    env = dict(os.environ, XDG_RUNTIME_DIR=runtime)
    env.pop("PULSE_SERVER", None)
    subprocess.run(
        ["bash", str(MIC_SCRIPT), "start"], env=env, check=True, timeout=30, capture_output=True
    )
    saved = {key: os.environ.get(key) for key in ("XDG_RUNTIME_DIR", "PULSE_SERVER")}
    os.environ["XDG_RUNTIME_DIR"] = runtime
    os.environ.pop("PULSE_SERVER", None)
    _reinit_portaudio()
    try:
        yield VirtualMic(env)
    finally:
        subprocess.run(
            ["bash", str(MIC_SCRIPT), "stop"], check=False, env=env, timeout=30, capture_output=True
        )
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _reinit_portaudio()
        shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 2 s of English speech by espeak-ng, converted to 16 kHz mono 16-bit with sox."""
    folder = tmp_path_factory.mktemp("speech")
    raw, wav = folder / "speech22k.wav", folder / "speech16k.wav"
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-w", str(raw), SPEECH_TEXT], check=True, timeout=30
    )
    subprocess.run(
        ["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)], check=True, timeout=30
    )
    return wav


@pytest.fixture(scope="session")
def speech(speech_wav: Path) -> np.ndarray:
    """The speech as float32 samples at 16 kHz."""
    samples, rate = soundfile.read(speech_wav, dtype="float32")
    assert rate == 16_000
    return samples
