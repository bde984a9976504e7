"""A strip at the top of the window that shows what went wrong (or right), until dismissed.

Errors and warnings stay until closed; information fades after a few seconds. Every message is
also kept in :attr:`MessageBar.messages` (and the session logs it).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

__all__ = ["MessageBar"]

_COLOURS = {"error": ("#5c1f24", "#ffb3b8"), "warning": ("#4d3b12", "#ffe08a"),
            "info": ("#1d3b4f", "#bfe6ff")}
INFO_MS = 6000


class MessageBar(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.messages: list[tuple[str, str]] = []
        self.text = QLabel()
        self.text.setWordWrap(True)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 6, 4)
        layout.addWidget(self.text, 1)
        layout.addWidget(close)
        # A plain QWidget subclass paints no style-sheet background without this attribute:
        # the level's colour would never show, and errors would look like information.
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self._fade = QTimer(self)
        self._fade.setSingleShot(True)
        self._fade.timeout.connect(self.hide)
        self.hide()

    def show_message(self, level: str, text: str) -> None:
        self.messages.append((level, text))
        background, foreground = _COLOURS.get(level, _COLOURS["info"])
        self.setStyleSheet(f"MessageBar {{ background: {background}; }} "
                           f"QLabel {{ color: {foreground}; }}")
        self.text.setText(text)
        self.setToolTip("\n".join(t for _, t in self.messages[-10:]))
        self.show()
        if level == "info":
            self._fade.start(INFO_MS)
        else:
            self._fade.stop()

    def dismiss_if_starts(self, prefix: str) -> None:
        """Close the bar if what it shows begins with ``prefix`` (a problem since solved)."""
        if self.isVisible() and self.text.text().startswith(prefix):
            self.hide()

    @property
    def last(self) -> tuple[str, str] | None:
        return self.messages[-1] if self.messages else None
