"""`tandem app`: open the desktop app.

Setup happens here, not at import: the data folder, the store, settings, the engine bridge and the
window. The engine worker defaults to `engine.worker.EngineWorker`, imported only when the app runs;
`run(args, worker_factory=...)` takes another with the same interface.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing this module loads no Qt: `tandem --help` stays fast
    from app.ui.engine_bridge import WorkerFactory

ICON = Path("assets") / "icon" / "tandem-1024.png"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder for conversations, attachments and models "
                             "(default: the system's app data folder, or $TANDEM_DATA_DIR)")
    parser.add_argument("--model", default=None,
                        help="model folder or Hugging Face repo id to load (saved as the default)")
    parser.add_argument("--demo", action="store_true",
                        help="use the generated demo checkpoint (random weights)")


EVICTION_FOLDER = "engine-cache"  # under the data folder: idle conversations' caches (engine.session_budget)


def default_worker_factory(data_folder: Path) -> WorkerFactory:
    """The engine worker, moving idle conversations' caches to `data_folder`/engine-cache when memory is
    short; what a previous run left there is stale (the conversations reopen from their history)."""
    from functools import partial

    from engine.worker import EngineWorker

    folder = data_folder / EVICTION_FOLDER
    for stale in folder.glob("*.safetensors"):
        stale.unlink(missing_ok=True)
    return partial(EngineWorker, eviction_folder=folder)


def run(args: argparse.Namespace, worker_factory: WorkerFactory | None = None) -> int:
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication, QMessageBox

    from app.ui.settings import Key, Settings, data_dir, default_qsettings

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Tandem")
    app.setOrganizationName("Tandem")
    app.setApplicationDisplayName("Tandem")

    from app.store import Store
    from app.ui.engine_bridge import EngineBridge
    from app.ui.file_open import FileOpenFilter
    from app.ui.main_window import MainWindow

    root = args.data_dir if args.data_dir is not None else data_dir()
    try:
        store = Store(root)
    except Exception as exc:  # noqa: BLE001 - a broken data folder must be explained, not a traceback
        QMessageBox.critical(None, "Tandem", f"Cannot open the conversations in {root}:\n{exc}")
        return 1
    settings = Settings(default_qsettings(args.data_dir))
    if args.demo:
        settings.set_value(Key.MODEL_PATH, "")
    elif args.model:
        settings.set_value(Key.MODEL_PATH, args.model)
    bridge = EngineBridge(worker_factory or default_worker_factory(store.root))
    window = MainWindow(store, settings, bridge)
    opener = FileOpenFilter(window.controller.attach_files, app)
    app.installEventFilter(opener)
    icon = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parents[1])) / ICON
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    window.show()
    window.start()
    try:
        return int(app.exec())
    finally:
        bridge.stop()
        store.close()
