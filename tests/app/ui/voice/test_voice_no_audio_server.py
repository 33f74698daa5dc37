"""Without any audio server (or without PortAudio) the window starts, the mic button says why it cannot record, nothing crashes.

A fresh Python process with an empty XDG_RUNTIME_DIR (PortAudio lists its devices once per process,
so the test's own virtual microphone must not be visible there), on the fake engine.
"""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]

SCRIPT = r"""
import sys
if sys.argv[2] == "hide-portaudio":
    import ctypes.util
    ctypes.util.find_library = lambda name: None
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
app = QApplication([])
from fake_engine import FakeEngineWorker
from app.ui.engine_bridge import EngineBridge
from app.ui.settings import Key, Settings
from app.store import Store
from app.ui.main_window import MainWindow
from engine import protocol as ev
data = sys.argv[1]
settings = Settings(QSettings(data + "/s.ini", QSettings.Format.IniFormat))
settings.set_value(Key.MODEL_PATH, "models/fake")
bridge = EngineBridge(lambda on_event: FakeEngineWorker(on_event))
window = MainWindow(Store(data), settings, bridge)
window.show()
window.start()
QTest.qWait(200)
button = window.composer.mic_button
print("ENABLED", button.isEnabled())
print("TOOLTIP", button.toolTip().replace("\n", " "))
QTest.mouseClick(button, Qt.MouseButton.LeftButton)
QTest.qWait(100)
print("RECORDING", window.voice_input.recording, button.isChecked())
print("ERROR", window.composer.error_label.text().replace("\n", " "))
print("VOICE COMMANDS", len([c for c in bridge.worker.commands if isinstance(c, ev.StartVoiceTurn)]))
window.composer.edit.setPlainText("Still works?")
window.composer.submit()
for _ in range(200):  # until the answer has finished (at most 20 s on a busy machine)
    last = window.chat_view.last()
    if last is not None and last.role == "assistant" and last.finish_reason:
        break
    QTest.qWait(100)
print("ANSWER", window.chat_view.last().answer)
window.close()
bridge.stop()
"""


@pytest.mark.timeout(60)
@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="an audio server is a Linux notion"
)
@pytest.mark.parametrize("case", ["no-server", "hide-portaudio"])
def test_window_without_audio_server_says_why_the_mic_cannot_record(
    tmp_path: Path, case: str
) -> None:
    empty = tmp_path / "xdg"
    empty.mkdir(mode=0o700)
    data = tmp_path / "data"
    data.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PULSE_SERVER", "TANDEM_VIRTUAL_MIC")}
    env.update(
        XDG_RUNTIME_DIR=str(empty),
        QT_QPA_PLATFORM="offscreen",
        PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "tests" / "app" / "ui")]),
    )
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(data), case],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    if case == "hide-portaudio" or ctypes.util.find_library("portaudio") is None:
        why = "PortAudio could not be loaded"
    else:
        why = "No audio server is running"
    assert "ENABLED True" in out  # pressing it again looks again (a server may have started)
    tooltip = next(line for line in out.splitlines() if line.startswith("TOOLTIP"))
    assert tooltip.startswith("TOOLTIP Cannot record: ") and why in tooltip, out
    assert "RECORDING False False" in out and why in out.split("ERROR", 1)[1], out
    assert "VOICE COMMANDS 0" in out
    assert "ANSWER Echo: Still works?" in out  # the rest of the app works
