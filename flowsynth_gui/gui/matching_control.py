"""The session's matching: a sound in, the engine's first answer current at once, then a live
search that lists closer candidates (and makes the best current) until its budget or Cancel.

One of the controllers :class:`~flowsynth_gui.gui.session.Session` is composed of: it keeps
the match's state and reaches the rest (the explorer, the lanes, the signals) through
``session``.
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
    from flowsynth_gui.gui.session import Session

__all__ = ["SAMPLE_RATE", "MatchingControl"]

SAMPLE_RATE = 22050  # what the matcher and the previews work at
MATCH_FAILED = "Cannot match"  # how a failed match's warning starts (a later match drops it)


class MatchingControl:
    """Matching and refinement intents of the session, and their state."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.target: Rendered | None = None  # the sound being matched, as heard
        self._candidates: list[Any] = []
        self._last_match: MatchReport | None = None
        self._match_source = "sound"
        self._match_notes: tuple[str, ...] = ()
        self._match_shown = False  # False until a match's first report: it opens the tab
        self._imitating = False  # the current match is an imitation (shape, feedback)

    def clear(self) -> None:
        """A new model: the old model's candidates cannot be chosen."""
        self._candidates = []

    # --- matching -----------------------------------------------------------------------------

    def match_file(self, path: str, imitation: bool = False) -> None:
        """Match a sound file (dropped or opened; ``imitation``: by its shape) and make the
        match current."""
        def match() -> None:
            from flowsynth_gui.explorer.sounds import SoundFileError, read_sound_file

            try:
                samples, notes = read_sound_file(path)
            except SoundFileError as err:
                self.session.post("warning", f"{MATCH_FAILED} this file: {err}")
                return
            self._match(samples, Path(path).stem, notes, imitation)
        self.session.on_work_lane("matching the sound", match)

    def match_audio(self, samples: np.ndarray, source: str = "recording",
                    imitation: bool | None = None) -> None:
        """Match audio at 22,050 Hz (a recording); ``imitation`` None: as the setting says
        (on by default: a recording is mostly a voice imitating a sound)."""
        if imitation is None:
            imitation = bool(self.session.settings.get("match/imitate_recordings"))
        self.session.on_work_lane("matching the recording",
                                  lambda: self._match(np.asarray(samples, np.float32), source, (),
                                               imitation))

    def _match(self, samples: np.ndarray, source: str, notes: tuple[str, ...],
               imitation: bool = False) -> None:
        """The first answer at once (made current), then the live search on a worker."""
        from flowsynth_gui.explorer.sounds import SoundFileError, analyse, spectrogram

        ex = self.session.explorer
        self.session.set_busy("matching", True)
        try:
            target = analyse(samples, source, imitation)
            outcome = (ex.imitate(target, budget=0.0) if imitation
                       else ex.match_target(target, budget=0.0, record=False))
            heard = target.audio
        except SoundFileError as err:  # silent, a click, ...
            self.session.post("warning", f"{MATCH_FAILED} {source}: {err}")
            return
        finally:
            self.session.set_busy("matching", False)
        self._imitating = imitation
        self.target = Rendered(heard, SAMPLE_RATE, spectrogram(heard),
                                f"{'Imitation' if imitation else 'Target'}: {source}")
        self.session.target_loaded.emit(self.target)
        name = f"Match: {source}"
        self.session.set_name(name)
        self.session.tags_by_name.pop(name, None)
        ex.commit(name)
        self._match_source, self._match_notes = source, tuple(notes) + target.notes
        self._match_shown = False
        self.session.map.clear_variations(ex)
        self._show_candidates(ex, outcome, searching=True)
        self.session.map.set_overlay(ex, "match", None if imitation else ex.match_latent())
        self.session.publish(ex, "match")
        self.session.preset_loaded.emit(name)
        self._search_on(ex, float(self.session.settings.get("match/budget_seconds")), adopt=True)

    def refine(self, seconds: float | None = None) -> None:
        """Search on from the match's candidates (progress; :meth:`cancel_refine`)."""
        ex = self.session.explorer
        if ex is None or self.target is None:
            self.session.post("info", "Match a sound first, then search longer")
            return
        budget = float(seconds or self.session.settings.get("match/budget_seconds"))
        self._search_on(ex, budget, adopt=False)

    def _search_on(self, ex: Explorer, seconds: float, adopt: bool) -> None:
        """Polish on a worker for ``seconds``, listing improvements live; with ``adopt`` the
        final best becomes current unless the user moved on from the first answer."""
        stop = self.session.stops["refine"] = threading.Event()
        first = ex.params
        last_shown = [0.0]
        imitating = self._imitating

        def progress(p: Any) -> None:
            if p.seconds - last_shown[0] >= 0.15:  # a few updates a second are plenty
                last_shown[0] = p.seconds
                self.session.refine_progressed.emit(int(1000 * p.seconds), int(1000 * seconds),
                                                    p.best[0].distance)
                self._show_candidates(ex, p.best, searching=True)

        def run() -> None:
            self.session.set_busy("searching for closer sounds", True)
            try:
                outcome = (ex.imitate_again(budget=seconds, progress=progress, should_stop=stop)
                           if imitating else
                           ex.match_again(budget=seconds, progress=progress, should_stop=stop))
            finally:
                self.session.set_busy("searching for closer sounds", False)
            if ex is not self.session.explorer:
                return
            self._show_candidates(ex, outcome, searching=False, cancelled=outcome.cancelled)
            if adopt and np.array_equal(ex.params, first) and self._candidates:
                self.session.on_state_lane("choosing the best match",
                                           lambda e: self._choose(e, 0, self.session.base_name))
            if outcome.cancelled:
                self.session.post("info",
                                  "Search cancelled; the candidates found so far are listed")
        run_job(self.session.bg_pool, "searching for closer sounds", run,
                self.session.report_failure, services)

    def _show_candidates(self, ex: Explorer, found: Any, *, searching: bool,
                         cancelled: bool = False) -> None:
        """List candidates (an outcome or a progress' best): the model's answer always (for
        a spectral match; an imitation's list is ranked by shape alone)."""
        if ex is not self.session.explorer:
            return
        imitation = self._imitating
        outcome = ex.last_imitation if imitation else ex.last_match
        candidates = list(found if isinstance(found, list | tuple) else found.candidates)
        answer = None if imitation or outcome is None else outcome.model_answer
        if answer is not None and not any(c is answer for c in candidates):
            candidates.append(answer)
        self._candidates = candidates
        self.session.map.set_overlay(ex, "candidates", None)
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
            self.session.match_improved.emit(report)
        else:
            self._match_shown = True
            # the window then drops a warning left by a failed one
            self.session.match_ready.emit(report)

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
            ex = self.session.explorer
            if ex is None or not self._imitating or ex.last_imitation is None:
                self.session.post("info", "Feedback is for imitations: record or open one first")
                return
            self.cancel_refine()
            self.session.set_busy(what, True)
            try:
                outcome = step(ex)
            except (ValueError, IndexError) as err:
                self.session.post("info", f"Feedback: {err}")
                return
            finally:
                self.session.set_busy(what, False)
            self._show_candidates(ex, outcome, searching=False)
        self.session.on_work_lane(what, run)

    def cancel_refine(self) -> None:
        stop = self.session.stops.get("refine")
        if stop is not None:
            stop.set()

    def choose_candidate(self, index: int) -> None:
        """Make match candidate ``index`` (best first) the current sound."""
        def choose(ex: Explorer) -> None:  # named when it runs, after the gestures before it
            self._choose(ex, index, f"{self.session.base_name.removesuffix(EDITED)} #{index + 1}")
        self.session.on_state_lane("choosing a candidate", choose)

    def _choose(self, ex: Explorer, index: int, name: str) -> None:
        if not 0 <= index < len(self._candidates):
            return
        ex.choose(self._candidates[index], label=name)
        self.session.set_name(name)
        self.session.publish(ex, "candidate")
