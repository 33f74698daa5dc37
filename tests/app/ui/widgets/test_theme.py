"""Light and dark: the style sheet follows the system palette and its accent colour."""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette

from app.ui.widgets.theme import is_dark, style_sheet


def palette(window: str, text: str, accent: str) -> QPalette:
    p = QPalette()
    p.setColor(QPalette.ColorRole.Window, QColor(window))
    p.setColor(QPalette.ColorRole.WindowText, QColor(text))
    p.setColor(QPalette.ColorRole.Highlight, QColor(accent))
    return p


def test_dark_and_light_palettes_give_their_own_backgrounds():
    light, dark = palette("#ececec", "#1d1d1f", "#bf5af2"), palette("#242424", "#eeeeee", "#bf5af2")
    assert not is_dark(light) and is_dark(dark)
    assert "#ffffff" in style_sheet(light) and "#1e1e1e" not in style_sheet(light)
    assert "#1e1e1e" in style_sheet(dark)


def test_the_accent_is_the_systems_unless_it_is_grey():
    purple = style_sheet(palette("#ececec", "#1d1d1f", "#bf5af2"))
    grey = style_sheet(palette("#ececec", "#1d1d1f", "#808080"))
    assert "191, 90, 242" in purple  # the person's accent colour, translucent
    assert "0, 122, 255" in grey and "128, 128, 128, 0." not in grey  # macOS blue instead
