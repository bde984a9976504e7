"""Settings: audio devices and buffer, MIDI ports, the model checkpoint, the look.

The dialog edits a copy of the values and hands the changed ones back (:meth:`changes`); the
main window passes them to the session, which applies them and stores them in the settings.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from flowsynth_gui.gui.settings import THEMES
from flowsynth_gui.gui.widgets import fill_choices

__all__ = ["BLOCKSIZES", "MODEL_FILTER", "SettingsDialog"]

BLOCKSIZES = (64, 128, 256, 512, 1024, 2048)
MODEL_FILTER = "FlowSynth models (*.pt *.json);;All files (*)"
DEFAULT_DEVICE = "System default"


def _combo(choices: list[str], current: str, default_label: str) -> QComboBox:
    combo = QComboBox()
    fill_choices(combo, choices, current, default_label)
    return combo


class SettingsDialog(QDialog):
    refresh_requested = Signal()  # look for devices and ports again (a JACK server started)

    def __init__(self, values: dict[str, Any], outputs: list[str], inputs: list[str],
                 midi_outputs: list[str], midi_inputs: list[str],
                 midi_apis: list[tuple[str, str]] = (), parent: QWidget | None = None) -> None:
        """``midi_apis``: (API name, what to show), e.g. ("UNIX_JACK", "JACK (running)")."""
        super().__init__(parent)
        self.setWindowTitle("FlowSynth settings")
        self.values = dict(values)
        self.output = _combo(outputs, values["audio/output_device"], DEFAULT_DEVICE)
        self.input = _combo(inputs, values["audio/input_device"], DEFAULT_DEVICE)
        self.blocksize = QComboBox()
        for size in BLOCKSIZES:
            self.blocksize.addItem(f"{size} frames", size)
        self.blocksize.setCurrentIndex(max(0, self.blocksize.findData(values["audio/blocksize"])))
        self.auto_preview = QCheckBox("Play the sound when a gesture pauses")
        self.auto_preview.setChecked(bool(values["audio/auto_preview"]))
        self.normalise = QCheckBox("Play every sound at the same loudness")
        self.normalise.setToolTip("Previews and targets are played at one RMS level, so that "
                                  "a quiet preset does not seem worse; the level shown is the "
                                  "preset's own, and MIDI and exports are unchanged")
        self.normalise.setChecked(bool(values["audio/normalise_preview"]))
        self.midi_out = _combo(midi_outputs, values["midi/out_port"], "— none —")
        self.midi_in = _combo(midi_inputs, values["midi/in_port"], "— none —")
        self.midi_api = QComboBox()
        self.midi_api.addItem("Automatic (the first that runs)", "")
        for name, label in midi_apis:
            self.midi_api.addItem(label, name)
        self.midi_api.setCurrentIndex(max(0, self.midi_api.findData(values.get("midi/api",
                                                                               ""))))
        refresh = QPushButton("Refresh devices and ports")
        refresh.setToolTip("Look again, e.g. after starting a JACK server")
        refresh.clicked.connect(self.refresh_requested)
        self.channel = QSpinBox()
        self.channel.setRange(1, 16)
        self.channel.setValue(int(values["midi/out_channel"]))
        self.model = QLineEdit(values["model/path"])
        self.model.setPlaceholderText("the shipped model")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_model)
        self.theme = QComboBox()
        self.theme.addItems(list(THEMES))
        self.theme.setCurrentText(values["ui/theme"])
        self.sketches = QSpinBox()
        self.sketches.setRange(0, 2000)
        self.sketches.setValue(int(values["map/sketches"]))
        self.sketches.setToolTip("Sounds sampled from the model to fill the map (next start)")
        layout = QVBoxLayout(self)
        layout.addWidget(self._group("Audio", [("Output", self.output), ("Input", self.input),
                                               ("Buffer", self.blocksize),
                                               ("", self.auto_preview),
                                               ("", self.normalise)]))
        layout.addWidget(self._group("MIDI", [("API", self.midi_api),
                                              ("Parameters out", self.midi_out),
                                              ("Channel", self.channel),
                                              ("Keyboard in", self.midi_in)]))
        layout.addWidget(refresh)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(browse)
        model_widget = QWidget()
        model_widget.setLayout(model_row)
        layout.addWidget(self._group("Model and map", [("Checkpoint", model_widget),
                                                       ("Sketches on the map", self.sketches)]))
        layout.addWidget(self._group("Look", [("Theme", self.theme)]))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    @staticmethod
    def _group(title: str, rows: list[tuple[str, QWidget]]) -> QGroupBox:
        box = QGroupBox(title)
        form = QFormLayout(box)
        for label, widget in rows:
            form.addRow(label, widget)
        return box

    def _browse_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load a FlowSynth model", self.model.text(),
                                              MODEL_FILTER)
        if path:
            self.model.setText(path)

    def show_devices(self, outputs: list[str], inputs: list[str]) -> None:
        """New audio device lists (after a refresh); the choices made stay."""
        for combo, names in ((self.output, outputs), (self.input, inputs)):
            fill_choices(combo, names, combo.currentData() or "", DEFAULT_DEVICE)

    def show_midi_ports(self, outputs: list[str], inputs: list[str], _why: str = "") -> None:
        for combo, names in ((self.midi_out, outputs), (self.midi_in, inputs)):
            fill_choices(combo, names, combo.currentData() or "", "— none —")

    def edited(self) -> dict[str, Any]:
        """Every value as the dialog shows it now."""
        return {
            "audio/output_device": self.output.currentData() or "",
            "audio/input_device": self.input.currentData() or "",
            "audio/blocksize": int(self.blocksize.currentData()),
            "audio/auto_preview": self.auto_preview.isChecked(),
            "audio/normalise_preview": self.normalise.isChecked(),
            "midi/api": self.midi_api.currentData() or "",
            "midi/out_port": self.midi_out.currentData() or "",
            "midi/out_channel": self.channel.value(),
            "midi/in_port": self.midi_in.currentData() or "",
            "model/path": self.model.text().strip(),
            "ui/theme": self.theme.currentText(),
            "map/sketches": self.sketches.value(),
        }

    def changes(self) -> dict[str, Any]:
        """Only the values the user changed."""
        return {k: v for k, v in self.edited().items() if self.values.get(k) != v}
