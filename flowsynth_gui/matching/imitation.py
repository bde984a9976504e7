"""Imitation matching: a voice (or any sound) in, presets whose *shape* follows it out.

::

    imitation ─► its shape and median pitch (inference.analysis.analyse_imitation)
              ─► candidates: the index sounds of nearest shape (a search of the shapes stored
                 beside the index), the user's presets of nearest shape, the model's answer,
                 the previous imitation's best
              ─► render each at the note where it plays the imitation's pitch (its own
                 tuning counted), describe it, rank by shape distance
              ─► (first answer) ─► the next nearest index shapes, then CMA-ES on the shape
                 distance from the best, until the budget or a cancel ─► top-K

A hummed "wooow" shares almost no spectrum with the filter sweep it imitates, so the spectral
engine (SC) is at chance on voices; their loudness, pitch and brightness contours do follow
it (:mod:`.shape_distance`). Relevance feedback: :meth:`Imitator.feedback` turns the
candidates the user marked closer / further into a new query (those marked closer become its
anchors), and :meth:`Imitator.imitate` with that query re-ranks every shape it has rendered (no
render again) and searches on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from flowsynth_gui.data.renders import StopFlag, stop_requested
from flowsynth_gui.features.pitch import hz_to_midi
from flowsynth_gui.features.shape import SoundShape, describe_shape
from flowsynth_gui.inference.analysis import MAX_NOTE, MIN_NOTE, ImitationTarget
from flowsynth_gui.matching.engine import MatchCandidate, MatchEngine
from flowsynth_gui.matching.polish import PolishSettings, polish
from flowsynth_gui.matching.scoring import batches_until
from flowsynth_gui.matching.shape_distance import ShapeQuery, ShapeTable, apply_feedback
from flowsynth_gui.synth.render import DEFAULT_SAMPLE_RATE, REFERENCE_NOTE

__all__ = ["ImitationOutcome", "ImitationProgress", "ImitationSettings", "Imitator"]

_SAME = 1e-6
_BATCH = 32
_MEMO = 4096  # rendered shapes kept for re-ranking after feedback
# Polished candidates a top list keeps: CMA-ES variants are near copies of their start, and ten
# of them would push out the other presets of nearly the same shape (the imitated sound's own
# among them: docs/RESULTS.md, "Vocal imitation").
_POLISHED_IN_TOP = 3


@dataclass(frozen=True)
class ImitationSettings:
    candidates: int = 24  # nearest index shapes rendered for the first answer
    library: int = 4  # nearest of the user's presets
    deepest: int = 400  # index shapes the search may reach
    deepen_share: float = 0.4  # of the search time spent on more index shapes
    top: int = 8
    polish: PolishSettings = field(default_factory=lambda: PolishSettings(sigma=0.08))


@dataclass(frozen=True)
class ImitationProgress:
    stage: str  # "candidates" (the first answer) or "polish"
    renders: int
    seconds: float
    best: tuple[MatchCandidate, ...]


@dataclass(frozen=True)
class ImitationOutcome:
    target: ImitationTarget
    query: ShapeQuery
    candidates: tuple[MatchCandidate, ...]  # top-K by shape distance, best first
    shapes: tuple[SoundShape, ...]  # each candidate's shape, rendered at its note
    renders: int
    seconds: float
    first_seconds: float
    cancelled: bool
    notes: tuple[str, ...] = ()
    rendered: tuple[tuple[MatchCandidate, SoundShape], ...] = ()  # everything scored

    @property
    def best(self) -> MatchCandidate:
        return self.candidates[0]


def _key(candidate: MatchCandidate) -> tuple[int, bytes]:
    """One preset at one note (what a rendered shape is of)."""
    return candidate.note, np.round(candidate.params, 6).tobytes()


class _Pool:
    """Rendered candidates with their shapes and their distances to the pool's query (each
    computed once, when it joins)."""

    def __init__(self, query: ShapeQuery) -> None:
        self.query = query
        self.items: list[tuple[MatchCandidate, SoundShape]] = []
        self._distances: list[float] = []
        self._keys: set[tuple[int, bytes]] = set()

    def add(self, pairs: Sequence[tuple[MatchCandidate, SoundShape]]) -> None:
        new = []
        for candidate, shape in pairs:
            key = _key(candidate)
            if key not in self._keys:
                self._keys.add(key)
                new.append((candidate, shape))
        if new:
            self.items += new
            self._distances += ShapeTable.of([s for _, s in new]).distances(self.query).tolist()

    def top(self, k: int) -> list[tuple[MatchCandidate, SoundShape]]:
        chosen: list[tuple[MatchCandidate, SoundShape]] = []
        polished = 0
        for i in np.argsort(self._distances, kind="stable"):
            c, s = self.items[int(i)]
            if any(np.max(np.abs(c.params - o.params)) <= _SAME for o, _ in chosen):
                continue
            if c.source == "polish":
                if polished == _POLISHED_IN_TOP:
                    continue
                polished += 1
            chosen.append((MatchCandidate(c.params, self._distances[i], c.source, c.label,
                                          c.z, c.note), s))
            if len(chosen) == k:
                break
        return chosen


def _playing_note(target: ImitationTarget, preset_pitch: float) -> int:
    """The note at which a preset whose own pitch at the reference note is ``preset_pitch``
    (MIDI, NaN when unpitched) plays the imitation's pitch: detuned presets are many."""
    if target.shape.pitch_hz is None or not np.isfinite(preset_pitch):
        return target.note
    wanted = float(hz_to_midi(target.shape.pitch_hz))
    return int(min(MAX_NOTE, max(MIN_NOTE, round(REFERENCE_NOTE + wanted - preset_pitch))))


class Imitator:
    """Imitation search over an engine's index, model, scorer and the index's shapes."""

    def __init__(self, engine: MatchEngine, shapes: ShapeTable | None,
                 settings: ImitationSettings | None = None) -> None:
        if shapes is not None and (engine.index is None or len(shapes) > len(engine.index)):
            raise ValueError("index shapes need the sound index they describe")
        self.engine, self.shapes = engine, shapes
        self.settings = settings or ImitationSettings()
        self._presets: dict[str, tuple[list[tuple[str, np.ndarray]], ShapeTable]] = {}
        self._memo: dict[tuple[int, bytes], SoundShape] = {}
        self._previous: tuple[MatchCandidate, ...] = ()

    def warm_up(self) -> None:
        """Load the compiled kernels (shape features, DTW) now: the first imitation would
        otherwise wait about a second for them."""
        shape = describe_shape(np.sin(np.arange(4096) / 8.0).astype(np.float32),
                               DEFAULT_SAMPLE_RATE)
        ShapeTable.of([shape]).distances(ShapeQuery.of(shape))

    def set_presets(self, source: str, presets: Sequence[tuple[str, np.ndarray]]) -> None:
        """The user's presets of one ``source`` ("library", "imported"), described once here
        (rendered at the reference note) and searched by shape at every imitation."""
        entries = [(label, np.clip(np.asarray(v, np.float64), 0.0, 1.0)) for label, v in presets]
        if not entries:
            self._presets.pop(source, None)
            return
        shapes = self.engine.scorer.shapes(np.stack([v for _, v in entries]), REFERENCE_NOTE)
        self._presets[source] = (entries, ShapeTable.of(shapes))

    def forget_previous(self) -> None:
        """Start the next imitation without the previous one's best among its candidates (a
        benchmark's imitations are independent; a user's are not)."""
        self._previous = ()

    def feedback(self, outcome: ImitationOutcome, closer: Sequence[int],
                 further: Sequence[int]) -> ShapeQuery:
        """The query after the user marked ``outcome.candidates`` rows closer / further."""
        return apply_feedback(outcome.query, [outcome.shapes[i] for i in closer],
                              [outcome.shapes[i] for i in further])

    # --- the search ------------------------------------------------------------------------

    def imitate(self, target: ImitationTarget, *, query: ShapeQuery | None = None,
                again: ImitationOutcome | None = None, budget: float = 2.0,
                top: int | None = None, seed: int = 0,
                progress: Callable[[ImitationProgress], None] | None = None,
                should_stop: StopFlag = None) -> ImitationOutcome:
        """Candidates ranked by shape, then searched on until ``budget`` seconds have passed
        (0: the first ranking only) or ``should_stop``; see the module doc. ``again``: an
        earlier outcome for the same target (a search after feedback) whose rendered
        candidates are ranked again by the new ``query``, not rendered again."""
        started = time.perf_counter()
        if (top is not None and top < 1) or not budget >= 0:
            raise ValueError(f"imitate: top must be >= 1 and budget >= 0, got {top}, {budget}")
        k = top or self.settings.top
        renders_before = self.engine.scorer.renders
        query = query or ShapeQuery.of(target.shape)
        pool, notes = _Pool(query), []
        if again is not None:
            pool.add(again.rendered)
        if self.shapes is None:
            notes.append("the sound index has no shapes: searching its spectral neighbours")
        order = self._index_order(target, query)
        first = [*self._index_candidates(order[: self.settings.candidates], target),
                 *self._preset_candidates(query, target), *self._model_candidate(target),
                 *self._previous]
        self._render_into(pool, first)
        first_seconds = time.perf_counter() - started

        def report(stage: str) -> None:
            if progress is not None:
                progress(ImitationProgress(stage, self.engine.scorer.renders - renders_before,
                                           time.perf_counter() - started,
                                           tuple(c for c, _ in pool.top(k))))

        report("candidates")
        cancelled = stop_requested(should_stop)
        if budget > 0 and not cancelled:
            deadline = started + budget
            cancelled = self._deepen(pool, order[self.settings.candidates:], target,
                                     started + self.settings.deepen_share * budget, report,
                                     should_stop)
            if not cancelled:
                cancelled = self._polish(pool, deadline, seed, report, should_stop)
        best = pool.top(k)
        self._previous = tuple(c for c, _ in best[:2])
        return ImitationOutcome(target, query, tuple(c for c, _ in best),
                                tuple(s for _, s in best),
                                self.engine.scorer.renders - renders_before,
                                time.perf_counter() - started, first_seconds, cancelled,
                                target.notes + tuple(notes), tuple(pool.items))

    def _index_order(self, target: ImitationTarget, query: ShapeQuery) -> np.ndarray:
        """Index rows, nearest shape first (nearest spectrum when there are no shapes)."""
        index = self.engine.index
        if index is None:
            return np.zeros(0, np.int64)
        reach = self.settings.deepest
        if self.shapes is None:
            rows, _ = index.nearest(self.engine.embed(target.at_reference), reach)
            return rows
        distances = self.shapes.distances(query)
        reach = min(reach, len(distances))
        rows = np.argpartition(distances, reach - 1)[:reach]
        return rows[np.argsort(distances[rows], kind="stable")].astype(np.int64)

    def _index_candidates(self, rows: np.ndarray, target: ImitationTarget,
                          ) -> list[MatchCandidate]:
        index = self.engine.index
        if index is None or len(rows) == 0:
            return []
        pitch = self.shapes.pitch[rows] if self.shapes is not None else np.full(len(rows), np.nan)
        return [MatchCandidate(v, np.nan, "index", f"index #{r}", note=_playing_note(target, p))
                for r, v, p in zip(rows, index.params(rows), pitch, strict=True)]

    def _preset_candidates(self, query: ShapeQuery, target: ImitationTarget,
                           ) -> list[MatchCandidate]:
        found: list[tuple[float, MatchCandidate]] = []
        for source, (entries, table) in self._presets.items():
            distances = table.distances(query)
            kind = "library" if source == "library" else "imported"
            found += [(float(distances[i]), MatchCandidate(
                entries[i][1], np.nan, kind, entries[i][0],
                note=_playing_note(target, table.pitch[i])))
                for i in np.argsort(distances)[: self.settings.library]]
        return [c for _, c in sorted(found, key=lambda pair: pair[0])[: self.settings.library]]

    def _model_candidate(self, target: ImitationTarget) -> list[MatchCandidate]:
        matcher = self.engine.matcher
        if matcher is None:
            return []
        params, z = matcher.infer(target.at_reference)
        return [MatchCandidate(np.array([params[n] for n in self.engine.names]), np.nan, "model",
                               z=z, note=target.note)]

    def _render_into(self, pool: _Pool, candidates: list[MatchCandidate]) -> None:
        """Add the candidates to the pool with their shapes: from the memo, else rendered."""
        fresh = {_key(c): c for c in candidates if _key(c) not in self._memo}
        if len(self._memo) + len(fresh) > _MEMO:  # forget all but what this call needs
            wanted = {_key(c) for c in candidates}
            self._memo = {k: v for k, v in self._memo.items() if k in wanted}
        if fresh:
            group = list(fresh.values())
            shapes = self.engine.scorer.shapes(np.stack([c.params for c in group]),
                                               [c.note for c in group])
            for c, s in zip(group, shapes, strict=True):
                self._memo[_key(c)] = s
        pool.add([(c, self._memo[_key(c)]) for c in candidates])

    def _deepen(self, pool: _Pool, rows: np.ndarray, target: ImitationTarget, until: float,
                report: Callable[[str], None], should_stop: StopFlag) -> bool:
        def step(batch: slice) -> None:
            self._render_into(pool, self._index_candidates(rows[batch], target))
            report("polish")

        return batches_until(len(rows), _BATCH, until, should_stop, step)

    def _polish(self, pool: _Pool, deadline: float, seed: int,
                report: Callable[[str], None], should_stop: StopFlag) -> bool:
        best = pool.top(self.settings.polish.starts)
        if not best:
            return False
        note = best[0][0].note  # where the best preset plays the imitation's pitch
        best = [(c, s) for c, s in best if c.note == note]
        last: dict[str, list[SoundShape]] = {}

        def score(rows: np.ndarray) -> np.ndarray:
            shapes = self.engine.scorer.shapes(rows, note)
            last["shapes"] = shapes
            return ShapeTable.of(shapes).distances(pool.query)

        def seen(rows: np.ndarray, distances: np.ndarray) -> None:
            i = int(np.argmin(distances))
            candidate = MatchCandidate(rows[i].copy(), float(distances[i]), "polish", note=note)
            self._memo[_key(candidate)] = last["shapes"][i]
            pool.add([(candidate, last["shapes"][i])])
            report("polish")

        _, cancelled = polish([c.params for c, _ in best], score, deadline,
                              self.settings.polish, seed, seen, should_stop)
        return cancelled
