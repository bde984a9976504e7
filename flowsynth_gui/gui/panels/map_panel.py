"""The latent map: every preset as a point coloured by a tag pair, and the cursor.

Mouse: hover a point to see its name and tags; click it to load it; drag the cursor (the ring)
to move through the latent space — or Shift+drag anywhere, or double-click empty space to jump.
Dragging elsewhere pans, the wheel zooms, "Fit" shows everything. The axis choosers pick two
latent dimensions (the semantic ones are named) or the points' principal components.

The panel only emits intent (``cursor_dragged``, ``point_clicked``...); it draws what the
session reports.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from flowsynth_gui.gui.state import MapOverlays, MapSnapshot, ModelInfo, SoundState
from flowsynth_gui.gui.theme import PLOT_BACKGROUND, PLOT_FOREGROUND, TAG_COLOURS
from flowsynth_gui.gui.widgets import ElidedLabel

__all__ = ["MapPanel"]

PICK_PIXELS = 10.0  # how close (screen pixels) a click or hover must be to a point
CURSOR_PIXELS = 16.0
_SOURCE_SYMBOLS = {"sketch": "o", "dataset": "o", "library": "star"}  # imported .h2p: "d"
SYMBOL_LEGEND = ("Shape: ● model sketch  ★ library  ◆ imported Diva preset   "
                 "Marks: ☆ match  ▲ candidates  ○ variations  ◎ cursor")
HOVER_HINT = "Hover a point to see it; click to load; drag the ring (or Shift+drag) to explore"
BULK_SOURCES = ("sketch", "dataset")  # the model's own sounds; the rest are the user's
_SOURCE_SIZES = {"sketch": 7, "dataset": 7, "library": 16}  # imported .h2p: 14


class _MapViewBox(pg.ViewBox):
    """Left-drag from the cursor (or with Shift) moves the cursor; otherwise pans."""

    def __init__(self, panel: MapPanel) -> None:
        super().__init__()
        self._panel = panel
        self._dragging = False

    @property
    def dragging(self) -> bool:
        """Whether the user's hand is on the cursor (the view must not move under it)."""
        return self._dragging

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 - Qt's name
        if ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        if ev.isStart():
            shift = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self._dragging = shift or self._panel.near_cursor(ev.buttonDownScenePos())
        if not self._dragging:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        point = self.mapSceneToView(ev.scenePos())
        self._panel.drag_cursor(point.x(), point.y())
        if ev.isFinish():
            self._dragging = False
            self._panel.finish_drag()

    def mouseClickEvent(self, ev):  # noqa: N802 - Qt's name
        if ev.button() != Qt.MouseButton.LeftButton:
            super().mouseClickEvent(ev)
            return
        ev.accept()
        self._panel.click(ev.scenePos(), ev.double())


class MapPanel(QWidget):
    """The map of presets and the cursor."""

    cursor_dragged = Signal(float, float)
    drag_finished = Signal()
    point_clicked = Signal(int, str)  # index, name
    point_hovered = Signal(int)  # -1: none
    axes_chosen = Signal(str)  # 'pca' or 'i,j'
    colour_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.snapshot: MapSnapshot | None = None
        self.cursor_position = (0.0, 0.0)
        self._colour_by = 0
        self._brushes = {k: pg.mkBrush(QColor(v)) for k, v in TAG_COLOURS.items()}
        self._sketch_pen = pg.mkPen("#0b0c10", width=0.6)
        self._user_pen = pg.mkPen("#ffffff", width=1.6)
        self._build()

    # --- construction -----------------------------------------------------------------------

    def _build(self) -> None:
        self.x_axis, self.y_axis = QComboBox(), QComboBox()
        self.colour_by = QComboBox()
        for combo in (self.x_axis, self.y_axis, self.colour_by):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        # The legend has two lines of its own under the choosers (in the choosers' row it was
        # squeezed to nothing); a fixed height, so that a new text never moves the plot.
        self.legend = QLabel("<br>")
        self.legend.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.legend.setFixedHeight(self.legend.sizeHint().height())
        fit = QPushButton("Fit")
        fit.setToolTip("Show every point")
        fit.clicked.connect(self.fit)
        bar = QHBoxLayout()
        for widget in (QLabel("X"), self.x_axis, QLabel("Y"), self.y_axis,
                       QLabel("Colour"), self.colour_by):
            bar.addWidget(widget)
        bar.addStretch(1)
        bar.addWidget(fit)
        self.view_box = _MapViewBox(self)
        self.plot = pg.PlotWidget(viewBox=self.view_box, background=PLOT_BACKGROUND)
        self.plot.showGrid(x=True, y=True, alpha=0.12)
        for side in ("left", "bottom"):
            self.plot.getAxis(side).setTextPen(PLOT_FOREGROUND)
            self.plot.getAxis(side).setPen(PLOT_FOREGROUND)
        self.points = pg.ScatterPlotItem(pen=pg.mkPen("#0b0c10", width=0.6))
        self.path = pg.PlotDataItem(pen=pg.mkPen("#b39ddb", width=2, style=Qt.PenStyle.DashLine))
        self.neighbours = pg.ScatterPlotItem(symbol="o", size=12, brush=None,
                                             pen=pg.mkPen("#f06292", width=2))
        self.candidates = pg.ScatterPlotItem(symbol="t", size=13, brush=pg.mkBrush("#4dd0e1"),
                                             pen=pg.mkPen("#0b0c10"))
        self.match = pg.ScatterPlotItem(symbol="star", size=22, brush=pg.mkBrush("#ffd54f"),
                                        pen=pg.mkPen("#0b0c10"))
        self.cursor = pg.TargetItem(pos=(0, 0), size=18, movable=False,
                                    pen=pg.mkPen("#ffffff", width=2))
        for item in (self.points, self.path, self.neighbours, self.candidates, self.match,
                     self.cursor):
            self.plot.addItem(item)
        self.hover_label = ElidedLabel(HOVER_HINT)  # its text never resizes the plot
        self.hover_label.setStyleSheet("color: #9aa4b2;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.legend)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.hover_label)
        self.plot.scene().sigMouseMoved.connect(self._hover)
        self.plot.viewport().installEventFilter(self)  # the mouse leaving ends the hover
        self.points.sigClicked.connect(self._points_clicked)
        self.x_axis.activated.connect(self._axes_picked)
        self.y_axis.activated.connect(self._axes_picked)
        self.colour_by.activated.connect(self._colour_picked)

    # --- what the session reports -------------------------------------------------------

    def show_model(self, info: ModelInfo) -> None:
        """Fill the axis choosers for this model's latent space."""
        named = {s.dim: s.label for s in info.sliders}
        dims = [f"z{d}" + (f"  {named[d]}" if d in named else "") for d in range(info.latent_dim)]
        for combo in (self.x_axis, self.y_axis):
            combo.clear()
            combo.addItem("PCA", "pca")
            for d, text in enumerate(dims):
                combo.addItem(text, d)
        self.colour_by.clear()
        for i, (negative, positive) in enumerate(info.tag_pairs):
            self.colour_by.addItem(f"{negative} ↔ {positive}", i)
        self.colour_by.addItem("Source", -1)
        # The legend beside it gives way first: "Dark ↔ B…" could not be read.
        self.colour_by.setMinimumWidth(self.colour_by.sizeHint().width())
        self.colour_by.setCurrentIndex(min(self._colour_by, self.colour_by.count() - 1)
                                       if self._colour_by >= 0 else self.colour_by.count() - 1)

    def set_colour_by(self, pair: int) -> None:
        self._colour_by = pair
        index = self.colour_by.findData(pair)
        if index >= 0:
            self.colour_by.setCurrentIndex(index)
        self._draw_points()

    def show_map(self, snapshot: MapSnapshot) -> None:
        before = self.snapshot
        self.snapshot = snapshot
        self._show_axes(snapshot.axes_key)
        self.plot.setLabel("bottom", snapshot.axes[0])
        self.plot.setLabel("left", snapshot.axes[1])
        self._draw_points()
        # Refit on the first map, new axes, or presets of the user's that were not there
        # before (an import, a library save): they must be seen where they landed.
        if len(snapshot) and (before is None or len(before) == 0
                              or before.axes_key != snapshot.axes_key
                              or _user_names(snapshot) - _user_names(before)):
            self.fit()

    def show_state(self, state: SoundState) -> None:
        self.cursor_position = state.position
        self.cursor.setPos(state.position)
        if not self.view_box.dragging:
            self._keep_in_view(np.array([state.position]))

    def _keep_in_view(self, positions: np.ndarray) -> None:
        """Pan (never zoom) so that these points stay visible: the cursor when a knob or a
        preset moves it, new refinement candidates or variations when they appear."""
        (x0, x1), (y0, y1) = self.view_box.viewRange()
        low, high = positions.min(axis=0), positions.max(axis=0)
        shift = []
        for (v0, v1), lo, hi in zip(((x0, x1), (y0, y1)), low, high, strict=True):
            margin = 0.05 * (v1 - v0)
            shift.append(min(0.0, lo - (v0 + margin)) + max(0.0, hi - (v1 - margin)))
        if shift[0] or shift[1]:
            self.view_box.translateBy(x=shift[0], y=shift[1])

    def show_overlays(self, overlays: MapOverlays) -> None:
        new = [np.asarray(points) for points, shown in (
            (overlays.candidates, self.candidates), (overlays.neighbours, self.neighbours))
            if len(points) and not np.array_equal(points, _shown_positions(shown))]
        self.match.setData(pos=overlays.match)
        self.candidates.setData(pos=overlays.candidates)
        self.neighbours.setData(pos=overlays.neighbours)
        if new and not self.view_box.dragging:
            self._keep_in_view(np.concatenate([*new, [self.cursor_position]]))
        path = overlays.path
        self.path.setData(path[:, 0], path[:, 1]) if len(path) else self.path.setData([], [])

    def fit(self) -> None:
        """Show the bulk of the model's own points (1st to 99th percentile: a few sketches far
        out do not shrink everyone else to a dot), every preset of the user's, and the cursor."""
        snapshot = self.snapshot
        if snapshot is None or len(snapshot) < 20:
            self.view_box.autoRange(padding=0.08)
            return
        user = np.array([source not in BULK_SOURCES for source in snapshot.sources])
        bulk = snapshot.coords[~user] if (~user).sum() >= 20 else snapshot.coords
        low, high = np.percentile(bulk, [1, 99], axis=0)
        for extra in (snapshot.coords[user], np.array([self.cursor_position])):
            if len(extra):
                low, high = np.minimum(low, extra.min(axis=0)), np.maximum(high, extra.max(axis=0))
        self.view_box.setRange(xRange=(low[0], high[0]), yRange=(low[1], high[1]),
                               padding=0.08)

    # --- drawing ----------------------------------------------------------------------------

    def _draw_points(self) -> None:
        snapshot = self.snapshot
        if snapshot is None:
            return
        pair = self._colour_by
        if pair >= 0 and snapshot.labels.shape[1] > pair:
            brushes = [self._brushes[int(v)] for v in snapshot.labels[:, pair]]
            negative, positive = snapshot.tag_pairs[pair]
            colours = _legend(((negative, -1), ("untagged", 0), (positive, 1)))
        else:
            brushes = [self._brushes[1 if s == "library" else -1 if s.startswith("h2p")
                                     else 0] for s in snapshot.sources]
            colours = _legend((("imported Diva preset", -1), ("model sketch", 0),
                               ("library", 1)))
        self.legend.setText(f"Colour: {colours}<br>{SYMBOL_LEGEND}")
        symbols = [_SOURCE_SYMBOLS.get(s, "d") for s in snapshot.sources]
        sizes = [_SOURCE_SIZES.get(s, 14) for s in snapshot.sources]
        # The user's own presets are outlined in white: a few among thousands of sketches.
        pens = [self._sketch_pen if s in BULK_SOURCES else self._user_pen
                for s in snapshot.sources]
        self.points.setData(pos=snapshot.coords, brush=brushes, symbol=symbols, size=sizes,
                            pen=pens, data=np.arange(len(snapshot)))

    def _show_axes(self, key: str) -> None:
        if key == "pca":
            self.x_axis.setCurrentIndex(0)
            self.y_axis.setCurrentIndex(0)
            self.y_axis.setEnabled(False)
            return
        i, j = (int(v) for v in key.split(","))
        self.x_axis.setCurrentIndex(self.x_axis.findData(i))
        self.y_axis.setCurrentIndex(self.y_axis.findData(j))
        self.y_axis.setEnabled(True)

    # --- mouse --------------------------------------------------------------------------------

    def _scene_pos(self, x: float, y: float) -> QPointF:
        return self.view_box.mapViewToScene(QPointF(x, y))

    def near_cursor(self, scene_pos: QPointF) -> bool:
        here = self._scene_pos(*self.cursor_position)
        return (here - scene_pos).manhattanLength() <= CURSOR_PIXELS * 1.4

    def nearest_point(self, scene_pos: QPointF, pixels: float = PICK_PIXELS) -> int:
        """Index of the point within ``pixels`` of a scene position, or -1."""
        snapshot = self.snapshot
        if snapshot is None or len(snapshot) == 0:
            return -1
        view = self.view_box.mapSceneToView(scene_pos)
        scale_x, scale_y = self._pixels_per_unit()
        d2 = (np.square((snapshot.coords[:, 0] - view.x()) * scale_x)
              + np.square((snapshot.coords[:, 1] - view.y()) * scale_y))
        best = int(np.argmin(d2))
        return best if d2[best] <= pixels * pixels else -1

    def _pixels_per_unit(self) -> tuple[float, float]:
        origin, unit = self._scene_pos(0.0, 0.0), self._scene_pos(1.0, 1.0)
        return abs(unit.x() - origin.x()), abs(unit.y() - origin.y())

    def scene_position_of(self, x: float, y: float) -> QPointF:
        """Where map coordinates ``(x, y)`` are in the plot's viewport (tests, benchmarks)."""
        return QPointF(self.plot.mapFromScene(self._scene_pos(x, y)))

    def drag_cursor(self, x: float, y: float) -> None:
        self.cursor_position = (x, y)
        self.cursor.setPos((x, y))  # follow the hand at once; the session confirms
        self.cursor_dragged.emit(x, y)

    def finish_drag(self) -> None:
        self.drag_finished.emit()

    def click(self, scene_pos: QPointF, double: bool) -> None:
        if not double and self.near_cursor(scene_pos):
            return  # a hand put on the ring (a drag too short to start): not a pick
        index = self.nearest_point(scene_pos)
        if index >= 0 and self.snapshot is not None:
            self.point_clicked.emit(index, self.snapshot.names[index])
        elif double:
            view = self.view_box.mapSceneToView(scene_pos)
            self.drag_cursor(view.x(), view.y())
            self.finish_drag()

    def _points_clicked(self, _item: object, spots: list, event: Any) -> None:
        # The scatter item takes clicks on its points before the view box sees them.
        if event is not None and self.near_cursor(event.scenePos()):
            return
        if spots and self.snapshot is not None:
            index = int(spots[0].data())
            self.point_clicked.emit(index, self.snapshot.names[index])

    def _hover(self, scene_pos: QPointF) -> None:
        index = self.nearest_point(scene_pos)
        if index >= 0 and self.snapshot is not None:
            text = self.snapshot.describe(index)
            self.hover_label.setText(text)
            self.plot.setToolTip(text)
        else:  # off the points: back to the hint, not the last point's name
            self._end_hover()
            return
        self.point_hovered.emit(index)

    def _end_hover(self) -> None:
        self.hover_label.setText(HOVER_HINT)
        self.plot.setToolTip("")
        self.point_hovered.emit(-1)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt)
        if watched is self.plot.viewport() and event.type() == QEvent.Type.Leave:
            self._end_hover()
        return False

    def _axes_picked(self) -> None:
        x = self.x_axis.currentData()
        if x == "pca":
            self.axes_chosen.emit("pca")
            return
        y = self.y_axis.currentData()
        if y is None or y == "pca" or y == x:
            y = 1 if x != 1 else 0
        self.axes_chosen.emit(f"{x},{y}")

    def _colour_picked(self) -> None:
        pair = self.colour_by.currentData()
        self._colour_by = int(pair) if pair is not None else 0
        self._draw_points()
        self.colour_chosen.emit(self._colour_by)


def _shown_positions(scatter: pg.ScatterPlotItem) -> np.ndarray:
    data = scatter.data
    return np.column_stack([data["x"], data["y"]]) if len(data) else np.empty((0, 2))


def _user_names(snapshot: MapSnapshot) -> set[str]:
    return {f"{source}/{name}" for source, name in zip(snapshot.sources, snapshot.names,
                                                       strict=True)
            if source not in BULK_SOURCES}


def _legend(entries: tuple[tuple[str, int], ...]) -> str:
    return "  ".join(f"<span style='color:{TAG_COLOURS[k]}'>●</span> {name}"
                     for name, k in entries)
