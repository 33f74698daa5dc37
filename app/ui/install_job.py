"""One model install at a time, on a plain thread, reported to the GUI thread by queued signals.

`start(work, what)` runs `work(progress, cancelled)` (engine.install's functions take both); `progress(stage,
done, total)` and `finished(folder, error, needs_token)` arrive on the GUI thread. `error` is "" on success,
"cancelled" after `cancel()`, or a sentence for the person.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from engine.download import DownloadCancelled, DownloadError
from engine.install import StageProgress

Work = Callable[[StageProgress, threading.Event], Path]


class InstallJob(QObject):
    progress = Signal(str, int, int)  # stage, bytes done, bytes total
    finished = Signal(str, str, bool)  # folder, error, whether an access token would help

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cancelled = threading.Event()
        self._running = False  # from start() until `finished` reaches the GUI thread
        self.finished.connect(self._done)  # connected first: runs before any other receiver

    def start(self, work: Work, what: str) -> None:
        self.cancelled.clear()
        self._running = True

        def run() -> None:
            try:
                folder = work(self.progress.emit, self.cancelled)
                self.finished.emit(str(folder), "", False)
            except DownloadCancelled:
                self.finished.emit("", "cancelled", False)
            except DownloadError as exc:
                self.finished.emit("", str(exc), exc.needs_token)
            except Exception:  # noqa: BLE001 - a bug must still end as a sentence, never a hung dialog
                self.finished.emit(
                    "",
                    f"Installing {what} failed unexpectedly. Press Download to "
                    "try again; what was downloaded is kept.",
                    False,
                )

        threading.Thread(target=run, name="model-download", daemon=True).start()

    def cancel(self) -> None:
        self.cancelled.set()

    def running(self) -> bool:
        return self._running

    def _done(self, *_) -> None:
        self._running = False
