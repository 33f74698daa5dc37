"""One model install at a time, off the GUI thread (`Tasks`, app.ui.tasks), reported on it.

`start(work, what)` runs `work(progress, cancelled)` (engine.install's functions take both); `progress(stage,
done, total)` and `finished(folder, error, needs_token)` arrive on the GUI thread. `error` is "" on success,
"cancelled" after `cancel()`, or a sentence for the person.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.ui.tasks import Tasks
from engine.download import DownloadCancelled, DownloadError
from engine.install import StageProgress

Work = Callable[[StageProgress, threading.Event], Path]


class InstallJob(QObject):
    progress = Signal(str, int, int)  # stage, bytes done, bytes total
    finished = Signal(str, str, bool)  # folder, error, whether an access token would help

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.cancelled = threading.Event()
        self._running = False  # from start() until `finished` is emitted on the GUI thread
        self._tasks = Tasks(self)

    def start(self, work: Work, what: str) -> None:
        self.cancelled.clear()
        self._running = True

        def report(stage: str, done: int, total: int) -> None:  # on the install's thread
            self._tasks.run_on_main(lambda: self.progress.emit(stage, done, total))

        def failed(exc: Exception) -> None:
            if isinstance(exc, DownloadCancelled):
                self._finish("", "cancelled", False)
            elif isinstance(exc, DownloadError):
                self._finish("", str(exc), exc.needs_token)
            else:  # a bug must still end as a sentence, never a hung dialog
                self._finish("", f"Installing {what} failed unexpectedly. Press Download to "
                                 "try again; what was downloaded is kept.", False)

        self._tasks.run_in_background(
            lambda: work(report, self.cancelled),
            on_done=lambda folder: self._finish(str(folder), "", False),
            on_failure=failed,
            name="model-download",
        )

    def cancel(self) -> None:
        self.cancelled.set()

    def running(self) -> bool:
        return self._running

    def _finish(self, folder: str, error: str, needs_token: bool) -> None:
        self._running = False  # before any receiver runs
        self.finished.emit(folder, error, needs_token)
