"""The status bar: which model, which audio and MIDI devices (or why none), what is running."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from flowsynth_gui.gui.widgets import ElidedLabel

__all__ = ["StatusBar"]


class StatusBar(QStatusBar):
    KEYS = ("model", "audio", "midi_out", "midi_in")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.labels = {key: ElidedLabel() for key in self.KEYS}
        self.busy = QLabel()
        self.busy.setStyleSheet("color: #4fc3f7;")
        self._running: list[str] = []
        self.addWidget(self.busy, 1)
        for key in self.KEYS:
            self.addPermanentWidget(self.labels[key])
        self.labels["model"].setText("Model: loading…")

    def show_status(self, key: str, text: str) -> None:
        label = self.labels[key]
        label.setText(text)
        problem = any(word in text for word in ("none", "disconnected", "unavailable",
                                                "no MIDI", "off", "missing"))
        label.setStyleSheet("color: #ffb74d;" if problem else "")

    def text(self, key: str) -> str:
        return self.labels[key].text()

    def show_busy(self, task: str, running: bool) -> None:
        if running:
            self._running.append(task)
        elif task in self._running:
            self._running.remove(task)
        self.busy.setText(f"⏳ {self._running[-1]}…" if self._running else "")
