"""Matching: a sound file or a vocal imitation in, the closest presets out, improving live.

Open a file (or drop one anywhere on the window), or record: Arm opens the input and the meter
moves, Record keeps the take, Stop matches it. The first candidates are listed at once, each
with where it came from (sound index, model, library, polished) and its distance to the target
(lower is closer); the search then improves them for the chosen time (Cancel stops it, keeping
what it found). The model's own answer stays listed. Click a row to hear it; *Search longer*
goes on from the candidates.

With *Imitation* on (the default for recordings; *Open imitation…* for a file), a voice is
matched by the shape of its loudness, pitch and brightness, not by its spectrum, and the
candidates can be marked *Closer* / *Further*: the list is ranked again at once from the
changed question (*Undo*, *Clear*).
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
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
    imitation_file_chosen = Signal(str)
    imitation_toggled = Signal(bool)  # recordings matched as imitations
    feedback_given = Signal(int, bool)  # candidate row, True: closer
    feedback_undone = Signal()
    feedback_cleared = Signal()
    arm_toggled = Signal(bool)
    record_toggled = Signal(bool)  # True: start a take, False: stop and match it
    refine_requested = Signal(float)  # seconds to search on
    refine_cancelled = Signal()
    candidate_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report: MatchReport | None = None
        open_button = QPushButton("Open sound…")
        open_button.clicked.connect(lambda: self._open(self.file_chosen))
        open_imitation = QPushButton("Open imitation…")
        open_imitation.setToolTip("Match a recording of your voice (or any sound) by its shape")
        open_imitation.clicked.connect(lambda: self._open(self.imitation_file_chosen))
        hint = QLabel("…or drop a WAV anywhere on the window")
        hint.setStyleSheet("color: #9aa4b2;")
        top = QHBoxLayout()  # the hint wraps: the panel stays as narrow as it was
        hint.setWordWrap(True)
        top.addWidget(open_button)
        top.addWidget(open_imitation)
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
        self.meter.setMinimumWidth(60)
        self.imitation = QCheckBox("Imitation")
        self.imitation.setChecked(True)
        self.imitation.setToolTip("On: a recording is matched by the shape of its loudness, "
                                  "pitch and brightness (hum or voice the sound). Off: by its "
                                  "spectrum (record the sound itself).")
        self.imitation.toggled.connect(self.imitation_toggled)
        record_box = QGroupBox("Vocal imitation")
        row = QHBoxLayout(record_box)
        for widget in (self.arm, self.record, self.imitation, self.meter):
            row.addWidget(widget)

        self.result = QLabel("No match yet.")
        self.result.setWordWrap(True)
        self.candidates = QListWidget()
        self.candidates.itemClicked.connect(
            lambda item: self.candidate_chosen.emit(self.candidates.row(item)))
        self.candidates.currentRowChanged.connect(lambda _: self._enable_feedback())
        self.closer = QPushButton("▲ Closer")
        self.further = QPushButton("▼ Further")
        self.undo_feedback = QPushButton("Undo")
        self.clear_feedback = QPushButton("Clear")
        self.closer.setToolTip("The selected candidate is nearer what you imitated: rank again")
        self.further.setToolTip("The selected candidate is further from what you imitated: "
                                "rank again")
        self.undo_feedback.setToolTip("Undo the last closer / further mark")
        self.clear_feedback.setToolTip("Forget every closer / further mark")
        self.closer.clicked.connect(lambda: self._mark(True))
        self.further.clicked.connect(lambda: self._mark(False))
        self.undo_feedback.clicked.connect(self.feedback_undone)
        self.clear_feedback.clicked.connect(self.feedback_cleared)

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
        feedback_row = QHBoxLayout()
        for widget in (self.closer, self.further, self.undo_feedback, self.clear_feedback):
            feedback_row.addWidget(widget)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(record_box)
        layout.addWidget(self.result)
        layout.addWidget(self.candidates, 1)
        layout.addLayout(feedback_row)
        layout.addLayout(refine_row)
        layout.addWidget(self.progress)
        self._enable_feedback()

    def _open(self, chosen: Signal) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Match a sound", "", AUDIO_FILTER)
        if path:
            chosen.emit(path)

    def _mark(self, closer: bool) -> None:
        row = self.candidates.currentRow()
        if row >= 0:
            self.feedback_given.emit(row, closer)

    def _enable_feedback(self) -> None:
        """Feedback is for an imitation's list, with a candidate selected to mark."""
        imitation = self.report is not None and self.report.imitation
        marked = imitation and self.candidates.currentRow() >= 0
        self.closer.setEnabled(marked)
        self.further.setEnabled(marked)
        rounds = self.report.feedback_rounds if imitation and self.report else 0
        self.undo_feedback.setEnabled(rounds > 0)
        self.clear_feedback.setEnabled(rounds > 0)

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
        lines = [f"<b>{report.source}</b>: MIDI note {report.note} ({pitch}), "
                 f"{report.measure} {report.distance:.3f}", *notes]
        if report.feedback_rounds:
            lines.append(f"Ranked with {report.feedback_rounds} round"
                         f"{'s' if report.feedback_rounds > 1 else ''} of your feedback")
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
        self._enable_feedback()
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
