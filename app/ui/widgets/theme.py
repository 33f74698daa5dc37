"""Light and dark appearance derived from the system palette, so the window follows macOS's setting.

`style_sheet(palette)` returns the app's style sheet with colours computed from the palette's
window, text and highlight colours; the main window re-applies it when the palette changes.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def _rgba(color: QColor, alpha: float) -> str:
    return f"rgba({color.red()}, {color.green()}, {color.blue()}, {alpha:.2f})"


def style_sheet(palette: QPalette) -> str:
    dark = is_dark(palette)
    window = palette.color(QPalette.ColorRole.Window)
    text = palette.color(QPalette.ColorRole.WindowText)
    accent = palette.color(QPalette.ColorRole.Highlight)
    if not accent.isValid() or accent.saturation() < 40:
        accent = QColor("#0a84ff" if dark else "#007aff")  # macOS system blue
    sidebar = window.darker(125) if dark else QColor("#eeeef0")
    chat_bg = QColor("#1e1e1e") if dark else QColor("#ffffff")
    code_bg = QColor("#2a2a2c") if dark else QColor("#f5f5f7")
    border = _rgba(text, 0.12)
    muted = _rgba(text, 0.55)
    return f"""
    #Sidebar {{ background: {sidebar.name()}; border: none; }}
    #Sidebar QLineEdit {{ border: 1px solid {border}; border-radius: 7px; padding: 5px 8px;
                          background: {_rgba(text, 0.05)}; }}
    #ConversationList {{ background: transparent; border: none; outline: none; }}
    #ConversationList::item {{ padding: 7px 10px; border-radius: 7px; margin: 1px 6px; }}
    #ConversationList::item:selected {{ background: {_rgba(accent, 0.22 if dark else 0.16)};
                                        color: {text.name()}; }}
    #NewChatButton {{ border: 1px solid {border}; border-radius: 7px; padding: 5px 10px; }}
    #ChatArea, #ChatScroll, #ChatContainer {{ background: {chat_bg.name()}; border: none; }}
    #EmptyState {{ color: {muted}; font-size: 15px; }}
    #GetModelButton {{ background: {accent.name()}; color: white; border: none; border-radius: 7px;
                       padding: 6px 14px; font-weight: bold; }}
    #NoticeBanner {{ background: {_rgba(QColor("#ff9f0a"), 0.16)}; border: none;
                     border-bottom: 1px solid {_rgba(QColor("#ff9f0a"), 0.5)}; }}
    #NoticeTitle {{ font-weight: bold; }}
    #UserBubble {{ background: {_rgba(accent, 0.85)}; border-radius: 16px; }}
    #UserBubble QLabel {{ color: white; }}
    #MessageMeta {{ color: {muted}; font-size: 11px; }}
    #MessageActions QPushButton {{ border: none; color: {muted}; padding: 2px 6px; font-size: 12px; }}
    #MessageActions QPushButton:hover {{ color: {accent.name()}; }}
    #CodeBlock {{ background: {code_bg.name()}; border: 1px solid {border}; border-radius: 8px; }}
    #CodeLanguage {{ color: {muted}; font-size: 11px; }}
    #CodeCopy {{ border: none; color: {muted}; font-size: 11px; padding: 2px 6px; }}
    #CodeCopy:hover {{ color: {accent.name()}; }}
    #ToolCallCard {{ background: {code_bg.name()}; border: 1px solid {_rgba(accent, 0.45)};
                     border-radius: 8px; }}
    #ThinkingToggle {{ color: {muted}; border: none; }}
    #ThinkingBody {{ color: {muted}; border-left: 2px solid {border}; padding-left: 10px; }}
    #ErrorLabel {{ color: #d70015; }}
    #Composer {{ background: {chat_bg.name()}; }}
    #ComposerFrame {{ border: 1px solid {border}; border-radius: 14px;
                      background: {(_rgba(text, 0.05)) if dark else '#ffffff'}; }}
    #PromptEdit {{ border: none; background: transparent; font-size: 14px; }}
    #ComposerFrame QToolButton {{ border: none; border-radius: 14px; padding: 4px; }}
    #ComposerFrame QToolButton:hover {{ background: {_rgba(text, 0.08)}; }}
    #SendButton {{ background: {accent.name()}; color: white; border-radius: 14px;
                   min-width: 28px; min-height: 28px; font-weight: bold; }}
    #SendButton:disabled {{ background: {_rgba(text, 0.15)}; }}
    #AttachmentChip {{ border: 1px solid {border}; border-radius: 8px;
                       background: {_rgba(text, 0.04)}; }}
    #EditBanner {{ color: {accent.name()}; font-size: 12px; }}
    #RandomWeightsBadge {{ background: #ff9f0a; color: black; border-radius: 6px;
                           padding: 1px 7px; font-size: 11px; font-weight: bold; }}
    QStatusBar QLabel {{ color: {muted}; font-size: 11px; }}
    """
