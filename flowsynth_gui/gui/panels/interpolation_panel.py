"""Interpolation: walk from preset A to preset B in a number of steps.

Choose A and B (presets on the map, or the current sound; "this one" takes the preset just
clicked on the map), the number of steps, then Walk; the slider moves along the path. The
latent path goes through the model's space (each step is a sound the model knows); tick
"straight in parameters" to compare with a plain crossfade of the parameter values. The first
and last steps are the two presets exactly.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from flowsynth_gui.gui.state import InterpolationInfo, MapSnapshot

__all__ = ["CURRENT_SOUND", "InterpolationPanel"]

CURRENT_SOUND = -1


class InterpolationPanel(QWidget):
    interpolation_requested = Signal(int, int, int, str, str)  # a, b, steps, names
    step_moved = Signal(int, bool, bool)  # step, straight, final

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.a, self.b = QComboBox(), QComboBox()
        for combo in (self.a, self.b):
            combo.addItem("Current sound", CURRENT_SOUND)
            combo.setMaxVisibleItems(20)
            combo.setMinimumContentsLength(14)
        self.current_name = ""  # the sound loaded now (set by the window)
        self.take_a, self.take_b = (QPushButton("this one") for _ in range(2))
        for button, combo in ((self.take_a, self.a), (self.take_b, self.b)):
            button.setToolTip("Use the preset loaded now (click a dot on the map first)")
            button.clicked.connect(lambda _=False, c=combo: self._take_current(c))
        self.steps = QSpinBox()
        self.steps.setRange(2, 64)
        self.steps.setValue(9)
        self.walk = QPushButton("Walk from A to B")
        self.walk.clicked.connect(self._request)
        self.straight = QCheckBox("Straight in parameters (no model)")
        self.straight.toggled.connect(lambda _: self._moved(self.slider.value(), True))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setEnabled(False)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.sliderMoved.connect(lambda v: self._moved(v, False))
        self.slider.sliderReleased.connect(lambda: self._moved(self.slider.value(), True))
        self.slider.valueChanged.connect(
            lambda v: None if self.slider.isSliderDown() else self._moved(v, True))
        self.where = QLabel("Choose A and B, then Walk.")
        self.where.setWordWrap(True)
        form = QFormLayout()
        form.addRow("A", _row(self.a, self.take_a))
        form.addRow("B", _row(self.b, self.take_b))
        form.addRow("Steps", self.steps)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.walk)
        layout.addWidget(self.slider)
        layout.addWidget(self.straight)
        layout.addWidget(self.where)
        layout.addStretch(1)

    def show_map(self, snapshot: MapSnapshot) -> None:
        """Offer every preset on the map (sketches last), keeping the choices by name."""
        order = sorted(range(len(snapshot)), key=lambda i: (snapshot.sources[i] == "sketch",
                                                            snapshot.names[i].casefold()))
        for combo in (self.a, self.b):
            chosen = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem("Current sound", CURRENT_SOUND)
            for i in order:
                combo.addItem(snapshot.names[i], i)
            found = combo.findText(chosen)
            combo.setCurrentIndex(max(0, found))
            combo.blockSignals(False)

    def choose(self, a: str, b: str) -> None:
        """Pick A and B by name (tests, and a future 'interpolate to' menu)."""
        for combo, name in ((self.a, a), (self.b, b)):
            index = combo.findText(name)
            if index < 0:
                raise KeyError(f"{name!r} is not on the map")
            combo.setCurrentIndex(index)

    def _take_current(self, combo: QComboBox) -> None:
        index = combo.findText(self.current_name)
        combo.setCurrentIndex(index if index >= 0 else combo.findData(CURRENT_SOUND))

    def _request(self) -> None:
        self.interpolation_requested.emit(self.a.currentData(), self.b.currentData(),
                                          self.steps.value(), self.a.currentText(),
                                          self.b.currentText())

    def show_interpolation(self, info: InterpolationInfo) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, info.steps - 1)
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self.slider.setEnabled(True)
        self.where.setText(f"{info.a} → {info.b}: step 1 of {info.steps}")
        self._names = (info.a, info.b, info.steps)
        self._moved(0, True)

    def _moved(self, step: int, final: bool) -> None:
        if not self.slider.isEnabled():
            return
        a, b, steps = self._names
        self.where.setText(f"{a} → {b}: step {step + 1} of {steps}"
                           + (" (straight)" if self.straight.isChecked() else ""))
        self.step_moved.emit(step, self.straight.isChecked(), final)


def _row(*widgets: QWidget) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget, 1 if isinstance(widget, QComboBox) else 0)
    return row
