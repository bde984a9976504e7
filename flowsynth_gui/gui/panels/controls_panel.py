"""Semantic sliders (Dark ↔ Bright...) and learned macro knobs; the map cursor follows them.

A slider or knob drag sends ``final=False`` values while the mouse moves and one ``final=True``
value on release; keyboard steps are final at once. Positions follow the current sound, except
for a control the user is holding. Each control's context menu offers MIDI learn (bind a knob of
a MIDI controller to it) and forgetting a binding; bound controls show their CC.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDial,
    QGridLayout,
    QGroupBox,
    QLabel,
    QMenu,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from flowsynth_gui.gui.state import MacroInfo, ModelInfo, SoundState

__all__ = ["ControlsPanel"]

SCALE = 100  # slider steps per latent unit
_EXACT = "flowsynthExactValue"  # control property: the value the sound was shown at
_EMITTED = "flowsynthEmittedValue"  # control property: the value it last sent


NO_MODEL_KNOBS = "No model is loaded: its macro knobs appear here once one is (Settings)."

class ControlsPanel(QWidget):
    """Semantic sliders and macro knobs."""

    semantic_moved = Signal(int, float, bool)  # index, latent value, final
    macro_turned = Signal(int, float, bool)
    learn_requested = Signal(str)  # control name: bind the next MIDI CC to it
    forget_requested = Signal(str)  # control name: drop its MIDI binding

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sliders: list[QSlider] = []
        self.knobs: list[QDial] = []
        self.bindings: dict[str, str] = {}  # control name -> "CC 21 · ch 1"
        self.semantic_box = QGroupBox("Semantic sliders")
        self.semantic_grid = QGridLayout(self.semantic_box)
        self.macro_box = QGroupBox("Macro knobs")
        self.macro_grid = QGridLayout(self.macro_box)
        self.macro_status = QLabel(NO_MODEL_KNOBS)
        self.macro_status.setWordWrap(True)
        self.macro_grid.addWidget(self.macro_status, 0, 0, 1, 4)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.semantic_box)
        layout.addWidget(self.macro_box)

    # --- building -------------------------------------------------------------------------

    def show_model(self, info: ModelInfo) -> None:
        _clear(self.semantic_grid)
        self.sliders = []
        if not info.sliders:
            self.semantic_grid.addWidget(QLabel("This model has no semantic dimensions "
                                                "(a Flow_dis model has)"), 0, 0)
        for row, slider_info in enumerate(info.sliders):
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(int(slider_info.low * SCALE), int(slider_info.high * SCALE))
            slider.setPageStep(SCALE // 2)
            slider.setSingleStep(SCALE // 10)
            slider.setToolTip(f"{slider_info.label}: latent dimension z{slider_info.dim}")
            slider.setAccessibleName(slider_info.label)
            self._offer_learn(slider)
            self._wire(slider, lambda v, f, i=row: self.semantic_moved.emit(i, v, f))
            left, right = QLabel(slider_info.negative), QLabel(slider_info.positive)
            right.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            for label in (left, right):
                label.setMinimumWidth(70)
            self.semantic_grid.addWidget(left, row, 0)
            self.semantic_grid.addWidget(slider, row, 1)
            self.semantic_grid.addWidget(right, row, 2)
            self.sliders.append(slider)
        self.show_bindings(self.bindings)
        self._clear_knobs("Ranking the latent dimensions by how much they move the sound…")

    def show_macros(self, macros: list[MacroInfo]) -> None:
        self._clear_knobs("")
        columns = 3
        for i, macro in enumerate(macros):
            knob = QDial()
            knob.setRange(int(macro.low * SCALE), int(macro.high * SCALE))
            knob.setNotchesVisible(True)
            knob.setFixedSize(56, 56)
            moves = ", ".join(macro.top_params[:4])
            knob.setToolTip(f"{macro.name}: {macro.label or 'latent dimension'} (z{macro.dim}); "
                            f"moves {moves}")
            knob.setAccessibleName(macro.name)
            self._offer_learn(knob)
            self._wire(knob, lambda v, f, i=i: self.macro_turned.emit(i, v, f))
            cell = QVBoxLayout()
            cell.addWidget(knob, 0, Qt.AlignmentFlag.AlignHCenter)
            does = macro.label.replace(" · ", "\n")  # the descriptor above the parameter
            name = QLabel(f"{macro.name}\n{does}")
            name.setAlignment(Qt.AlignmentFlag.AlignHCenter)
            name.setStyleSheet("font-size: 8pt;")
            cell.addWidget(name)
            holder = QWidget()
            holder.setLayout(cell)
            self.macro_grid.addWidget(holder, 1 + i // columns, i % columns)
            self.knobs.append(knob)
        self.show_bindings(self.bindings)

    # --- MIDI learn -------------------------------------------------------------------------

    def _offer_learn(self, control: QSlider | QDial) -> None:
        control.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        control.customContextMenuRequested.connect(
            lambda point: self.learn_menu(control).popup(control.mapToGlobal(point)))

    def learn_menu(self, control: QSlider | QDial) -> QMenu:
        """The control's context menu: MIDI learn, and forget when it is bound."""
        name = control.accessibleName()
        menu = QMenu(control)
        menu.addAction(f"MIDI learn: bind a controller knob to {name}",
                       lambda: self.learn_requested.emit(name))
        bound = self.bindings.get(name)
        if bound:
            menu.addAction(f"Forget MIDI binding ({bound})",
                           lambda: self.forget_requested.emit(name))
        return menu

    def show_bindings(self, bindings: dict[str, str]) -> None:
        """Show which controls a MIDI controller's CCs move (in each control's tooltip)."""
        self.bindings = dict(bindings)
        for control in (*self.sliders, *self.knobs):
            tip = control.toolTip().split("\nMIDI:")[0]
            bound = self.bindings.get(control.accessibleName())
            control.setToolTip(f"{tip}\nMIDI: {bound}" if bound else tip)

    def show_no_model(self) -> None:
        """No model could be loaded: no knobs will come, and the box says so."""
        self._clear_knobs(NO_MODEL_KNOBS)

    def show_ranking_progress(self, done: int, total: int) -> None:
        if not self.knobs:
            self.macro_status.setText(f"Ranking the latent dimensions by how much they move "
                                      f"the sound… {100 * done // max(1, total)} %")

    def _clear_knobs(self, text: str) -> None:
        for knob in self.knobs:
            knob.parentWidget().deleteLater()
        self.knobs = []
        self.macro_status.setText(text)
        self.macro_status.setVisible(bool(text))

    @staticmethod
    def _wire(control: QSlider | QDial, emit) -> None:  # noqa: ANN001 - a callback
        # Mouse drags: sliderMoved (not final), then sliderReleased (final). Keyboard and
        # clicks on the track change the value with the slider up: final at once.
        def send(step: int, final: bool) -> None:
            value = _latent_value(control, step)
            control.setProperty(_EMITTED, value)
            emit(value, final)
        control.sliderMoved.connect(lambda v: send(v, False))
        control.sliderReleased.connect(lambda: send(control.value(), True))
        control.valueChanged.connect(lambda v: None if control.isSliderDown() else send(v, True))

    # --- following the sound ------------------------------------------------------------

    def show_state(self, state: SoundState) -> None:
        for control, value in zip(self.sliders, state.semantic, strict=False):
            _set_quietly(control, value)
        for control, value in zip(self.knobs, state.macros, strict=False):
            _set_quietly(control, value)


def _set_quietly(control: QSlider | QDial, value: float) -> None:
    if control.isSliderDown():
        return
    control.blockSignals(True)
    control.setValue(int(round(value * SCALE)))
    control.blockSignals(False)
    if value != control.property(_EMITTED):  # not the echo of this control's own move
        control.setProperty(_EXACT, float(value))


def _latent_value(control: QSlider | QDial, step: int) -> float:
    """The latent value of a control's step. The step a sound was shown at (by anything but
    this control's own moves) stands for that exact value, not the 0.01 grid: moving a few
    steps and back returns the sound itself (an imported preset too), rather than a neighbour
    a rounding away."""
    exact = control.property(_EXACT)
    if exact is not None and step == int(round(exact * SCALE)):
        return float(exact)
    return step / SCALE


def _clear(grid: QGridLayout) -> None:
    while grid.count():
        item = grid.takeAt(0)
        if item.widget() is not None:
            item.widget().deleteLater()
