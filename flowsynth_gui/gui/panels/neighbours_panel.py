"""Variations: ``N`` presets at a chosen latent distance around the current sound.

They appear as rings on the map and in the list; click one to hear and keep it. A small radius
gives close variations, a large one different sounds (the latent prior is N(0, I)).
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from flowsynth_gui.gui.state import NeighbourInfo

__all__ = ["NeighboursPanel"]


class NeighboursPanel(QWidget):
    neighbours_requested = Signal(int, float)  # count, radius
    neighbour_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.count = QSpinBox()
        self.count.setRange(1, 32)
        self.count.setValue(8)
        self.radius = QDoubleSpinBox()
        self.radius.setRange(0.05, 4.0)
        self.radius.setSingleStep(0.1)
        self.radius.setValue(0.8)
        self.radius.setToolTip("Latent distance: 0.3 is a near variation, 2 a different sound")
        self.find = QPushButton("Find variations")
        self.find.clicked.connect(
            lambda: self.neighbours_requested.emit(self.count.value(), self.radius.value()))
        self.list = QListWidget()
        self.list.itemClicked.connect(
            lambda item: self.neighbour_chosen.emit(self.list.row(item)))
        form = QFormLayout()
        form.addRow("How many", self.count)
        form.addRow("Distance", self.radius)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.find)
        note = QLabel("Variations show as pink rings on the map; click one to hear it.")
        note.setWordWrap(True)
        note.setStyleSheet("color: #9aa4b2;")
        layout.addWidget(note)
        layout.addWidget(self.list, 1)

    def set_defaults(self, count: int, radius: float) -> None:
        self.count.setValue(count)
        self.radius.setValue(radius)

    def show_neighbours(self, info: NeighbourInfo) -> None:
        self.list.clear()
        for name in info.names:
            self.list.addItem(f"{name}  (distance {info.radius:g})")
