"""The matching engine: a sound in, the closest presets out, each with where it came from.

::

    target ─► candidates: sound index (k nearest by embedding), the model's answer, the user's
              library and imported presets (nearest by embedding), the previous match's best
           ─► render every candidate at the target's pitch, one batch ─► rank by SC
           ─► (first answer, well under 150 ms) ─► posterior draws, more index neighbours,
              then CMA-ES in parameter space from the best, until the budget or a cancel
           ─► top-K

One entry point (:meth:`MatchEngine.match`) serves the CLI, the app and the benchmark. Every
source is optional: without an index (missing, stale) the model's answer and posterior still
work, without a model the index does. The top-1 is never worse than the best candidate: polish
only adds candidates to the pool. Distances are spectral convergence of the linear mel (the
paper's metric, lower is closer) against the input at its own pitch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from flowsynth_gui.data.renders import StopFlag, render_mels, stop_requested
from flowsynth_gui.features.mel import mel_magnitude
from flowsynth_gui.inference.analysis import MatchTarget
from flowsynth_gui.inference.match import Matcher
from flowsynth_gui.matching.index import SoundIndex, SoundIndexError
from flowsynth_gui.matching.polish import PolishSettings, polish
from flowsynth_gui.matching.scoring import Scorer, batches_until
from flowsynth_gui.models.param_posterior import LoadedPosterior
from flowsynth_gui.synth.render import DEFAULT_SAMPLE_RATE, REFERENCE_NOTE

__all__ = ["DEFAULT_BUDGET", "EngineSettings", "MatchCandidate", "MatchEngine", "MatchOutcome",
           "MatchProgress", "SOURCES"]

DEFAULT_BUDGET = 2.0  # seconds: the app's default search time
#: where a candidate came from, as the app and the CLI name it
SOURCES = {"index": "sound index", "model": "model's answer", "posterior": "model posterior",
           "param_posterior": "parameter posterior", "library": "library",
           "imported": "imported preset", "previous": "previous match", "polish": "polished"}
_SAME = 1e-6  # parameter rows closer than this (max abs) are one preset
_DEEPEST = 2000  # index neighbours per pitch hypothesis the deepening may reach
_DEEPEN_BATCH = 32


@dataclass(frozen=True)
class MatchCandidate:
    """A preset (normalised values, the engine's parameter order) and its SC to the target."""

    params: np.ndarray
    distance: float
    source: str  # a key of SOURCES
    label: str = ""  # a library preset's name, an index row, ...
    z: np.ndarray | None = None  # the model's latent, where the model gave one
    note: int = REFERENCE_NOTE  # the MIDI note it is played at to sound like the target

    @property
    def source_name(self) -> str:
        return SOURCES.get(self.source, self.source)


@dataclass(frozen=True)
class MatchProgress:
    stage: str  # "candidates" (the first answer) or "polish"
    renders: int
    seconds: float
    best: tuple[MatchCandidate, ...]  # the top-K so far, best first


@dataclass(frozen=True)
class MatchOutcome:
    target: MatchTarget
    candidates: tuple[MatchCandidate, ...]  # top-K, best first
    model_answer: MatchCandidate | None  # kept so the app can always list it
    renders: int
    seconds: float
    first_seconds: float  # time to the first (unpolished) ranking
    cancelled: bool
    notes: tuple[str, ...] = ()
    index_seen: frozenset[tuple[int, str]] = frozenset()  # (note, index row) already rendered

    @property
    def best(self) -> MatchCandidate:
        return self.candidates[0]


@dataclass(frozen=True)
class EngineSettings:
    neighbours: int = 16  # index candidates
    posterior_samples: int = 4  # draws of the model's posterior (after the first answer)
    # The parameter posterior: for the first answer one ranked batch of draws for the input's
    # own pitch (the densest is "most likely"), more draws after it for both pitches (the
    # second gets half). One call at first: each draw is a render the first answer waits for.
    flow_first: int = 8
    flow_more: int = 56
    library_neighbours: int = 4  # nearest of the user's library and imported presets
    previous: int = 2  # best candidates of the previous match carried over
    top: int = 5
    deepen_share: float = 0.5  # of the search time spent on more index neighbours
    polish: PolishSettings = field(default_factory=PolishSettings)


class _Pool:
    """Every scored candidate of one match, distinct by parameters, best first on demand."""

    def __init__(self) -> None:
        self.items: list[MatchCandidate] = []
        self.index_seen: set[tuple[int, str]] = set()  # (note, index row) rendered

    def add(self, candidate: MatchCandidate) -> None:
        self.items.append(candidate)
        if candidate.source == "index":
            self.index_seen.add((candidate.note, candidate.label))

    def same(self, a: MatchCandidate, b: MatchCandidate) -> bool:
        return a.note == b.note and bool(np.max(np.abs(a.params - b.params)) <= _SAME)

    def top(self, k: int) -> tuple[MatchCandidate, ...]:
        # Stable: on a tie the earlier source (the model's answer, then the index) wins.
        chosen: list[MatchCandidate] = []
        for c in sorted(self.items, key=lambda c: c.distance):
            if not any(self.same(c, o) for o in chosen):
                chosen.append(c)
                if len(chosen) == k:
                    break
        return tuple(chosen)


class MatchEngine:
    """Finds presets for sounds from an index, a model and the user's presets (see module)."""

    def __init__(self, names: Sequence[str], *, matcher: Matcher | None = None,
                 index: SoundIndex | None = None, workers: int | None = None,
                 settings: EngineSettings | None = None,
                 posterior: LoadedPosterior | None = None) -> None:
        self.names = tuple(names)
        if matcher is not None and tuple(matcher.names) != self.names:
            raise ValueError("the model's parameters differ from the engine's")
        if index is not None and index.names != self.names:
            raise SoundIndexError(
                f"the sound index covers {len(index.names)} other parameters than the model's "
                f"{len(self.names)}; build one for them with `flowsynth index build --params "
                f"{len(self.names)} --out DIR`")
        if posterior is not None and (index is None or posterior.param_names != self.names
                                      or posterior.embedding != index.fingerprint):
            raise ValueError("the parameter posterior needs the sound index it was trained on "
                             "and the engine's parameters (see matching.loading)")
        self.matcher, self.index, self.posterior = matcher, index, posterior
        self.settings = settings or EngineSettings()
        self.scorer = Scorer(self.names, workers)
        self._presets: dict[str, tuple[list[tuple[str, np.ndarray]], np.ndarray]] = {}
        self._previous: tuple[MatchCandidate, ...] = ()
        self._embedded: tuple[np.ndarray, np.ndarray] | None = None  # (audio, its embedding)

    def close(self) -> None:
        self.scorer.close()

    # --- the user's presets ----------------------------------------------------------------

    def set_presets(self, source: str, presets: Sequence[tuple[str, np.ndarray]]) -> None:
        """The user's presets of one ``source`` (the library, an imported folder; label and
        values in the engine's order), replacing that source's earlier ones. They are embedded
        once here (rendered at the reference note) and searched by sound at every match;
        without an index (no embedding) they are not searched."""
        entries = [(label, np.clip(np.asarray(v, np.float64), 0.0, 1.0)) for label, v in presets]
        if not entries or self.index is None:
            self._presets.pop(source, None)
            return
        values = np.stack([v for _, v in entries])
        embedding = self.index.embed(render_mels(values, self.names, REFERENCE_NOTE,
                                                     self.scorer.workers))
        self._presets[source] = (entries, embedding)

    # --- matching --------------------------------------------------------------------------

    def match(self, target: MatchTarget, *, budget: float = DEFAULT_BUDGET,
              top: int | None = None, seed: int = 0,
              progress: Callable[[MatchProgress], None] | None = None,
              should_stop: StopFlag = None) -> MatchOutcome:
        """Candidates, ranked by rendering, then polished until ``budget`` seconds have passed
        since the call (0: the first ranking only) or ``should_stop``; see the module doc."""
        started = time.perf_counter()
        if (top is not None and top < 1) or not budget >= 0:
            raise ValueError(f"match: top must be >= 1 and budget >= 0, got {top}, {budget}")
        pool, renders_before = _Pool(), self.scorer.renders
        proposed, notes = self._propose(target, seed)
        if not proposed:
            raise ValueError("match: no candidate source (load a model or a sound index)")
        for scored in self._score(proposed, target):
            pool.add(scored)
        answers = [c for c in pool.items if c.source == "model"]
        outcome = MatchOutcome(target, pool.top(top or self.settings.top),
                               answers[0] if answers else None, 0, 0.0,
                               time.perf_counter() - started, False, tuple(notes))
        return self._search_from(pool, outcome, started, renders_before, budget, top, seed,
                                 progress, should_stop, first_report=True)

    def search_on(self, outcome: MatchOutcome, *, budget: float = DEFAULT_BUDGET,
                  top: int | None = None, seed: int = 1,
                  progress: Callable[[MatchProgress], None] | None = None,
                  should_stop: StopFlag = None) -> MatchOutcome:
        """Go on from an earlier outcome for ``budget`` more seconds (the app's live search
        after its first answer; "search longer"): its candidates stay, the index sounds it
        rendered are not rendered again."""
        pool = _Pool()
        pool.items.extend(outcome.candidates)
        pool.index_seen |= outcome.index_seen
        return self._search_from(pool, outcome, time.perf_counter(), self.scorer.renders,
                                 budget, top, seed, progress, should_stop, first_report=False)

    def _search_from(self, pool: _Pool, outcome: MatchOutcome, started: float,
                     renders_before: int, budget: float, top: int | None, seed: int,
                     progress: Callable[[MatchProgress], None] | None, should_stop: StopFlag,
                     first_report: bool) -> MatchOutcome:
        k = top or self.settings.top

        def report(stage: str) -> None:
            if progress is not None:
                progress(MatchProgress(stage, self.scorer.renders - renders_before,
                                       time.perf_counter() - started, pool.top(k)))

        if first_report:
            report("candidates")
        cancelled = stop_requested(should_stop)
        if budget > 0 and not cancelled:
            cancelled = self._search(pool, outcome.target, started, started + budget, seed,
                                     report, should_stop)
        best = pool.top(k)
        self._previous = best[: self.settings.previous]
        return replace(outcome, candidates=best, renders=self.scorer.renders - renders_before,
                       seconds=time.perf_counter() - started, cancelled=cancelled,
                       index_seen=frozenset(pool.index_seen))

    def _score(self, candidates: list[MatchCandidate], target: MatchTarget,
               ) -> list[MatchCandidate]:
        """The candidates with their distances, rendered note by note (one batch each)."""
        scored: list[MatchCandidate] = []
        for note in dict.fromkeys(c.note for c in candidates):
            group = [c for c in candidates if c.note == note]
            distances = self.scorer.scores(np.stack([c.params for c in group]), note, target.mel)
            scored += [MatchCandidate(c.params, float(d), c.source, c.label, c.z, c.note)
                       for c, d in zip(group, distances, strict=True)]
        return scored

    def _search(self, pool: _Pool, target: MatchTarget, started: float, deadline: float,
                seed: int, report: Callable[[str], None], should_stop: StopFlag) -> bool:
        """Posterior draws, then more index neighbours for a share of the time, then polish:
        returns cancelled. The draws wait until after the first answer: they never improved
        its median (0.553 / 0.561 with or without 4 + 2 draws, ``docs/RESULTS.md``) and cost
        a quarter of its time."""
        if self._score_posterior(pool, target, seed, report, should_stop):
            return True
        share = self.settings.deepen_share if self.index is not None else 0.0
        if share > 0 and self._deepen(pool, target, started + share * (deadline - started),
                                      report, should_stop):
            return True
        return self._polish(pool, target, deadline, seed, report, should_stop)

    def _score_posterior(self, pool: _Pool, target: MatchTarget, seed: int,
                         report: Callable[[str], None], should_stop: StopFlag) -> bool:
        if stop_requested(should_stop):
            return True
        """Draws of the model's posterior and of the parameter posterior, scored together."""
        samples = self.settings.posterior_samples
        found: list[MatchCandidate] = []
        for rank, (note, heard) in enumerate(self._hypotheses(target)):
            draws = (self.matcher.sample_posterior(heard, samples >> rank, seed)
                     if self.matcher is not None and samples else None)
            if draws is not None:
                found += [MatchCandidate(v, np.nan, "posterior", z=zi, note=note)
                          for zi, v in zip(*draws, strict=True)]
            if self.posterior is not None:
                found += self._flow_candidates(heard, note, self.settings.flow_more >> rank,
                                               seed + 1)
        if found:
            for c in self._score(found, target):
                pool.add(c)
            report("polish")
        return False

    def _deepen(self, pool: _Pool, target: MatchTarget, until: float,
                report: Callable[[str], None], should_stop: StopFlag) -> bool:
        """Render the next nearest index sounds (both pitch hypotheses, nearest first, in
        batches) until ``until``: more of the index, where a sound is likeliest. Measured:
        250 neighbours re-ranked beat CMA-ES from the model at equal time (``RESULTS.md``)."""
        assert self.index is not None
        seen = pool.index_seen
        queue: list[MatchCandidate] = []
        for note, heard in self._hypotheses(target):
            rows, _ = self.index.nearest(self.embed(heard), _DEEPEST)
            queue.append([MatchCandidate(v, np.nan, "index", f"index #{r}", note=note)
                          for r, v in zip(rows, self.index.params(rows), strict=True)
                          if (note, f"index #{r}") not in seen])
        # Interleaved, the input's own pitch first: each batch tries both hypotheses.
        order = [c for pair in zip(*queue, strict=False) for c in pair] if len(queue) > 1 \
            else queue[0]

        def step(batch: slice) -> None:
            for c in self._score(order[batch], target):
                pool.add(c)
            report("polish")

        return batches_until(len(order), _DEEPEN_BATCH, until, should_stop, step)

    def _hypotheses(self, target: MatchTarget) -> list[tuple[int, np.ndarray]]:
        """(note to play, audio the sources hear): the input's pitch played by the note, and
        (when that is not the reference note) the preset's own tuning making it at 60."""
        hypotheses = [(target.note, target.at_reference)]
        if target.note != REFERENCE_NOTE:
            hypotheses.append((REFERENCE_NOTE, target.audio))
        return hypotheses

    def _polish(self, pool: _Pool, target: MatchTarget, deadline: float, seed: int,
                report: Callable[[str], None], should_stop: StopFlag) -> bool:
        # Polish at the note of the best candidate: the pitch hypothesis that won.
        note = pool.top(1)[0].note
        starts = [c.params for c in pool.top(self.settings.polish.starts) if c.note == note]

        def seen(rows: np.ndarray, distances: np.ndarray) -> None:
            best = int(np.argmin(distances))  # the pool keeps each generation's best
            pool.add(MatchCandidate(rows[best].copy(), float(distances[best]), "polish",
                                    note=note))
            report("polish")

        _, cancelled = polish(starts, lambda rows: self.scorer.scores(rows, note, target.mel),
                              deadline, self.settings.polish, seed, seen, should_stop)
        return cancelled

    def _propose(self, target: MatchTarget, seed: int) -> tuple[list[MatchCandidate], list[str]]:
        """Unscored candidates from every source there is, duplicates dropped.

        Two pitch hypotheses when the input's pitch is not the reference note: the preset plays
        the input's note (sources see the input transposed to the reference note), or the
        preset's own tuning makes that pitch at the reference note (sources see the input as
        it is). Presets with tuning knobs are heard both ways; the renders decide.
        """
        s, found, notes = self.settings, [], []
        for rank, (note, heard) in enumerate(self._hypotheses(target)):
            found += self._model_candidates(heard, note)
            if self.index is not None:
                found += self._index_candidates(heard, note, s.neighbours >> rank)
            if self.posterior is not None and rank == 0:
                found += self._flow_candidates(heard, note, s.flow_first, seed, ranked=True)
        found += [MatchCandidate(c.params, np.nan, "previous", c.label, c.z, c.note)
                  for c in self._previous]
        pool = _Pool()
        distinct: list[MatchCandidate] = []
        for c in found:
            if not any(pool.same(c, o) for o in distinct):
                distinct.append(c)
        return distinct, notes

    def _model_candidates(self, heard: np.ndarray, note: int) -> list[MatchCandidate]:
        if self.matcher is None:
            return []
        params, z = self.matcher.infer(heard)
        return [MatchCandidate(np.array([params[n] for n in self.names]), np.nan, "model", z=z,
                               note=note)]

    def _flow_candidates(self, heard: np.ndarray, note: int, count: int, seed: int,
                         ranked: bool = False) -> list[MatchCandidate]:
        """``count`` draws of the parameter posterior for the sound; ``ranked``: densest
        first, labelled "most likely" (sampling only, nothing rendered to choose it)."""
        assert self.posterior is not None
        if count < 1:
            return []
        values, _ = self.posterior.propose(self.embed(heard), count, seed + 7919,
                                           ranked=ranked)
        return [MatchCandidate(v, np.nan, "param_posterior",
                               "most likely" if ranked and i == 0 else "", note=note)
                for i, v in enumerate(values)]

    def embed(self, heard: np.ndarray) -> np.ndarray:
        """The index embedding of the audio the sources hear (memoised for the last one:
        the index, the library and the posterior all ask for it)."""
        assert self.index is not None
        if self._embedded is None or self._embedded[0] is not heard:
            query = self.index.embed(mel_magnitude(heard, DEFAULT_SAMPLE_RATE)[None])[0]
            self._embedded = (heard, query)
        return self._embedded[1]

    def _index_candidates(self, heard: np.ndarray, note: int, k: int) -> list[MatchCandidate]:
        assert self.index is not None
        query = self.embed(heard)
        rows, _ = self.index.nearest(query, k)
        found = [MatchCandidate(v, np.nan, "index", f"index #{r}", note=note)
                 for r, v in zip(rows, self.index.params(rows), strict=True)]
        if self._presets:
            entries = [("library" if source == "library" else "imported", label, values)
                       for source, (group, _) in self._presets.items() for label, values in group]
            embedding = np.concatenate([emb for _, emb in self._presets.values()])
            distance = np.linalg.norm(embedding - query, axis=1)
            for i in np.argsort(distance)[: self.settings.library_neighbours]:
                kind, label, values = entries[int(i)]
                found.append(MatchCandidate(values, np.nan, kind, label, note=note))
        return found
