"""Screenshot of the window in a real conversation: the real engine thread on a generated checkpoint.

    xvfb-run -a -s "-screen 0 1280x900x24" env QT_QPA_PLATFORM=xcb \\
        .venv/bin/python tests/app/ui/make_real_screenshot.py docs/screenshot-real.png

The checkpoint is the random-weight demo checkpoint (shape "tiny"), so the answers are noise: the
picture shows what the window really does with them (streamed text, the random-weights badge,
the image chip, speed and memory in the status line).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[3])]

from PIL import Image, ImageDraw
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    args = parser.parse_args()
    app = QApplication([])
    app.setStyle("Fusion")

    from app.store import Store
    from app.ui.engine_bridge import EngineBridge
    from app.ui.main_window import MainWindow
    from app.ui.settings import Key, Settings
    from engine.checkpoint import make_checkpoint
    from engine.worker import EngineWorker

    data = Path(tempfile.mkdtemp(prefix="tandem-real-shot-"))
    model = make_checkpoint(data / "models" / "tandem-demo-tiny", shape="tiny", with_drafter=True)
    store = Store(data)
    settings = Settings(QSettings(str(data / "settings.ini"), QSettings.Format.IniFormat))
    settings.set_value(Key.MODEL_PATH, str(model))
    settings.set_value(Key.MAX_TOKENS, 40)
    settings.set_value(Key.TEMPERATURE, 0.0)
    chart = data / "chart.png"
    im = Image.new("RGB", (320, 200), (245, 247, 250))
    draw = ImageDraw.Draw(im)
    for i, h in enumerate([60, 120, 90, 160, 130]):
        draw.rectangle([30 + i * 55, 180 - h, 70 + i * 55, 180], fill=(10, 132, 255))
    im.save(chart)

    bridge = EngineBridge(EngineWorker)
    window = MainWindow(store, settings, bridge)
    window.resize(1180, 820)
    window.show()
    window.start()
    steps = iter([
        lambda: window.controller.attach_files([str(chart)]),
        lambda: window.controller.send("What does this chart show?"),
        lambda: window.controller.send("And which bar is the highest?"),
        lambda: window.controller.regenerate(),  # the earlier answer is kept: "< 2/2 >"
        lambda: window.composer.edit.setPlainText("Thanks! One more question…"),
    ])

    def answered() -> bool:
        last = window.chat_view.last() if window.chat_view.messages else None
        return last is not None and last.role == "assistant" and bool(last.finish_reason)

    def tick() -> None:
        ready = window.status_line.random_badge.isVisibleTo(window)
        if not ready or (window.chat_view.messages and not answered()):
            QTimer.singleShot(200, tick)
            return
        step = next(steps, None)
        if step is None:
            window.grab().save(args.out)
            app.quit()
            return
        step()
        QTimer.singleShot(600, tick)

    QTimer.singleShot(500, tick)
    app.exec()
    bridge.stop()
    store.close()
    shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
