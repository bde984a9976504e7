"""Every synth parameter as a bar, in native units; the model's own set is editable.

One widget paints all the bars (a drag repaints one widget, not seventy), so the panel keeps up
with the cursor. The model's parameters come first and can be dragged; the others (effects and
the like, kept from an imported preset or at their defaults) are shown greyed.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QEvent, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QHelpEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
)
from PySide6.QtWidgets import QScrollArea, QToolTip, QVBoxLayout, QWidget

from flowsynth_gui.gui.state import ModelInfo, ParamInfo, SoundState
from flowsynth_gui.gui.widgets import ElidedLabel

__all__ = ["ParamBars", "ParamsPanel"]

ROW = 17
NAME_WIDTH = 132
WIDEST_VALUE = "note 127.0 · 12.54 kHz"  # the value column fits this (a cutoff at the top)
MIN_BAR = 40
_ACTIVE = QColor("#2f81b7")
_ACTIVE_DRAG = QColor("#4fc3f7")
_PASSIVE = QColor("#4b5160")
_TRACK = QColor("#23262d")
_HEADER = QColor("#8b95a5")


class ParamBars(QWidget):
    """The bars; drag an active bar to set its value."""

    edited = Signal(str, float, bool)  # name, normalised value, final (mouse released)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[ParamInfo | str] = []  # a str is a section header
        self.active: set[str] = set()
        self.values: dict[str, float] = {}
        self._editing: str | None = None
        self.setMouseTracking(False)
        self._small_font = QFont(self.font())
        self._small_font.setPointSizeF(max(7.0, self._small_font.pointSizeF() - 1))
        self.value_width = QFontMetrics(self._small_font).horizontalAdvance(WIDEST_VALUE) + 8
        self.setMinimumWidth(NAME_WIDTH + MIN_BAR + self.value_width + 8)

    def set_model(self, info: ModelInfo) -> None:
        by_name = {p.name: p for p in info.params}
        self.active = set(info.active)
        others = [p for p in info.params if p.name not in self.active]
        self.rows = [f"Explored by the model ({len(info.active)})",
                     *[by_name[n] for n in sorted(info.active, key=_spec_order(info))],
                     f"Other parameters ({len(others)}, kept as they are)", *others]
        self.values = {p.name: p.default for p in info.params}
        self.setFixedHeight(ROW * len(self.rows) + 4)
        self.update()

    def set_values(self, values: Mapping[str, float]) -> None:
        defaults = {row.name: row.default for row in self.rows if isinstance(row, ParamInfo)}
        defaults.update(values)
        self.values = defaults
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(NAME_WIDTH + self.value_width + 160, ROW * max(1, len(self.rows)))

    def row_rect(self, name: str) -> QRectF:
        """The bar of parameter ``name`` (widget coordinates; tests aim at it)."""
        for i, row in enumerate(self.rows):
            if isinstance(row, ParamInfo) and row.name == name:
                return QRectF(NAME_WIDTH, i * ROW + 3, self._bar_width(), ROW - 5)
        raise KeyError(name)

    def _bar_width(self) -> float:
        return max(float(MIN_BAR), self.width() - NAME_WIDTH - self.value_width - 8)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setFont(self._small_font)
        text_colour = self.palette().text().color()
        top, bottom = event.rect().top(), event.rect().bottom()
        for i, row in enumerate(self.rows):
            y = i * ROW
            if y + ROW < top or y > bottom:
                continue
            if isinstance(row, str):
                painter.setPen(_HEADER)
                painter.drawText(QRectF(2, y, self.width(), ROW),
                                 Qt.AlignmentFlag.AlignVCenter, row)
                continue
            self._paint_row(painter, row, y, text_colour)
        painter.end()

    def _paint_row(self, painter: QPainter, row: ParamInfo, y: int, text: QColor) -> None:
        value = self.values.get(row.name, row.default)
        active = row.name in self.active
        painter.setPen(text if active else _HEADER)
        painter.drawText(QRectF(4, y, NAME_WIDTH - 8, ROW),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, row.name)
        bar = QRectF(NAME_WIDTH, y + 3, self._bar_width(), ROW - 6)
        painter.fillRect(bar, _TRACK)
        fill = QRectF(bar.left(), bar.top(), bar.width() * value, bar.height())
        colour = _ACTIVE_DRAG if row.name == self._editing else _ACTIVE if active else _PASSIVE
        painter.fillRect(fill, colour)
        painter.setPen(text if active else _HEADER)
        painter.drawText(QRectF(bar.right() + 6, y, self.value_width, ROW),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                         row.format(value))

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            text = self.tooltip_at(event.pos().y())
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
            return True
        return super().event(event)

    def tooltip_at(self, y: float) -> str:
        """What the row under ``y`` does and how its value reads (Diva's knobs have no unit)."""
        index = int(y // ROW)
        row = self.rows[index] if 0 <= index < len(self.rows) else None
        if not isinstance(row, ParamInfo):
            return ""
        how = "drag to set it" if row.name in self.active else \
            "not in the model's set: kept as it is"
        lines = [f"<b>{row.name}</b>: {row.format(self.values.get(row.name, row.default))} "
                 f"({how})"]
        if row.meaning:
            lines.append(row.meaning.replace("->", "→"))
        return "<br>".join(lines)

    # --- editing ------------------------------------------------------------------------------

    def _row_at(self, y: float) -> ParamInfo | None:
        index = int(y // ROW)
        if 0 <= index < len(self.rows):
            row = self.rows[index]
            if isinstance(row, ParamInfo) and row.name in self.active:
                return row
        return None

    def _value_at(self, x: float) -> float:
        return min(1.0, max(0.0, (x - NAME_WIDTH) / self._bar_width()))

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        row = self._row_at(event.position().y())
        if event.button() != Qt.MouseButton.LeftButton or row is None \
                or event.position().x() < NAME_WIDTH:
            super().mousePressEvent(event)
            return
        self._editing = row.name
        self._edit(event.position().x(), final=False)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if self._editing is not None:
            self._edit(event.position().x(), final=False)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if self._editing is not None:
            self._edit(event.position().x(), final=True)
            self._editing = None
            self.update()

    def _edit(self, x: float, final: bool) -> None:
        name = self._editing
        value = self._value_at(x)
        self.values[name] = value
        self.update()
        self.edited.emit(name, value, final)


def _spec_order(info: ModelInfo):  # noqa: ANN202 - a sort key
    order = {p.name: i for i, p in enumerate(info.params)}
    return lambda name: order.get(name, len(order))


class ParamsPanel(QWidget):
    """The bars in a scroll area, with the current preset's name above them."""

    param_edited = Signal(str, float, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = ElidedLabel("Parameters")
        self.title.setStyleSheet("font-weight: bold;")
        self.bars = ParamBars()
        self.bars.edited.connect(self.param_edited)
        scroll = QScrollArea()
        scroll.setWidget(self.bars)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll = scroll
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(scroll, 1)
        self.updates = 0  # values shown so far (benchmarks read it)

    def show_model(self, info: ModelInfo) -> None:
        self.bars.set_model(info)

    def show_state(self, state: SoundState) -> None:
        self.title.setText(f"Parameters — {state.name}")
        if self.bars._editing is None:  # noqa: SLF001 - the panel owns its bars
            self.bars.set_values(state.values)
        self.updates += 1
