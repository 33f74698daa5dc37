"""The coding agent view's appearance, from the same palette as the rest of the window.

`agent_style_sheet(palette)` is set on the agent view itself (it only names the view's own object
names), and re-applied when macOS switches between light and dark.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette

from app.ui.widgets.theme import is_dark


def _rgba(color: QColor, alpha: float) -> str:
    return f"rgba({color.red()}, {color.green()}, {color.blue()}, {alpha:.2f})"


def agent_style_sheet(palette: QPalette) -> str:
    dark = is_dark(palette)
    text = palette.color(QPalette.ColorRole.WindowText)
    accent = palette.color(QPalette.ColorRole.Highlight)
    if not accent.isValid() or accent.saturation() < 40:
        accent = QColor("#0a84ff" if dark else "#007aff")
    page = QColor("#1e1e1e") if dark else QColor("#ffffff")
    card = QColor("#262628") if dark else QColor("#fbfbfd")
    bar = QColor("#252527") if dark else QColor("#f6f6f8")
    terminal = QColor("#141416") if dark else QColor("#1d1f21")
    amber = QColor("#ff9f0a")  # macOS system orange, for "waiting for you"
    border = _rgba(text, 0.12)
    muted = _rgba(text, 0.55)
    green, orange, red = (
        ("#30d158", "#ff9f0a", "#ff453a") if dark else ("#248a3d", "#c93400", "#d70015")
    )
    return f"""
    #AgentArea, #AgentScroll, #AgentColumn {{ background: {page.name()}; border: none; }}
    #AgentHeader {{ background: {bar.name()}; border-bottom: 1px solid {border}; }}
    #WorkspaceIcon {{ color: {accent.name()}; font-size: 15px; }}
    #WorkspaceName {{ font-weight: 600; font-size: 13px; }}
    #WorkspacePath {{ color: {muted}; font-size: 11px; }}
    #AgentHeader QPushButton, #AgentHeader QToolButton {{
        border: 1px solid {border}; border-radius: 6px; padding: 3px 10px; background: {page.name()}; }}
    #AgentHeader QPushButton:hover, #AgentHeader QToolButton:hover {{ background: {_rgba(text, 0.06)}; }}
    #AgentHeader QToolButton::menu-indicator {{ image: none; width: 0; }}
    #AgentHeader QPushButton:disabled, #AgentHeader QToolButton:disabled {{ color: {muted}; }}
    #RunState {{ border-radius: 9px; padding: 1px 9px; font-size: 11px; font-weight: 600;
                 background: {_rgba(text, 0.08)}; color: {muted}; }}
    #RunState[state="running"] {{ background: {_rgba(accent, 0.16)}; color: {accent.name()}; }}
    #RunState[state="waiting"] {{ background: {_rgba(amber, 0.22)}; color: {orange}; }}
    #LimitsLabel {{ color: {muted}; font-size: 11px; }}
    #StopButton {{ color: {red}; }}
    #EmptyAgent {{ color: {muted}; font-size: 14px; }}
    #AgentTask {{ background: {_rgba(accent, 0.10)}; border: 1px solid {_rgba(accent, 0.25)};
                  border-radius: 12px; }}
    #AgentTaskTitle {{ color: {accent.name()}; font-size: 11px; font-weight: 600; }}
    #StepTitle {{ color: {muted}; font-size: 11px; font-weight: 700; letter-spacing: 0.5px; }}
    #StepStatus {{ color: {muted}; font-size: 11px; font-style: italic; }}
    #StepCheckpoint {{ color: {muted}; font-size: 10px; }}
    #AgentCall {{ background: {card.name()}; border: 1px solid {border}; border-radius: 9px; }}
    #CallTitle {{ font-size: 12px; font-weight: 600; }}
    #WorkspaceIcon {{ padding: 0; }}
    #CallCaption {{ color: {muted}; font-size: 11px; }}
    #CallState {{ color: {muted}; font-weight: 700; }}
    #CallState[state="ok"] {{ color: {green}; }}
    #CallState[state="failed"] {{ color: {red}; }}
    #CallState[state="waiting"] {{ color: {orange}; }}
    #CallState[state="hint"] {{ color: {orange}; }}
    #CallNote {{ font-size: 11px; color: {muted}; }}
    #CallNote[tone="hint"] {{ font-style: italic; }}
    #CallNote[tone="warning"], #ApprovalNote, #FinishNote {{ color: {orange}; font-size: 11px; }}
    #CallError {{ color: {red}; font-size: 12px; }}
    #CallResult {{ color: {muted}; }}
    #ResultToggle {{ border: none; color: {muted}; font-size: 11px; }}
    #DiffView {{ border: 1px solid {border}; border-radius: 6px; background: {page.name()}; }}
    #CommandOutput {{ background: {terminal.name()}; color: #e6e6e6; border-radius: 6px; }}
    #ApprovalBar {{ background: {_rgba(amber, 0.12)}; border: 1px solid {_rgba(amber, 0.55)};
                    border-radius: 8px; }}
    #ApprovalBar[answered="true"] {{ background: transparent; border: none; }}
    #ApprovalQuestion {{ font-weight: 600; }}
    #ApprovalBar QLineEdit {{ border: 1px solid {border}; border-radius: 6px; padding: 3px 6px;
                              background: {page.name()}; }}
    #ApprovalBar QPushButton {{ border: 1px solid {border}; border-radius: 6px; padding: 4px 12px;
                                background: {page.name()}; }}
    #ApprovalBar #ApproveButton {{ background: {accent.name()}; color: white; border: none; }}
    #ApprovalBar #DenyButton {{ color: {red}; }}
    #ApprovalVerdict {{ font-size: 11px; color: {muted}; }}
    #ApprovalVerdict[state="ok"] {{ color: {green}; }}
    #ApprovalVerdict[state="denied"] {{ color: {red}; }}
    #AgentNote {{ color: {muted}; font-size: 11px; font-style: italic; }}
    #FinishBanner {{ border-radius: 10px; border: 1px solid {border}; background: {_rgba(text, 0.04)}; }}
    #FinishBanner[tone="done"] {{ background: {_rgba(QColor(green), 0.10)};
                                  border-color: {_rgba(QColor(green), 0.40)}; }}
    #FinishBanner[tone="limit"] {{ background: {_rgba(amber, 0.12)};
                                   border-color: {_rgba(amber, 0.55)}; }}
    #FinishBanner[tone="error"] {{ background: {_rgba(QColor(red), 0.08)};
                                   border-color: {_rgba(QColor(red), 0.40)}; }}
    #FinishTitle {{ font-weight: 700; font-size: 13px; }}
    #FinishDetail {{ color: {muted}; font-size: 12px; }}
    """
