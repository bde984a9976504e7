"""Small widgets the panels share."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QComboBox, QLabel, QWidget

__all__ = ["ElidedLabel", "fill_choices"]


class ElidedLabel(QLabel):
    """One line of text that shortens with "…" instead of widening the window.

    ``text()`` keeps the whole text (the tooltip shows it too); only the painting is cut.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)  # QLabel's constructor bypasses the setText below
        self.setToolTip(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        super().setText(text)
        self.setToolTip(text)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(self.fontMetrics().horizontalAdvance("…") * 4, super().minimumSizeHint()
                     .height())

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        shown = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight,
                                              self.contentsRect().width())
        painter.drawText(self.contentsRect(), int(self.alignment()), shown)


def fill_choices(combo: QComboBox, names: list[str], current: str, default_label: str) -> None:
    """``combo`` offers ``default_label`` (data ``''``) and ``names``, with ``current``
    selected; a ``current`` no longer listed stays, marked "(missing)", so it is not lost."""
    combo.clear()
    combo.addItem(default_label, "")
    for name in names:
        combo.addItem(name, name)
    if current and combo.findData(current) < 0:
        combo.addItem(f"{current} (missing)", current)
    combo.setCurrentIndex(max(0, combo.findData(current)))
