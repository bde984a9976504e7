"""Waveform and log-mel spectrogram of the current sound, and of the target when matching.

The play buttons (and the space bar, wired by the main window) only ask to hear a sound; the
session renders and plays it.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QPushButton, QWidget

from flowsynth_gui.gui.state import Rendered
from flowsynth_gui.gui.theme import PLOT_BACKGROUND, PLOT_FOREGROUND
from flowsynth_gui.gui.widgets import ElidedLabel

__all__ = ["SoundPanel"]

_WAVE_COLUMNS = 600  # min/max envelope columns: one per pixel of a wide panel


def frequency_ticks() -> list[tuple[float, str]]:
    """Where 100 Hz, 1 kHz... sit on the image's 0..1 mel height, for the frequency axis.

    Imported when the first spectrogram is shown, not at start-up: the features behind it pull
    in scipy (over a second before the window could appear); by then a worker has loaded it.
    """
    from flowsynth_gui.explorer.sounds import frequency_of_mel_height

    return [(frequency_of_mel_height(hz), label)
            for hz, label in ((100, "100"), (300, "300"), (1000, "1k"), (3000, "3k"),
                              (10000, "10k"))]


SOUND_SECONDS = 4.0  # the length of every preview and target (the paper's protocol)


class _SoundView:
    """One waveform plot and one spectrogram image."""

    def __init__(self, colour: str) -> None:
        self.wave = pg.PlotWidget(background=PLOT_BACKGROUND)
        self.wave.setMouseEnabled(x=False, y=False)
        self.wave.hideAxis("left")
        self.wave.getAxis("bottom").setTextPen(PLOT_FOREGROUND)
        self.wave.setYRange(-1, 1)
        self.wave.setMaximumHeight(90)
        self.wave.setMenuEnabled(False)
        # The envelope as one vertical segment per column (min to max): one cheap curve.
        self.envelope = pg.PlotCurveItem(pen=pg.mkPen(colour, width=1), connect="pairs",
                                         skipFiniteCheck=True)
        self.wave.addItem(self.envelope)
        self.spectrogram = pg.PlotWidget(background=PLOT_BACKGROUND)
        self.spectrogram.setMouseEnabled(x=False, y=False)
        self.spectrogram.setMenuEnabled(False)
        self.spectrogram.getAxis("bottom").setTextPen(PLOT_FOREGROUND)
        frequency = self.spectrogram.getAxis("left")
        frequency.setTextPen(PLOT_FOREGROUND)
        frequency.setTicks([[]])  # filled with the first sound (see frequency_ticks)
        frequency.setWidth(34)
        self.image = pg.ImageItem()
        self.image.setColorMap(pg.colormap.get("inferno"))
        self.spectrogram.addItem(self.image)
        # The ranges every sound has, from the start: empty plots read as seconds, and the
        # first sound shown does not make the axes redraw (the match's GUI-thread time).
        self.wave.setXRange(0, SOUND_SECONDS, padding=0)
        self.spectrogram.setXRange(0, SOUND_SECONDS, padding=0)
        self.spectrogram.setYRange(0, 1, padding=0)
        self.shown: Rendered | None = None
        self._ticks_set = False

    def prepare_axes(self) -> None:
        """The frequency ticks (needs the mel scale: done once the features are loaded)."""
        if not self._ticks_set:
            self.spectrogram.getAxis("left").setTicks([frequency_ticks()])
            self._ticks_set = True

    def show(self, rendered: Rendered) -> None:
        self.prepare_axes()
        self.shown = rendered
        audio = np.asarray(rendered.audio, dtype=np.float32)
        seconds = len(audio) / rendered.sample_rate
        columns = min(_WAVE_COLUMNS, len(audio))
        blocks = audio[: len(audio) // columns * columns].reshape(columns, -1)
        t = np.repeat(np.linspace(0.0, seconds, columns), 2)
        ends = np.stack([blocks.min(axis=1), blocks.max(axis=1)], axis=1).ravel()
        self.envelope.setData(t, ends)
        self.wave.setXRange(0, seconds, padding=0)
        # Scaled to the sound's own peak: a preset at −30 dBFS is a shape, not a flat line
        # (its level is in the title).
        peak = float(np.max(np.abs(audio))) if len(audio) else 0.0
        self.wave.setYRange(-max(peak, 1e-4), max(peak, 1e-4), padding=0.05)
        mel = np.asarray(rendered.log_mel, dtype=np.float32)
        # ImageItem's first axis is x: frames across, mel bands up.
        self.image.setImage(mel.T, autoLevels=False,
                            levels=(float(mel.max()) - 8.0, float(mel.max())))
        self.image.setRect(0.0, 0.0, seconds, 1.0)
        self.spectrogram.setXRange(0, seconds, padding=0)
        self.spectrogram.setYRange(0, 1, padding=0)


class SoundPanel(QWidget):
    """Current sound (and target) as waveform + spectrogram, with play buttons."""

    play_requested = Signal()
    play_target_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.current = _SoundView("#4fc3f7")
        self.target = _SoundView("#ffb74d")
        # Elided: a long preset name (interpolation steps are named "A → B step 4 of 8")
        # must not widen the window.
        self.current_title = ElidedLabel("Current sound")
        self.target_title = ElidedLabel("Target — drop a sound file or record one to match it")
        self.play = QPushButton("▶ Play (Space)")
        self.play.clicked.connect(self.play_requested)
        self.play_target = QPushButton("▶ Target")
        self.play_target.clicked.connect(self.play_target_requested)
        self.play_target.setEnabled(False)
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 4, 4, 4)
        grid.addWidget(self.current_title, 0, 0)
        grid.addWidget(self.play, 0, 1)
        grid.addWidget(self.current.wave, 1, 0, 1, 2)
        grid.addWidget(self.current.spectrogram, 2, 0, 1, 2)
        grid.addWidget(self.target_title, 0, 2)
        grid.addWidget(self.play_target, 0, 3)
        grid.addWidget(self.target.wave, 1, 2, 1, 2)
        grid.addWidget(self.target.spectrogram, 2, 2, 1, 2)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(2, 1)
        grid.setRowStretch(2, 1)

    def show_preview(self, rendered: Rendered) -> None:
        self.current.show(rendered)
        self.target.prepare_axes()  # now, not when a match arrives
        self.current_title.setText(f"Current sound — {rendered.title} ({rendered.level})")

    def show_target(self, rendered: Rendered) -> None:
        self.target.show(rendered)
        self.target_title.setText(f"{rendered.title} ({rendered.level})")
        self.play_target.setEnabled(True)
