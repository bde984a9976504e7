"""Matching: a sound file or a vocal imitation in, the closest presets out, improving live.

Open a file (or drop one anywhere on the window), or record: Arm opens the input and the meter
moves, Record keeps the take, Stop matches it. The first candidates are listed at once, each
with where it came from (sound index, model, library, polished) and its spectral distance to
the target (lower is closer); the search then improves them for the chosen time (Cancel stops
it, keeping what it found). The model's own answer stays listed. Click a row to hear it;
*Search longer* goes on from the candidates.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from flowsynth_gui.gui.state import MatchReport

__all__ = ["AUDIO_FILTER", "MatchingPanel"]

AUDIO_FILTER = "Audio files (*.wav *.flac *.ogg *.aif *.aiff);;All files (*)"
METER_FLOOR_DB = -60.0


class MatchingPanel(QWidget):
    file_chosen = Signal(str)
    arm_toggled = Signal(bool)
    record_toggled = Signal(bool)  # True: start a take, False: stop and match it
    refine_requested = Signal(float)  # seconds to search on
    refine_cancelled = Signal()
    candidate_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report: MatchReport | None = None
        open_button = QPushButton("Open sound…")
        open_button.clicked.connect(self._open)
        hint = QLabel("…or drop a WAV anywhere on the window")
        hint.setStyleSheet("color: #9aa4b2;")
        top = QHBoxLayout()
        top.addWidget(open_button)
        top.addWidget(hint, 1)

        self.arm = QPushButton("Arm input")
        self.arm.setCheckable(True)
        self.arm.toggled.connect(self.arm_toggled)
        self.record = QPushButton("● Record")
        self.record.setCheckable(True)
        self.record.toggled.connect(self._record_toggled)
        self.meter = QProgressBar()
        self.meter.setRange(int(METER_FLOOR_DB), 0)
        self.meter.setValue(int(METER_FLOOR_DB))
        self.meter.setFormat("%v dBFS")
        record_box = QGroupBox("Vocal imitation")
        row = QHBoxLayout(record_box)
        for widget in (self.arm, self.record, self.meter):
            row.addWidget(widget)

        self.result = QLabel("No match yet.")
        self.result.setWordWrap(True)
        self.candidates = QListWidget()
        self.candidates.itemClicked.connect(
            lambda item: self.candidate_chosen.emit(self.candidates.row(item)))
        self.budget = QDoubleSpinBox()
        self.budget.setRange(0.5, 60.0)
        self.budget.setSingleStep(0.5)
        self.budget.setDecimals(1)
        self.budget.setValue(2.0)
        self.budget.setSuffix(" s")
        self.budget.setToolTip("How long each match searches for closer sounds")
        self.refine = QPushButton("Search longer")
        self.refine.setEnabled(False)
        self.refine.clicked.connect(lambda: self.refine_requested.emit(self.budget.value()))
        self.cancel = QPushButton("Cancel")
        self.cancel.setEnabled(False)
        self.cancel.clicked.connect(self.refine_cancelled)
        self.progress = QProgressBar()
        self.progress.setValue(0)
        refine_row = QHBoxLayout()
        for widget in (self.budget, self.refine, self.cancel):
            refine_row.addWidget(widget)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(record_box)
        layout.addWidget(self.result)
        layout.addWidget(self.candidates, 1)
        layout.addLayout(refine_row)
        layout.addWidget(self.progress)

    def _open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Match a sound", "", AUDIO_FILTER)
        if path:
            self.file_chosen.emit(path)

    def _record_toggled(self, on: bool) -> None:
        self.record.setText("■ Stop" if on else "● Record")
        self.record_toggled.emit(on)

    # --- what the session reports -----------------------------------------------------------

    def show_match(self, report: MatchReport) -> None:
        """A match's candidates: its first answer, a live improvement or the final list."""
        self.report = report
        pitch = f"{report.detected_hz:.1f} Hz" if report.detected_hz else "no clear pitch"
        # The first line says the pitch; the matcher's own pitch note would repeat it.
        notes = [n for n in report.notes if not n.startswith(("pitch ", "no clear pitch"))]
        lines = [f"<b>{report.source}</b>: MIDI note {report.note} ({pitch}), spectral "
                 f"distance {report.distance:.3f}", *notes]
        if report.searching:
            lines.append("Searching for closer sounds…")
        if report.cancelled:
            lines.append("Search cancelled.")
        self.result.setText("<br>".join(lines))
        self.candidates.clear()
        for candidate in report.candidates:
            where = f" · {candidate.source}" if candidate.source and \
                candidate.source != candidate.label else ""
            self.candidates.addItem(f"{candidate.label}{where}: distance "
                                    f"{candidate.distance:.3f}")
        self._refining(report.searching)
        if report.refined and not report.cancelled:
            self.progress.setValue(self.progress.maximum())

    def show_refine_progress(self, elapsed_ms: int, budget_ms: int, best: float) -> None:
        self._refining(True)
        self.progress.setMaximum(max(1, budget_ms))
        self.progress.setValue(min(elapsed_ms, budget_ms))
        self.progress.setFormat(f"{elapsed_ms / 1000:.1f} / {budget_ms / 1000:.1f} s · best "
                                f"{best:.3f}")

    def start_refine(self) -> None:
        self._refining(True)
        self.progress.setValue(0)

    def _refining(self, running: bool) -> None:
        self.refine.setEnabled(not running)
        self.cancel.setEnabled(running)

    def show_levels(self, peak_db: float, rms_db: float) -> None:
        self.meter.setValue(int(max(METER_FLOOR_DB, min(0.0, peak_db))))

    def show_recording(self, state: str) -> None:
        """'idle', 'armed', 'recording', or 'unavailable' (no input device: the buttons are
        disabled until the audio settings change)."""
        for button, on in ((self.arm, state in ("armed", "recording")),
                           (self.record, state == "recording")):
            button.blockSignals(True)
            button.setChecked(on)
            button.blockSignals(False)
            button.setEnabled(state != "unavailable")
            button.setToolTip("No audio input device: choose one in Settings"
                              if state == "unavailable" else "")
        self.record.setText("■ Stop" if state == "recording" else "● Record")
