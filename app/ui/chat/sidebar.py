"""The list of conversations: new, search, rename (double-click or context menu), delete with
confirmation. It shows what it is given; the owner does the storing and emits nothing to disk."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.store import Conversation


class Sidebar(QWidget):
    conversation_selected = Signal(str)
    new_requested = Signal()
    rename_requested = Signal(str, str)  # id, new title
    delete_requested = Signal(str)
    search_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("Sidebar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.search_changed)
        self.new_button = QPushButton("New Chat")
        self.new_button.setObjectName("NewChatButton")
        self.new_button.setToolTip("New conversation (⌘N)")
        self.new_button.clicked.connect(self.new_requested)
        self.list = QListWidget()
        self.list.setObjectName("ConversationList")
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.currentItemChanged.connect(self._current_changed)
        self.list.itemDoubleClicked.connect(lambda item: self.ask_rename(item.data(Qt.ItemDataRole.UserRole)))
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.search, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 12, 4, 10)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.new_button)
        self._updating = False
        # Tests replace these to answer the dialogs.
        self.confirm_delete = self._confirm_delete
        self.ask_title = self._ask_title

    def set_conversations(self, conversations: list[Conversation], current: str | None) -> None:
        self._updating = True
        try:
            self.list.clear()
            for conv in conversations:
                item = QListWidgetItem(conv.title)
                item.setData(Qt.ItemDataRole.UserRole, conv.id)
                item.setToolTip(conv.title)
                self.list.addItem(item)
                if conv.id == current:
                    self.list.setCurrentItem(item)
        finally:
            self._updating = False

    def ids(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def titles(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def ask_rename(self, conversation_id: str) -> None:
        item = self._item(conversation_id)
        if item is None:
            return
        title = self.ask_title(item.text())
        if title is not None and title.strip():
            self.rename_requested.emit(conversation_id, title.strip())

    def ask_delete(self, conversation_id: str) -> None:
        item = self._item(conversation_id)
        if item is not None and self.confirm_delete(item.text()):
            self.delete_requested.emit(conversation_id)

    def _item(self, conversation_id: str) -> QListWidgetItem | None:
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.ItemDataRole.UserRole) == conversation_id:
                return self.list.item(i)
        return None

    def _current_changed(self, item: QListWidgetItem | None, _previous) -> None:
        if item is not None and not self._updating:
            self.conversation_selected.emit(item.data(Qt.ItemDataRole.UserRole))

    def _menu(self, pos) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        conv_id = item.data(Qt.ItemDataRole.UserRole)
        menu = QMenu(self)
        menu.addAction("Rename…", lambda: self.ask_rename(conv_id))
        menu.addAction("Delete…", lambda: self.ask_delete(conv_id))
        menu.exec(self.list.viewport().mapToGlobal(pos))

    def _confirm_delete(self, title: str) -> bool:
        answer = QMessageBox.question(
            self, "Delete conversation",
            f"Delete “{title}”? Its messages and attachments cannot be recovered.",
            QMessageBox.StandardButton.Delete | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Delete

    def _ask_title(self, current: str) -> str | None:
        title, ok = QInputDialog.getText(self, "Rename conversation", "Title:", text=current)
        return title if ok else None
