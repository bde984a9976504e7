"""The session's matching: a sound file or a recording in, the match current, refinement.

A mixin of :class:`~flowsynth_gui.gui.session.Session` (the signals and lanes live there).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from flowsynth_gui.gui.imports import services
from flowsynth_gui.gui.state import EDITED, CandidateInfo, MatchReport, Rendered
from flowsynth_gui.gui.workers import run_job

if TYPE_CHECKING:
    from flowsynth_gui.explorer import Explorer

__all__ = ["SAMPLE_RATE", "MatchingMixin"]

SAMPLE_RATE = 22050  # what the matcher and the previews work at
MATCH_FAILED = "Cannot match"  # how a failed match's warning starts (a later match drops it)


class MatchingMixin:
    """Matching intents of the session."""

    _candidates: list[Any]
    _target: Rendered | None
    _last_match: MatchReport | None

    # --- matching -----------------------------------------------------------------------------

    def match_file(self, path: str) -> None:
        """Match a sound file (dropped or opened) and make the match current."""
        def match() -> None:
            from flowsynth_gui.features.audio_io import AudioFileError, load_audio

            try:
                loaded = load_audio(path, sample_rate=SAMPLE_RATE, duration=None)
            except AudioFileError as err:
                self.post("warning", f"{MATCH_FAILED} this file: {err}")
                return
            self._match(loaded.samples, Path(path).stem, loaded.notes)
        self._on_work_lane("matching the sound", match)

    def match_audio(self, samples: np.ndarray, source: str = "recording") -> None:
        """Match audio at 22,050 Hz (a recording)."""
        self._on_work_lane("matching the recording",
                           lambda: self._match(np.asarray(samples, np.float32), source, ()))

    def _match(self, samples: np.ndarray, source: str, notes: tuple[str, ...]) -> None:
        from flowsynth_gui.features.audio_io import AudioFileError
        from flowsynth_gui.features.mel import log_mel

        ex = self._explorer
        self._busy("matching", True)
        try:
            result = ex.match(samples, SAMPLE_RATE, record=False)
        except AudioFileError as err:  # silent, too short, ...
            self.post("warning", f"{MATCH_FAILED} {source}: {err}")
            return
        finally:
            self._busy("matching", False)
        target = np.zeros(4 * SAMPLE_RATE, np.float32)
        target[: min(len(samples), len(target))] = samples[: len(target)]
        self._target = Rendered(target, SAMPLE_RATE, log_mel(target, SAMPLE_RATE),
                                f"Target: {source}")
        self.target_loaded.emit(self._target)
        name = f"Match: {source}"
        self._set_name(name)
        self._tags_by_name.pop(name, None)
        ex.commit(name)
        self._candidates = []
        self._set_overlay(ex, "candidates", None)
        self._set_overlay(ex, "match", result.latent)
        report = MatchReport(source, result.note, result.detected_hz,
                             result.spectral_convergence, tuple(notes) + tuple(result.notes),
                             (CandidateInfo("model's answer", result.spectral_convergence),))
        self._last_match = report
        self.match_ready.emit(report)  # the window then drops a warning left by a failed one
        self._publish(ex, "match")
        self.preset_loaded.emit(name)

    def refine(self, budget: int | None = None) -> None:
        """Search around the last match for closer sounds (progress; :meth:`cancel_refine`)."""
        ex = self._explorer
        if ex is None or self._target is None:
            self.post("info", "Match a sound first, then refine it")
            return
        budget = int(budget or self.settings.get("match/refine_budget"))
        stop = self._stops["refine"] = threading.Event()

        def run() -> None:
            self._busy("refining the match", True)
            try:
                result = ex.refine(budget=budget, keep=5, should_stop=stop,
                                   progress=lambda p: self.refine_progressed.emit(
                                       p.renders, p.budget, p.best))
            finally:
                self._busy("refining the match", False)
            self._refined(ex, result)
        run_job(self._bg_pool, "refining the match", run, self._report_failure, services)

    def _refined(self, ex: Explorer, result: Any) -> None:
        if ex is not self._explorer:
            return
        # The model's answer stays listed (last if not among the best) to compare and go back.
        self._candidates = list(result.candidates)
        if not any(c is result.start for c in self._candidates):
            self._candidates.append(result.start)
        self._set_overlay(ex, "candidates", np.stack([c.z for c in self._candidates]))
        first = self._last_match
        candidates = tuple(CandidateInfo("model's answer" if c is result.start
                                         else f"candidate {i + 1}", c.distance)
                           for i, c in enumerate(self._candidates))
        summary = (f"{result.renders} renders in {result.seconds:.1f} s, best "
                   f"{100 * result.reduction:.0f} % closer than the model's answer")
        self.match_ready.emit(MatchReport(
            first.source if first else "sound", first.note if first else 60,
            first.detected_hz if first else None, result.start.distance,
            (*(first.notes if first else ()), summary), candidates, refined=True,
            cancelled=result.cancelled))
        if result.cancelled:
            self.post("info", "Refinement cancelled; the candidates found so far are listed")

    def cancel_refine(self) -> None:
        stop = self._stops.get("refine")
        if stop is not None:
            stop.set()

    def choose_candidate(self, index: int) -> None:
        """Make refinement candidate ``index`` (best first) the current sound."""
        def choose(ex: Explorer) -> None:
            if not 0 <= index < len(self._candidates):
                return
            name = f"{self._base.removesuffix(EDITED)} #{index + 1}"
            ex.choose(self._candidates[index], label=name)
            self._set_name(name)
            self._publish(ex, "candidate")
        self._on_state_lane("choosing a candidate", choose)

