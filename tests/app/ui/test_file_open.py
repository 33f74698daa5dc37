"""Files the system opens with Tandem become attachments, as a drop would."""

from PySide6.QtCore import QObject
from PySide6.QtGui import QFileOpenEvent

from app.ui.file_open import FileOpenFilter


def test_a_file_open_event_attaches_the_file(qtbot, tmp_path):
    got = []
    target = QObject()
    f = FileOpenFilter(got.append)
    path = tmp_path / "photo.png"
    event = QFileOpenEvent(str(path))
    assert f.eventFilter(target, event) is True
    assert got == [[str(path)]]
    assert f.eventFilter(target, QFileOpenEvent("")) is False
