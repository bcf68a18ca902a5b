"""A light and a dark look that follow the system, from one stylesheet template.

``STORYREEL_THEME=dark`` (or ``light``) overrides the system's choice.
``resources/qss/storyreel.qss`` names its colours (``@accent``, ``@muted``…);
``apply`` fills them in from the palette matching the system's colour scheme
and sets the same colours on the Fusion style's palette, so that painted
widgets (the gallery's cards) and styled ones agree.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

LIGHT = {
    "window": "#f5f6f8", "base": "#ffffff", "alt": "#eef0f3", "sidebar": "#eceef2",
    "text": "#1d2129", "muted": "#6b7280", "border": "#d9dce2", "scroll": "#c4c8cf",
    "accent": "#3b6fd8", "accent_hover": "#2f5fc4", "accent_soft": "#e8effc",
    "danger": "#c93c3c", "ok": "#2e8b57",
    "error_bg": "#fdecec", "error_border": "#f1b8b8", "warn_bg": "#fdf4e3",
    "warn_border": "#ecd19a", "info_bg": "#e9f0fd", "info_border": "#b9cdf3",
}
DARK = {
    "window": "#1c1e23", "base": "#25282e", "alt": "#2e3138", "sidebar": "#191b1f",
    "text": "#e4e6ea", "muted": "#9aa1ac", "border": "#393d45", "scroll": "#4a4f58",
    "accent": "#5b8cff", "accent_hover": "#4a7bef", "accent_soft": "#233252",
    "danger": "#ff6b6b", "ok": "#5ccf8a",
    "error_bg": "#3a2326", "error_border": "#6b3a3f", "warn_bg": "#3a3122",
    "warn_border": "#6b5733", "info_bg": "#22304a", "info_border": "#3a5283",
}


def resources_dir() -> Path:
    """``resources/`` beside the app, or inside a PyInstaller bundle."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def read_template() -> str:
    """The stylesheet template (file I/O: call it from a worker thread)."""
    path = resources_dir() / "qss" / "storyreel.qss"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""  # the app still works with the plain Fusion look


def render(template: str, colors: dict[str, str]) -> str:
    names = sorted(colors, key=len, reverse=True)  # @accent_hover before @accent
    pattern = re.compile("@(" + "|".join(map(re.escape, names)) + r")\b")
    return pattern.sub(lambda m: colors[m.group(1)], template)


def is_dark(app: QGuiApplication) -> bool:
    """The system's choice, unless ``STORYREEL_THEME`` says ``dark`` or ``light``."""
    forced = os.environ.get("STORYREEL_THEME", "").strip().lower()
    if forced in ("dark", "light"):
        return forced == "dark"
    return app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def palette(colors: dict[str, str]) -> QPalette:
    p = QPalette()
    role = QPalette.ColorRole
    for r, name in ((role.Window, "window"), (role.Base, "base"), (role.AlternateBase, "alt"),
                    (role.Text, "text"), (role.WindowText, "text"), (role.ButtonText, "text"),
                    (role.Button, "base"), (role.Mid, "muted"), (role.Midlight, "border"),
                    (role.Highlight, "accent"), (role.PlaceholderText, "muted"),
                    (role.ToolTipBase, "base"), (role.ToolTipText, "text"),
                    (role.Link, "accent"), (role.Light, "border"), (role.Dark, "border"),
                    (role.Shadow, "border")):
        p.setColor(r, QColor(colors[name]))
    p.setColor(role.HighlightedText, QColor("white"))
    return p


def apply(app: QApplication, template: str) -> None:
    colors = DARK if is_dark(app) else LIGHT
    app.setStyle("Fusion")
    app.setPalette(palette(colors))
    names = {**colors, "icons": (resources_dir() / "icons").as_posix()}
    app.setStyleSheet(render(template, names) if template else "")


def follow_system(app: QApplication, template: str) -> None:
    """Apply the look now and again whenever the system switches light/dark."""
    apply(app, template)
    app.styleHints().colorSchemeChanged.connect(lambda _scheme: apply(app, template))
