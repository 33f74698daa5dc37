"""Render the window with a real-looking conversation to a PNG (docs/screenshot.png).

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/app/ui/make_screenshot.py docs/screenshot.png [--dark]
    QT_QPA_PLATFORM=xcb xvfb-run -a -s "-screen 0 1280x900x24" .venv/bin/python tests/app/ui/make_screenshot.py OUT

The answers are scripted (the fake engine), so the picture shows the UI, not model output.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[3]), str(Path(__file__).parent)]

from PIL import Image, ImageDraw
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

ANSWER = (
    "The chart shows **five bars** that rise overall, with a dip at the third and a peak at the "
    "fourth.\n\n- Highest: bar 4 (about 160)\n- Lowest: bar 1 (about 60)\n\n"
    "Here is how to draw it with `matplotlib`:\n\n"
    "```python\nimport matplotlib.pyplot as plt\n\nvalues = [60, 120, 90, 160, 130]\n"
    "plt.bar(range(1, 6), values, color=\"#0a84ff\")\nplt.title(\"Weekly sales\")\nplt.show()\n```"
)


def dark_palette() -> QPalette:
    p = QPalette()
    for role, color in [(QPalette.ColorRole.Window, "#262626"), (QPalette.ColorRole.WindowText, "#e8e8e8"),
                        (QPalette.ColorRole.Base, "#1e1e1e"), (QPalette.ColorRole.Text, "#e8e8e8"),
                        (QPalette.ColorRole.Button, "#333333"), (QPalette.ColorRole.ButtonText, "#e8e8e8"),
                        (QPalette.ColorRole.Highlight, "#0a84ff")]:
        p.setColor(role, QColor(color))
    return p


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--dark", action="store_true")
    args = parser.parse_args()
    app = QApplication([])
    app.setStyle("Fusion")
    if args.dark:
        app.setPalette(dark_palette())
    else:
        palette = app.palette()
        palette.setColor(QPalette.ColorRole.Highlight, QColor("#007aff"))  # macOS accent
        app.setPalette(palette)

    from fake_engine import FakeEngineWorker

    from app.store import Store
    from app.ui.engine_bridge import EngineBridge
    from app.ui.main_window import MainWindow
    from app.ui.settings import Key, Settings

    data = Path(tempfile.mkdtemp(prefix="tandem-shot-"))
    store = Store(data)
    settings = Settings(QSettings(str(data / "settings.ini"), QSettings.Format.IniFormat))
    settings.set_value(Key.MODEL_PATH, str(data / "models/tandem-demo-tiny"))
    for title in ["Plan a 3-day trip to Kyoto", "Explain sliding-window attention",
                  "Fix the flaky CI test", "Sourdough starter schedule"]:
        conv = store.create_conversation(title)
        store.add_message(conv.id, "user", title)
    chart = data / "chart.png"
    im = Image.new("RGB", (320, 200), (245, 247, 250))
    draw = ImageDraw.Draw(im)
    for i, h in enumerate([60, 120, 90, 160, 130]):
        draw.rectangle([30 + i * 55, 180 - h, 70 + i * 55, 180], fill=(10, 132, 255))
    im.save(chart)
    conv = store.create_conversation()
    store.add_message(conv.id, "user", "What does this chart show? And write a snippet to plot it.",
                      [store.import_file(chart)])
    store.add_message(conv.id, "assistant", ANSWER, thinking="Five bars; read heights off the axis.",
                      finish_reason="stop", stats={"generated_tokens": 96, "decode_tokens_per_second": 38.4})
    settings.set_value(Key.LAST_CONVERSATION, conv.id)

    reply = "The peak (about 160) is roughly **2.7×** the first bar (about 60). Want labels on the bars?"
    bridge = EngineBridge(lambda on_event: FakeEngineWorker(on_event, replies=[reply]))
    window = MainWindow(store, settings, bridge)
    window.menuBar().hide()  # on macOS the menu bar lives at the top of the screen
    window.resize(1180, 820)
    window.show()
    window.start()
    QTimer.singleShot(300, lambda: window.controller.send(
        "How much bigger is the peak than the first bar?"))
    QTimer.singleShot(1000, lambda: window.composer.edit.setPlainText("Add value labels"))

    def snap() -> None:
        window.grab().save(args.out)
        app.quit()

    QTimer.singleShot(1500, snap)
    app.exec()
    bridge.stop()
    store.close()
    shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
