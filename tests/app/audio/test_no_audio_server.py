"""Without an audio server or without PortAudio, recording fails with a clear MicrophoneError.

Each case runs in a fresh Python process, because PortAudio reads the device list once per process.
"""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]

PROBE = """
import sys
{prelude}
from app.audio.capture import Recorder
from app.audio.errors import MicrophoneError
try:
    Recorder().start()
except MicrophoneError as exc:
    print("REASON", exc.reason)
    print("MESSAGE", exc)
    sys.exit(0)
print("RECORDING STARTED")
sys.exit(1)
"""


def _probe(tmp_path: Path, prelude: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PULSE_SERVER", "TANDEM_VIRTUAL_MIC")}
    empty = tmp_path / "xdg"
    empty.mkdir(mode=0o700)
    env.update(XDG_RUNTIME_DIR=str(empty), PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-c", PROBE.format(prelude=prelude)],
        check=False,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="an audio server is a Linux notion"
)
def test_no_audio_server_gives_a_clear_error(tmp_path: Path) -> None:
    result = _probe(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    if ctypes.util.find_library("portaudio") is None:
        assert "REASON no_portaudio" in result.stdout
    else:
        assert "REASON no_audio_server" in result.stdout, result.stdout
        assert "No audio server is running" in result.stdout
    assert "Traceback" not in result.stderr


def test_missing_portaudio_gives_a_clear_error(tmp_path: Path) -> None:
    hide = "import ctypes.util\nctypes.util.find_library = lambda name: None"
    result = _probe(tmp_path, prelude=hide)
    if sys.platform == "darwin" or os.name == "nt":
        pytest.skip("the sounddevice wheel ships its own PortAudio here")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "REASON no_portaudio" in result.stdout
    assert "PortAudio could not be loaded" in result.stdout and "libportaudio2" in result.stdout
