"""The status line: model name, a "random weights" badge, memory, speed of the last answer,
drafter acceptance, a progress bar for loading and long prefills, and a short notice when the engine
moves an idle conversation to disk or reads one back (its memory budget: `engine.session_budget`).

The bar goes when its work is done, and also when the request it shows ends another way (stopped
or failed before its last step: `request_ended`), so it never stays behind half full."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar, QWidget

from engine import protocol as ev


def format_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit in ("B", "KB") else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


NOTICE_SECONDS = 6.0


class StatusLine(QStatusBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeGripEnabled(False)
        self.model_label = QLabel("No model loaded")
        self.model_label.setContentsMargins(8, 0, 4, 0)
        self.random_badge = QLabel("RANDOM WEIGHTS")
        self.random_badge.setObjectName("RandomWeightsBadge")
        self.random_badge.setToolTip(
            "This is a generated demo checkpoint with random weights: its answers are noise. "
            "Download the real model from Model ▸ Manage Models.")
        self.random_badge.setVisible(False)
        self.memory_label = QLabel()
        self.speed_label = QLabel()
        self.drafter_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.setMaximumHeight(12)
        self.progress.setTextVisible(False)
        self.progress.setVisible(False)
        self._progress_request = -1  # the request whose progress the bar shows
        self.memory_notice = QLabel()  # an eviction or a reload, for a few seconds
        self.memory_notice.setContentsMargins(8, 0, 8, 0)
        self._notice_timer = QTimer(self)
        self._notice_timer.setSingleShot(True)
        self._notice_timer.timeout.connect(self.memory_notice.clear)
        self.addWidget(self.model_label)
        self.addWidget(self.random_badge)
        self.addWidget(self.progress)
        self.addWidget(self.memory_notice)
        for label in (self.memory_label, self.speed_label, self.drafter_label):
            label.setContentsMargins(8, 0, 8, 0)
            self.addPermanentWidget(label)

    def set_loading(self, what: str) -> None:
        self.model_label.setText(what)
        self.random_badge.setVisible(False)

    def show_model(self, event: ev.ModelLoaded) -> None:
        self.model_label.setText(event.name or event.path or "model")
        self.model_label.setToolTip(event.path)
        self.random_badge.setVisible(event.random_weights)
        self.memory_label.setText(f"Memory {format_bytes(event.memory_bytes)}" if event.memory_bytes else "")
        self.progress.setVisible(False)

    def show_stats(self, stats: ev.TurnStats, drafter_on: bool) -> None:
        self.speed_label.setText(f"{stats.decode_tokens_per_second:.1f} tok/s")
        if stats.memory_bytes:
            self.memory_label.setText(f"Memory {format_bytes(stats.memory_bytes)}")
        if drafter_on and stats.drafted:
            self.drafter_label.setText(f"Drafter {100 * stats.accepted / stats.drafted:.0f}% accepted")
        else:
            self.drafter_label.setText("")

    def request_ended(self, event: ev.TurnFinished | ev.ErrorEvent) -> None:
        """A request ended (finished, stopped or failed): its progress is over."""
        if event.request_id == self._progress_request:
            self.progress.setVisible(False)

    def show_progress(self, event: ev.Progress) -> None:
        self._progress_request = event.request_id
        if event.total <= 0 or event.done >= event.total:
            self.progress.setVisible(False)
            return
        self.progress.setRange(0, event.total)
        self.progress.setValue(event.done)
        self.progress.setToolTip(f"{event.stage}: {event.done}/{event.total}")
        self.progress.setVisible(True)

    def show_memory_event(self, event: ev.Event, seconds: float = NOTICE_SECONDS) -> None:
        """An idle conversation went to disk, or this one came back from it: say so for a few seconds."""
        if isinstance(event, ev.SessionEvicted):
            freed = f" ({format_bytes(event.bytes_freed)})" if event.bytes_freed else ""
            text = f"An idle conversation was moved to disk to free memory{freed}."
        elif isinstance(event, ev.SessionReloaded):
            text = f"Loaded this conversation back from disk in {event.seconds:.1f} s."
        else:
            return
        self.memory_notice.setText(text)
        self._notice_timer.start(int(seconds * 1000))
