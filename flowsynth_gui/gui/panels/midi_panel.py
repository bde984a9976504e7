"""MIDI ports: where parameters go (output port and channel), where notes come from, and the
CC map that says which controller number carries which parameter (to set up the external synth)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from flowsynth_gui.gui.widgets import fill_choices

__all__ = ["MidiPanel"]

NO_PORT = "— none —"


class MidiPanel(QWidget):
    out_port_chosen = Signal(str)  # '' for none
    channel_chosen = Signal(int)
    in_port_chosen = Signal(str)
    refresh_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.out_port, self.in_port = QComboBox(), QComboBox()
        for combo in (self.out_port, self.in_port):
            combo.addItem(NO_PORT, "")
            combo.setMinimumContentsLength(18)
        self.channel = QSpinBox()
        self.channel.setRange(1, 16)
        refresh = QPushButton("Refresh ports")
        refresh.clicked.connect(self.refresh_requested)
        self.out_status, self.in_status = QLabel(), QLabel()
        for label in (self.out_status, self.in_status):
            label.setWordWrap(True)
            label.setStyleSheet("color: #9aa4b2;")
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Parameters out", self.out_port)
        form.addRow("Channel", self.channel)
        form.addRow("", self.out_status)
        form.addRow("Keyboard in", self.in_port)
        form.addRow("", self.in_status)
        self.cc_source = QLabel("CC map: shown once MIDI has started")
        self.cc_source.setWordWrap(True)
        self.cc_table = QTableWidget(0, 3)
        self.cc_table.setHorizontalHeaderLabels(["Parameter", "Diva", "CC"])
        self.cc_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.cc_table.verticalHeader().setVisible(False)
        self.cc_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(refresh)
        layout.addWidget(self.problem)
        layout.addWidget(self.cc_source)
        layout.addWidget(self.cc_table, 1)
        self.out_port.activated.connect(lambda _: self.out_port_chosen.emit(
            self.out_port.currentData() or ""))
        self.in_port.activated.connect(lambda _: self.in_port_chosen.emit(
            self.in_port.currentData() or ""))
        self.channel.valueChanged.connect(self.channel_chosen)

    def set_choices(self, out_port: str, channel: int, in_port: str) -> None:
        """The saved choices, shown even before the ports are listed."""
        for combo, port in ((self.out_port, out_port), (self.in_port, in_port)):
            if port and combo.findData(port) < 0:
                combo.addItem(port, port)
            combo.setCurrentIndex(max(0, combo.findData(port)))
        self.channel.blockSignals(True)
        self.channel.setValue(channel)
        self.channel.blockSignals(False)

    def show_ports(self, outputs: list[str], inputs: list[str], problem: str) -> None:
        for combo, names in ((self.out_port, outputs), (self.in_port, inputs)):
            fill_choices(combo, names, combo.currentData() or "", NO_PORT)
        self.problem.setText(f"No MIDI ports: {problem}" if problem else "")

    def show_out_status(self, text: str) -> None:
        self.out_status.setText(text.removeprefix("MIDI out: "))

    def show_in_status(self, text: str) -> None:
        self.in_status.setText(text.removeprefix("MIDI in: "))

    def show_cc_map(self, cc_map: Any, source: str, active: Collection[str] = ()) -> None:
        """List the map's bindings, the model's parameters first (the ones a drag moves)."""
        from flowsynth_gui.explorer.sounds import parameter_specs  # loaded by then

        specs = {spec.name: spec for spec in parameter_specs()}
        bindings = sorted(cc_map, key=lambda b: (b.param not in active, b.cc))
        self.cc_source.setText(f"CC map ({len(bindings)} parameters, channel as chosen "
                               f"above): {source}")
        self.cc_table.setRowCount(len(bindings))
        for row, binding in enumerate(bindings):
            spec = specs[binding.param]  # a CC map binds only known parameters
            marker = "" if binding.param in active else "  (not in the model)"
            cells = (f"{binding.param}{marker}", f"{spec.section} {spec.key}", binding.describe())
            for column, text in enumerate(cells):
                self.cc_table.setItem(row, column, QTableWidgetItem(text))
