"""Dark and light looks: a Fusion palette, a small style sheet and the plot colours.

Plots keep a dark background in both themes: spectrograms and the map read best on dark.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

__all__ = ["ACCENT", "PLOT_BACKGROUND", "PLOT_FOREGROUND", "TAG_COLOURS", "apply_theme"]

ACCENT = "#4fc3f7"
PLOT_BACKGROUND = "#15171c"
PLOT_FOREGROUND = "#aab2bf"
# Map colours of a tag pair's labels: negative tag, untagged, positive tag.
TAG_COLOURS = {-1: "#4aa3ff", 0: "#6b7280", 1: "#ffa94d"}

_DARK = {
    QPalette.ColorRole.Window: "#1e2127",
    QPalette.ColorRole.WindowText: "#dfe3ea",
    QPalette.ColorRole.Base: "#16181d",
    QPalette.ColorRole.AlternateBase: "#22252c",
    QPalette.ColorRole.ToolTipBase: "#2a2e36",
    QPalette.ColorRole.ToolTipText: "#e6e9ef",
    QPalette.ColorRole.Text: "#dfe3ea",
    QPalette.ColorRole.Button: "#2a2e36",
    QPalette.ColorRole.ButtonText: "#dfe3ea",
    QPalette.ColorRole.BrightText: "#ff6b6b",
    QPalette.ColorRole.Highlight: "#2f81b7",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: ACCENT,
    QPalette.ColorRole.PlaceholderText: "#7b8494",
}

_STYLE = """
QGroupBox { font-weight: bold; border: 1px solid palette(mid); border-radius: 6px;
            margin-top: 10px; padding-top: 6px; }
QGroupBox::title { subcontrol-origin: margin; left: 8px; padding: 0 4px; }
QToolBar { spacing: 4px; padding: 3px; }
QTabWidget::pane { border: 1px solid palette(mid); border-radius: 4px; }
QProgressBar { border: 1px solid palette(mid); border-radius: 3px; text-align: center;
               max-height: 14px; }
QProgressBar::chunk { background: #2f81b7; border-radius: 2px; }
QStatusBar QLabel { padding: 0 6px; }
"""

# Fusion draws check boxes in the window colour darkened: invisible on a dark window, so an
# unticked favourite box could not be found. Drawn here instead: a light outline, ticked filled.
_DARK_INDICATORS = """
QCheckBox::indicator, QAbstractItemView::indicator {
    width: 11px; height: 11px; border: 1px solid #8b95a5; border-radius: 2px;
    background: #16181d; }
QCheckBox::indicator:checked, QAbstractItemView::indicator:checked {
    background: #4fc3f7; border-color: #4fc3f7; }
QCheckBox::indicator:disabled { border-color: #4b5160; }
"""


def apply_theme(app: QApplication, theme: str = "dark") -> None:
    """Fusion style with the dark palette, or Fusion's own light one."""
    app.setStyle("Fusion")
    palette = app.style().standardPalette()
    if theme == "dark":
        for role, colour in _DARK.items():
            palette.setColor(role, QColor(colour))
        for role in (QPalette.ColorRole.ButtonText, QPalette.ColorRole.Text,
                     QPalette.ColorRole.WindowText):
            palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b7280"))
        palette.setColor(QPalette.ColorRole.Mid, QColor("#3a3f4a"))
    app.setPalette(palette)
    app.setStyleSheet(_STYLE + (_DARK_INDICATORS if theme == "dark" else ""))
