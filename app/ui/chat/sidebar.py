"""The list of conversations: new, search, rename (double-click, F2 or Return, or the context menu),
delete with a confirmation that names the conversation (context menu, Delete or Backspace), export a
chat as Markdown (context menu). Chats and agent runs are listed together, each kind with its own
icon. It shows what it is given; the owner does the storing and emits nothing to disk."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QPalette
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

from app.store import AGENT_RUN, Conversation
from app.ui.widgets.icons import icon


class Sidebar(QWidget):
    conversation_selected = Signal(str)
    new_requested = Signal()
    rename_requested = Signal(str, str)  # id, new title
    delete_requested = Signal(str)
    export_requested = Signal(str)
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
        # A double-click renames any row, selected or not; the edit triggers stay off so that the
        # dialog (with its Cancel) is the one way to rename.
        self.list.setEditTriggers(QListWidget.EditTrigger.NoEditTriggers)
        self.list.itemDoubleClicked.connect(lambda item: self.ask_rename(item.data(Qt.ItemDataRole.UserRole)))
        self.list.installEventFilter(self)
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

    def set_conversations(self, conversations: list[Conversation], current: str | None) -> None:
        self._updating = True
        palette = self.palette()
        icons = {
            "chat": icon("chat", palette.color(QPalette.ColorRole.PlaceholderText)),
            AGENT_RUN: icon("agent", palette.color(QPalette.ColorRole.Highlight)),
        }
        try:
            if self.ids() != [conv.id for conv in conversations]:
                # Rebuilt only when the rows change: a click that opens a conversation refreshes
                # the list, and a rebuilt list would lose the row under a double-click.
                self.list.clear()
                for conv in conversations:
                    item = QListWidgetItem()
                    item.setData(Qt.ItemDataRole.UserRole, conv.id)
                    self.list.addItem(item)
            for row, conv in enumerate(conversations):
                item = self.list.item(row)
                item.setIcon(icons.get(conv.kind, icons["chat"]))
                item.setText(conv.title)
                item.setData(Qt.ItemDataRole.UserRole + 1, conv.kind)
                item.setToolTip(
                    f"Coding agent: {conv.title}" if conv.kind == AGENT_RUN else conv.title
                )
                if conv.id == current:
                    self.list.setCurrentItem(item)
            if current is None or current not in self.ids():
                self.list.setCurrentItem(None)
        finally:
            self._updating = False

    def ids(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def kinds(self) -> list[str]:
        """Each row's kind: "chat" or app.store.AGENT_RUN."""
        rows = range(self.list.count())
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole + 1) for i in rows]

    def titles(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def focus_search(self) -> None:
        self.search.setFocus()
        self.search.selectAll()

    def ask_rename(self, conversation_id: str) -> None:
        item = self._item(conversation_id)
        if item is None:
            return
        title = self._ask_title(item.text())
        if title is not None and title.strip():
            self.rename_requested.emit(conversation_id, title.strip())

    def ask_delete(self, conversation_id: str) -> None:
        item = self._item(conversation_id)
        if item is not None and self._confirm_delete(item.text()):
            self.delete_requested.emit(conversation_id)

    def _item(self, conversation_id: str) -> QListWidgetItem | None:
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.ItemDataRole.UserRole) == conversation_id:
                return self.list.item(i)
        return None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        """Keys on the list, as in Finder: F2 or Return renames, Delete or Backspace deletes."""
        if watched is self.list and event.type() == QEvent.Type.KeyPress:
            item = self.list.currentItem()
            key = event.key()
            if item is not None:
                conv_id = item.data(Qt.ItemDataRole.UserRole)
                if key in (Qt.Key.Key_F2, Qt.Key.Key_Return, Qt.Key.Key_Enter):
                    self.ask_rename(conv_id)
                    return True
                if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
                    self.ask_delete(conv_id)
                    return True
        return super().eventFilter(watched, event)

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
        if item.data(Qt.ItemDataRole.UserRole + 1) != AGENT_RUN:
            menu.addAction("Export as Markdown…", lambda: self.export_requested.emit(conv_id))
        menu.addAction("Delete…", lambda: self.ask_delete(conv_id))
        menu.exec(self.list.viewport().mapToGlobal(pos))

    def _confirm_delete(self, title: str) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, "Delete conversation",
                          f"Delete “{title}”?", QMessageBox.StandardButton.NoButton, self)
        box.setInformativeText("Its messages and attachments are deleted and cannot be recovered.")
        delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.setEscapeButton(cancel)
        box.exec()
        return box.clickedButton() is delete

    def _ask_title(self, current: str) -> str | None:
        title, ok = QInputDialog.getText(self, "Rename conversation", "Title:", text=current)
        return title if ok else None
