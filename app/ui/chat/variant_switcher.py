""""< 2/3 >" under a message with other versions (an answer regenerated, a message edited):
the arrows ask for the previous or next version; the owner switches and shows it."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from app.store import VariantPlace


class VariantSwitcher(QWidget):
    chosen = Signal(int)  # the 1-based version asked for

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("VariantSwitcher")
        self.previous_button = QPushButton("‹")
        self.previous_button.setAccessibleName("Previous version")
        self.previous_button.setToolTip("Previous version")
        self.next_button = QPushButton("›")
        self.next_button.setAccessibleName("Next version")
        self.next_button.setToolTip("Next version")
        self.label = QLabel()
        self.label.setObjectName("MessageMeta")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.previous_button)
        row.addWidget(self.label)
        row.addWidget(self.next_button)
        self.place: VariantPlace | None = None
        self.previous_button.clicked.connect(lambda: self._step(-1))
        self.next_button.clicked.connect(lambda: self._step(1))
        self.setVisible(False)

    def set_place(self, place: VariantPlace | None) -> None:
        self.place = place
        self.setVisible(place is not None and place.count > 1)
        if place is not None:
            self.label.setText(f"{place.index}/{place.count}")
            self.previous_button.setEnabled(place.index > 1)
            self.next_button.setEnabled(place.index < place.count)

    def _step(self, step: int) -> None:
        if self.place is not None and 1 <= self.place.index + step <= self.place.count:
            self.chosen.emit(self.place.index + step)
