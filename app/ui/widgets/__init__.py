"""Widgets and looks shared by every mode: icons, theme, Markdown rendering, code blocks."""
