"""The session's matching: a sound in, the engine's first answer current at once, then a live
search that lists closer candidates (and makes the best current) until its budget or Cancel.

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
    _match_source: str = "sound"
    _match_notes: tuple[str, ...] = ()
    _match_shown: bool = False  # False until a match's first report: it opens the tab
    _imitating: bool = False  # the current match is an imitation (shape, feedback)

    # --- matching -----------------------------------------------------------------------------

    def match_file(self, path: str, imitation: bool = False) -> None:
        """Match a sound file (dropped or opened; ``imitation``: by its shape) and make the
        match current."""
        def match() -> None:
            from flowsynth_gui.features.audio_io import AudioFileError, load_audio

            try:
                loaded = load_audio(path, sample_rate=SAMPLE_RATE, duration=None)
            except AudioFileError as err:
                self.post("warning", f"{MATCH_FAILED} this file: {err}")
                return
            self._match(loaded.samples, Path(path).stem, loaded.notes, imitation)
        self._on_work_lane("matching the sound", match)

    def match_audio(self, samples: np.ndarray, source: str = "recording",
                    imitation: bool | None = None) -> None:
        """Match audio at 22,050 Hz (a recording); ``imitation`` None: as the setting says
        (on by default: a recording is mostly a voice imitating a sound)."""
        if imitation is None:
            imitation = bool(self.settings.get("match/imitate_recordings"))
        self._on_work_lane("matching the recording",
                           lambda: self._match(np.asarray(samples, np.float32), source, (),
                                               imitation))

    def _match(self, samples: np.ndarray, source: str, notes: tuple[str, ...],
               imitation: bool = False) -> None:
        """The first answer at once (made current), then the live search on a worker."""
        from flowsynth_gui.features.audio_io import AudioFileError
        from flowsynth_gui.features.mel import log_mel
        from flowsynth_gui.inference.analysis import analyse_audio, analyse_imitation

        ex = self._explorer
        self._busy("matching", True)
        try:
            if imitation:
                target = analyse_imitation(samples, SAMPLE_RATE, source)
                outcome = ex.imitate(target, budget=0.0)
                heard = target.audio
            else:
                target = analyse_audio(samples, SAMPLE_RATE, source)
                outcome = ex.match_target(target, budget=0.0, record=False)
                heard = target.audio
        except AudioFileError as err:  # silent, a click, ...
            self.post("warning", f"{MATCH_FAILED} {source}: {err}")
            return
        finally:
            self._busy("matching", False)
        self._imitating = imitation
        self._target = Rendered(heard, SAMPLE_RATE, log_mel(heard, SAMPLE_RATE),
                                f"{'Imitation' if imitation else 'Target'}: {source}")
        self.target_loaded.emit(self._target)
        name = f"Match: {source}"
        self._set_name(name)
        self._tags_by_name.pop(name, None)
        ex.commit(name)
        self._match_source, self._match_notes = source, tuple(notes) + target.notes
        self._match_shown = False
        self._clear_variations(ex)
        self._show_candidates(ex, outcome, searching=True)
        self._set_overlay(ex, "match", None if imitation else ex.match_latent())
        self._publish(ex, "match")
        self.preset_loaded.emit(name)
        self._search_on(ex, float(self.settings.get("match/budget_seconds")), adopt=True)

    def refine(self, seconds: float | None = None) -> None:
        """Search on from the match's candidates (progress; :meth:`cancel_refine`)."""
        ex = self._explorer
        if ex is None or self._target is None:
            self.post("info", "Match a sound first, then search longer")
            return
        self._search_on(ex, float(seconds or self.settings.get("match/budget_seconds")),
                        adopt=False)

    def _search_on(self, ex: Explorer, seconds: float, adopt: bool) -> None:
        """Polish on a worker for ``seconds``, listing improvements live; with ``adopt`` the
        final best becomes current unless the user moved on from the first answer."""
        stop = self._stops["refine"] = threading.Event()
        first = ex.params
        last_shown = [0.0]
        imitating = self._imitating

        def progress(p: Any) -> None:
            if p.seconds - last_shown[0] >= 0.15:  # a few updates a second are plenty
                last_shown[0] = p.seconds
                self.refine_progressed.emit(int(1000 * p.seconds), int(1000 * seconds),
                                            p.best[0].distance)
                self._show_candidates(ex, p.best, searching=True)

        def run() -> None:
            self._busy("searching for closer sounds", True)
            try:
                outcome = (ex.imitate_again(budget=seconds, progress=progress, should_stop=stop)
                           if imitating else
                           ex.match_again(budget=seconds, progress=progress, should_stop=stop))
            finally:
                self._busy("searching for closer sounds", False)
            if ex is not self._explorer:
                return
            self._show_candidates(ex, outcome, searching=False, cancelled=outcome.cancelled)
            if adopt and np.array_equal(ex.params, first) and self._candidates:
                self._on_state_lane("choosing the best match",
                                    lambda e: self._choose(e, 0, self._base))
            if outcome.cancelled:
                self.post("info", "Search cancelled; the candidates found so far are listed")
        run_job(self._bg_pool, "searching for closer sounds", run, self._report_failure,
                services)

    def _show_candidates(self, ex: Explorer, found: Any, *, searching: bool,
                         cancelled: bool = False) -> None:
        """List candidates (an outcome or a progress' best): the model's answer always (for
        a spectral match; an imitation's list is ranked by shape alone)."""
        if ex is not self._explorer:
            return
        from flowsynth_gui.matching import MatchOutcome
        from flowsynth_gui.matching.imitation import ImitationOutcome

        imitation = self._imitating
        outcome = ex.last_imitation if imitation else ex.last_match
        candidates = list(found.candidates if isinstance(found, MatchOutcome | ImitationOutcome)
                          else found)
        answer = None if imitation or outcome is None else outcome.model_answer
        if answer is not None and not any(c is answer for c in candidates):
            candidates.append(answer)
        self._candidates = candidates
        self._set_overlay(ex, "candidates", None)
        best = candidates[0]
        summary = [] if searching else [
            f"{outcome.renders} renders in {outcome.seconds:.1f} s" if outcome else ""]
        if outcome is None:
            heard_hz = None
        else:
            heard_hz = outcome.target.shape.pitch_hz if imitation else outcome.target.detected_hz
        report = MatchReport(
            self._match_source, best.note, heard_hz,
            best.distance, self._match_notes + tuple(t for t in summary if t),
            tuple(CandidateInfo(c.label or c.source_name, c.distance, c.source_name)
                  for c in candidates),
            refined=not searching, cancelled=cancelled, searching=searching,
            imitation=imitation, feedback_rounds=ex.feedback_depth if imitation else 0)
        self._last_match = report
        if searching and self._match_shown:
            self.match_improved.emit(report)
        else:
            self._match_shown = True
            self.match_ready.emit(report)  # the window then drops a warning left by a failed one

    # --- relevance feedback (imitations) --------------------------------------------------------

    def give_feedback(self, row: int, closer: bool) -> None:
        """Mark candidate ``row`` of the imitation's list closer (or further): the query moves
        and the list is ranked again at once."""
        self._feedback("ranking with your feedback",
                       lambda ex: ex.imitation_feedback([row] if closer else [],
                                                        [] if closer else [row]))

    def undo_feedback(self) -> None:
        self._feedback("undoing the feedback", lambda ex: ex.undo_feedback())

    def clear_feedback(self) -> None:
        self._feedback("clearing the feedback", lambda ex: ex.clear_feedback())

    def _feedback(self, what: str, step: Any) -> None:
        def run() -> None:
            ex = self._explorer
            if ex is None or not self._imitating or ex.last_imitation is None:
                self.post("info", "Feedback is for imitations: record or open one first")
                return
            self.cancel_refine()
            self._busy(what, True)
            try:
                outcome = step(ex)
            except (ValueError, IndexError) as err:
                self.post("info", f"Feedback: {err}")
                return
            finally:
                self._busy(what, False)
            self._show_candidates(ex, outcome, searching=False)
        self._on_work_lane(what, run)

    def cancel_refine(self) -> None:
        stop = self._stops.get("refine")
        if stop is not None:
            stop.set()

    def choose_candidate(self, index: int) -> None:
        """Make match candidate ``index`` (best first) the current sound."""
        self._on_state_lane("choosing a candidate",
                            lambda ex: self._choose(ex, index,
                                                    f"{self._base.removesuffix(EDITED)} "
                                                    f"#{index + 1}"))

    def _choose(self, ex: Explorer, index: int, name: str) -> None:
        if not 0 <= index < len(self._candidates):
            return
        ex.choose(self._candidates[index], label=name)
        self._set_name(name)
        self._publish(ex, "candidate")
