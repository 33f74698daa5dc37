"""app.audio stays Qt-free and loads PortAudio only when recording starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_importing_app_audio_loads_neither_qt_nor_portaudio() -> None:
    code = (
        "import sys, app.audio, app.audio.capture, app.audio.devices, app.audio.vad, app.audio.turns, app.audio.tts\n"
        "print(sorted(m for m in sys.modules if m.startswith(('PySide6', 'sounddevice', '_sounddevice'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
