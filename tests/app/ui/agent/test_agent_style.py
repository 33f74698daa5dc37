"""The agent view's look follows the palette like the rest of the window."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette

from app.ui.agent.style import agent_style_sheet


def test_the_agent_style_follows_light_and_dark():
    light, dark = QPalette(), QPalette()
    light.setColor(QPalette.ColorRole.Window, QColor("#ececec"))
    dark.setColor(QPalette.ColorRole.Window, QColor("#242424"))
    dark.setColor(QPalette.ColorRole.WindowText, QColor("#eeeeee"))
    light_sheet, dark_sheet = agent_style_sheet(light), agent_style_sheet(dark)
    assert light_sheet != dark_sheet
    assert "#1e1e1e" in dark_sheet and "#1e1e1e" not in light_sheet
    assert "255, 159, 10" in light_sheet and "255, 159, 10" in dark_sheet  # amber: waiting for you
