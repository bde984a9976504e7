"""MIDI ports: where parameters go (output port and channel) and where notes come from."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

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
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(refresh)
        layout.addWidget(self.problem)
        layout.addStretch(1)
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
            chosen = combo.currentData() or ""
            combo.clear()
            combo.addItem(NO_PORT, "")
            for name in names:
                combo.addItem(name, name)
            if chosen and combo.findData(chosen) < 0:
                combo.addItem(f"{chosen} (missing)", chosen)
            combo.setCurrentIndex(max(0, combo.findData(chosen)))
        self.problem.setText(f"No MIDI ports: {problem}" if problem else "")

    def show_out_status(self, text: str) -> None:
        self.out_status.setText(text.removeprefix("MIDI out: "))

    def show_in_status(self, text: str) -> None:
        self.in_status.setText(text.removeprefix("MIDI in: "))
