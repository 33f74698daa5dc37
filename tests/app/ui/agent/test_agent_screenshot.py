"""The window in coding-agent mode after a realistic run that fixed a bug, rendered to a PNG.

    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1280x1000x24" \
        .venv/bin/python tests/app/ui/agent/test_agent_screenshot.py docs/agent-screenshot.png

The model's answers are scripted (no weights); the files, the commands (in the sandbox where the
system has one) and their output, the approvals, the diff, the edit and its undo point are real.
As a test, it checks that the run changed the file, ended green, and is listed in the sidebar.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from app.agent import Reply, ScriptedModel
from app.agent.scripted import call

CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
TEST = (
    "from calc import add, mul\n\nassert mul(2, 3) == 6\nprint('mul ok')\n"
    "assert add(2, 3) == 5, f'add(2, 3) == {add(2, 3)}'\nprint('add ok')\n"
)


def script() -> ScriptedModel:
    return ScriptedModel(
        [
            Reply(
                text="I'll run the tests first to see what fails.",
                thinking="The person says the sums are wrong. Run the tests, then read calc.py.",
                tool_calls=[call("run_command", command="python3 test_calc.py")],
                finish_reason="tool_calls",
            ),
            Reply(
                text="`add(2, 3)` returns -1 instead of 5. Let me read `calc.py`.",
                tool_calls=[call("read_file", path="calc.py")],
                finish_reason="tool_calls",
            ),
            Reply(
                text="Line 2 subtracts. `add` should return `a + b`:",
                tool_calls=[
                    call(
                        "edit_file",
                        path="calc.py",
                        old_text="    return a - b",
                        new_text="    return a + b",
                    )
                ],
                finish_reason="tool_calls",
            ),
            Reply(
                text="Now the tests again:",
                tool_calls=[call("run_command", command="python3 test_calc.py")],
                finish_reason="tool_calls",
            ),
            Reply(text="Fixed: `add` returned `a - b`; it now returns `a + b`, and both tests pass."),
        ]
    )


def render(out: Path, root: Path, qtbot=None):
    """Open the window on `root`, run the scripted task to its end (approving each step), save
    the picture; returns it with the window's agent view as it was then."""
    from fake_engine import FakeEngineWorker

    from app.agent import ApprovalMode
    from app.store import Store
    from app.ui.agent.model_source import SingleModel
    from app.ui.engine_bridge import EngineBridge
    from app.ui.main_window import MainWindow
    from app.ui.settings import Key, Settings

    ws = root / "weather-app"
    ws.mkdir(parents=True)
    (ws / "calc.py").write_text(CALC)
    (ws / "test_calc.py").write_text(TEST)
    data = root / "data"
    store = Store(data)
    settings = Settings(QSettings(str(data / "settings.ini"), QSettings.Format.IniFormat))
    settings.set_value(Key.MODEL_PATH, "models/tandem-demo-tiny")
    settings.set_value(Key.AGENT_APPROVAL_MODE, ApprovalMode.ASK.value)
    for title in (
        "Fix the flaky CI test",
        "Sourdough starter schedule",
        "Explain sliding-window attention",
    ):
        store.create_conversation(title)
    bridge = EngineBridge(lambda on_event: FakeEngineWorker(on_event, random_weights=False))
    window = MainWindow(store, settings, bridge)
    if qtbot is not None:
        qtbot.addWidget(window)
    window.menuBar().hide()  # on macOS the menu bar lives at the top of the screen
    window.resize(1180, 1000)
    window.agent_controller.models = SingleModel(script())
    window.show()
    window.start()
    window.show_mode("agent")
    view = window.agent_view
    view.set_workspace(ws)
    view.composer.edit.setPlainText("The sums in the report are wrong. Find out why and fix it.")
    app = QApplication.instance()

    def wait_until(condition, timeout_s: float = 20.0) -> None:
        import time

        end = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > end:
                raise TimeoutError("the scripted run did not get there")
            app.processEvents()
            time.sleep(0.01)

    assert view.start()
    for call_id in (1, 3, 4):  # the tests, the edit, the tests again
        wait_until(lambda: call_id in view.cards and view.cards[call_id].approval is not None)
        view.cards[call_id].approval.approve_button.click()
    wait_until(lambda: view.finished is not None)
    wait_until(lambda: view.header.undo_button.isEnabled())
    for _ in range(30):
        app.processEvents()
    image = window.grab().toImage()
    image.save(str(out))
    result = (image, view.finished, (ws / "calc.py").read_text(), window.sidebar.kinds())
    window.close()
    bridge.stop()
    store.close()
    return result


def test_the_agent_screenshot_shows_a_run_that_fixed_the_bug(qtbot, tmp_path):
    from app.agent import StopReason
    from app.store import AGENT_RUN

    image, finished, calc, kinds = render(tmp_path / "agent.png", tmp_path, qtbot)
    assert finished.reason is StopReason.DONE and finished.files_changed == ("calc.py",)
    assert "return a + b" in calc and kinds[0] == AGENT_RUN
    assert image.width() >= 1000 and (tmp_path / "agent.png").stat().st_size > 20_000
    accent_green = [
        image.pixelColor(x, y)
        for x in range(0, image.width(), 7)
        for y in range(0, image.height(), 7)
    ]
    assert any(c.green() > 230 and c.red() < 240 and c.blue() < 240 for c in accent_green)


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/agent-screenshot.png")
    app = QApplication([])
    app.setStyle("Fusion")
    palette = app.palette()
    palette.setColor(QPalette.ColorRole.Highlight, QColor("#007aff"))  # macOS accent
    app.setPalette(palette)
    with tempfile.TemporaryDirectory(prefix="tandem-") as tmp:
        render(out, Path(tmp))
    print(out)


if __name__ == "__main__":
    main()
