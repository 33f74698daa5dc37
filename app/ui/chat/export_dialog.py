"""Export a conversation as Markdown: the save dialog, then `app.chat.export`, then a sentence
when it could not be written."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QStandardPaths
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.chat.export import export_markdown
from app.store import Store

log = logging.getLogger(__name__)


def suggested_name(title: str) -> str:
    name = "".join("_" if c in '/\\:<>"|?*' or not c.isprintable() else c for c in title)
    return (name.strip(". ") or "Conversation")[:80] + ".md"


def export_with_dialog(store: Store, conversation_id: str, parent: QWidget) -> Path | None:
    """The written file, or None when the person cancelled or it could not be written (said)."""
    conversation = store.conversation(conversation_id)
    if conversation is None:
        return None
    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    start = str(Path(folder or Path.home()) / suggested_name(conversation.title))
    chosen, _ = QFileDialog.getSaveFileName(parent, "Export as Markdown", start,
                                            "Markdown (*.md)")
    if not chosen:
        return None
    target = Path(chosen)
    if target.suffix.lower() not in (".md", ".markdown"):
        target = target.with_name(target.name + ".md")
    try:
        return export_markdown(store, conversation_id, target)
    except OSError as exc:
        log.warning("Export to %s failed: %s", target, exc)
        QMessageBox.warning(
            parent, "Export as Markdown",
            f"“{conversation.title}” could not be exported to {target.parent}. Check that the "
            f"folder can be written and that the disk has free space, then try again. Nothing "
            f"was left half-written.")
        return None
