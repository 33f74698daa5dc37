"""Markdown shown as a column of prose labels and code blocks, updated in place while it streams.

`set_markdown` re-parses the whole text but only touches widgets whose block changed, so a long
answer streaming in does not rebuild (or flicker) what is already on screen.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.ui.widgets.code_block import CodeBlock
from app.ui.widgets.markdown import Block, split_blocks
from app.ui.widgets.theme import is_dark


class MarkdownView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(8)
        self._blocks: list[Block] = []
        self._widgets: list[QWidget] = []
        self._text = ""

    @property
    def markdown(self) -> str:
        return self._text

    def code_blocks(self) -> list[CodeBlock]:
        return [w for w in self._widgets if isinstance(w, CodeBlock)]

    def set_markdown(self, text: str) -> None:
        if text == self._text:
            return
        self._text = text
        blocks = split_blocks(text, dark=is_dark(self.palette()))
        for i, block in enumerate(blocks):
            if i < len(self._blocks) and self._blocks[i] == block:
                continue
            if i < len(self._widgets) and _fits(self._widgets[i], block):
                self._fill(self._widgets[i], block)
            else:
                widget = self._make(block)
                if i < len(self._widgets):
                    old = self._widgets[i]
                    self._layout.replaceWidget(old, widget)
                    old.deleteLater()
                    self._widgets[i] = widget
                else:
                    self._layout.addWidget(widget)
                    self._widgets.append(widget)
        for old in self._widgets[len(blocks):]:
            self._layout.removeWidget(old)
            old.deleteLater()
        del self._widgets[len(blocks):]
        self._blocks = blocks

    def _make(self, block: Block) -> QWidget:
        if block.kind == "code":
            widget: QWidget = CodeBlock(self)
        else:
            widget = QLabel(self)
            widget.setObjectName("Prose")
            widget.setTextFormat(Qt.TextFormat.RichText)
            widget.setWordWrap(True)
            widget.setOpenExternalLinks(True)
            widget.setTextInteractionFlags(
                Qt.TextInteractionFlag.TextSelectableByMouse
                | Qt.TextInteractionFlag.LinksAccessibleByMouse
            )
        self._fill(widget, block)
        return widget

    @staticmethod
    def _fill(widget: QWidget, block: Block) -> None:
        if isinstance(widget, CodeBlock):
            widget.set_code(block.code, block.language, block.html)
        else:
            widget.setText(block.html)


def _fits(widget: QWidget, block: Block) -> bool:
    return isinstance(widget, CodeBlock) == (block.kind == "code")
