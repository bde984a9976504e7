"""The Explorer: one object the app owns, holding the current sound, its history and tools.

:class:`Explorer` keeps the current latent ``z``, the current parameters (the model's set, in
its order, plus ``extras``: values of synth parameters outside that set, e.g. the effects of
an imported ``.h2p``, which exploring leaves as they are) and the current note. The GUI calls
its methods from worker threads; state changes happen under one lock, and the long jobs
(macro ranking, refinement) compute outside it.

A preset the model does not reproduce exactly (an imported Diva preset, a hand edit) is kept as
its latent plus a *residual* ``v - f(z)``, the part of the sound the model cannot say. Moving
away (sliders, knobs, the map, neighbours) adds that residual faded with the latent distance
from where the preset was loaded (:func:`residual_weight`, gone at ``RESIDUAL_FADE``): the
first nudge changes the sound a little instead of jumping to the model's reading of it, and
moving back returns the preset exactly (the interpolation fades its ends' residuals too).

History: discrete jumps (``load_preset``, ``match``, ``choose``, ``set_latent``, a macro or
slider release) are recorded by default. Continuous gestures pass ``record=False`` while
dragging and call :meth:`Explorer.commit` on release; :meth:`Explorer.undo` commits a pending
change first, so the dragged-to sound can be redone.

The explorer imports no Qt, no sounddevice and no training code.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from flowsynth_gui.data.dataset import LoadedDataset
from flowsynth_gui.data.renders import StopFlag
from flowsynth_gui.explorer.history import History, HistoryEntry
from flowsynth_gui.explorer.macros import Macro, MacroCache, MacroSettings
from flowsynth_gui.explorer.map_sources import (
    dataset_points,
    model_vector,
    preset_points,
    sound_points,
)
from flowsynth_gui.explorer.neighbourhood import (
    Interpolation,
    LatentPreset,
    interpolate,
    sample_neighbours,
)
from flowsynth_gui.explorer.preset_map import PresetMap
from flowsynth_gui.explorer.refine import Candidate, RefineProgress, RefineResult, refine_match
from flowsynth_gui.inference.analysis import ImitationTarget, MatchTarget, analyse_audio
from flowsynth_gui.inference.match import REFERENCE_NOTE, Matcher
from flowsynth_gui.latent.codec import LatentCodec
from flowsynth_gui.latent.sliders import SemanticSlider, semantic_sliders
from flowsynth_gui.matching.engine import (
    DEFAULT_BUDGET,
    MatchCandidate,
    MatchEngine,
    MatchOutcome,
    MatchProgress,
)
from flowsynth_gui.matching.imitation import ImitationOutcome, ImitationProgress, Imitator
from flowsynth_gui.matching.index import SoundIndex
from flowsynth_gui.matching.shape_distance import ShapeQuery, ShapeTable
from flowsynth_gui.models import LoadedCheckpoint, load_checkpoint
from flowsynth_gui.models.param_posterior import LoadedPosterior
from flowsynth_gui.presets.h2p import H2pPreset
from flowsynth_gui.presets.library import Preset, PresetFormatError, PresetLibrary
from flowsynth_gui.synth.params import init_patch
from flowsynth_gui.synth.render import RENDER_SECONDS, check_note, render

__all__ = ["Explorer", "ExplorerSnapshot", "PresetLike", "RESIDUAL_FADE", "residual_weight"]

#: latent distance over which a loaded preset's residual fades out (prior units; the sliders
#: span 6, a neighbour at radius 1 keeps half of it)
RESIDUAL_FADE = 2.0


def residual_weight(distance: np.ndarray) -> np.ndarray:
    """How much of a loaded preset's residual remains at latent ``distance`` from it: 1 there,
    0 from ``RESIDUAL_FADE`` on, a smoothstep between. Its slope is zero at the preset, so that
    a small nudge keeps nearly all of the residual (a linear fade lost 5 % on a 0.1 nudge,
    audible on a residual of a cutoff or a volume)."""
    x = np.clip(np.asarray(distance, dtype=np.float64) / RESIDUAL_FADE, 0.0, 1.0)
    return 1.0 - x * x * (3.0 - 2.0 * x)


def _values_of(preset: Preset | H2pPreset) -> Mapping[str, float]:
    return preset.parameters() if isinstance(preset, H2pPreset) else preset.parameters


#: a preset as the explorer accepts it: parameters by name, or the model's vector
PresetLike = Mapping[str, float] | np.ndarray | Sequence[float]


@dataclass(frozen=True)
class ExplorerSnapshot:
    """The current sound as one consistent reading (:meth:`Explorer.snapshot`)."""

    values: dict[str, float]  # every parameter by name
    z: np.ndarray
    params: np.ndarray  # the model's parameters, in its order
    position: tuple[float, float]  # on the map's current axes
    semantic: tuple[float, ...]
    macros: tuple[float, ...]  # empty until the knobs are ranked
    note: int
    can_undo: bool
    can_redo: bool


class Explorer:
    """Macro-controls, semantic sliders, latent map, neighbourhoods, matching and history."""

    def __init__(self, checkpoint: LoadedCheckpoint, *, note: int = REFERENCE_NOTE,
                 history_depth: int = 200, macro_settings: MacroSettings | None = None,
                 macro_cache: MacroCache | None = None, workers: int | None = None,
                 index: SoundIndex | None = None,
                 posterior: LoadedPosterior | None = None,
                 shapes: ShapeTable | None = None) -> None:
        model = checkpoint.model
        if not (model.has_decoder or model.invertible):
            raise ValueError(f"a {model.config.kind!r} model maps audio straight to parameters "
                             "and has no latent space to explore; load an auto-encoder or a "
                             "flow model ('flow_dis' gives semantic sliders too)")
        check_note(note, 100)
        self.codec = LatentCodec(checkpoint)
        self.map = PresetMap(self.codec.latent_dim)
        self.history = History(history_depth)
        self.macro_settings = macro_settings or MacroSettings()
        self.macro_cache = macro_cache if macro_cache is not None else MacroCache()
        self.workers = workers
        self._matcher = Matcher(checkpoint)
        self.engine = MatchEngine(self.codec.names, matcher=self._matcher, index=index,
                                  workers=workers, posterior=posterior)
        self.imitator = Imitator(self.engine, shapes)
        self._lock = threading.RLock()
        self._note = int(note)
        self._z = np.zeros(self.codec.latent_dim)
        self._z_spare = np.empty_like(self._z)  # move_on_map writes here, then swaps
        self._params = self.codec.to_params(self._z)
        self._anchor_z, self._residual = self._z.copy(), np.zeros_like(self._params)
        self._has_residual = False
        self._extras: dict[str, float] = {}
        self._macros: list[Macro] | None = None
        self._last_match: MatchOutcome | None = None
        self._imitation: ImitationOutcome | None = None
        self._queries: list[ShapeQuery] = []  # the imitation's queries before each feedback
        self._start_at_init()

    def _start_at_init(self) -> None:
        """Begin on the neutral init patch, not at z = 0: the model's centre is an average
        of sounds (a sweeping notch, a burst), not a blank page. Its latent is where the model
        hears it (inside the prior, so the knobs start mid-range); the values stay exact."""
        init = init_patch()
        self.load_preset(init, z=self.heard_latent(init), label="start")

    @classmethod
    def open(cls, path: str | os.PathLike[str], **options: object) -> Explorer:
        """An explorer for the checkpoint at ``path`` (options as for the constructor)."""
        return cls(load_checkpoint(path), **options)  # type: ignore[arg-type]

    # --- the current state -----------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """The model's parameter names, the order of every parameter vector here."""
        return self.codec.names

    @property
    def z(self) -> np.ndarray:
        """A copy of the current latent (``move_on_map`` reuses the arrays it replaces)."""
        with self._lock:
            return self._z.copy()

    @property
    def params(self) -> np.ndarray:
        """A copy of the current parameters, in the model's order."""
        with self._lock:
            return self._params.copy()

    @property
    def note(self) -> int:
        return self._note

    def set_note(self, note: int) -> None:
        check_note(note, 100)
        self._note = int(note)

    def preset(self) -> dict[str, float]:
        """Every parameter of the current sound by name: the model's ones, then the extras."""
        with self._lock:
            return {**dict(zip(self.names, self._params.tolist(), strict=True)), **self._extras}

    def snapshot(self) -> ExplorerSnapshot:
        """Everything a view of the current sound shows, read under one lock: consistent
        while other threads move the sound (the publisher's one read per gesture step)."""
        with self._lock:
            z, params = self._z.copy(), self._params.copy()
            values = {**dict(zip(self.names, params.tolist(), strict=True)), **self._extras}
            current = self.history.current
            dirty = current is not None and not np.array_equal(current.params, params)
            can_undo, can_redo = self.history.can_undo or dirty, self.history.can_redo and not dirty
        x, y = self.map.project(z)
        return ExplorerSnapshot(
            values, z, params, (float(x), float(y)),
            tuple(float(z[s.dim]) for s in self.semantic_sliders()),
            tuple(float(z[m.dim]) for m in (self._macros or [])), self._note, can_undo,
            can_redo)

    def render(self, duration: float = RENDER_SECONDS) -> np.ndarray:
        """The current sound at the current note (mono float32, 22,050 Hz), for previews."""
        return render(self.preset(), note=self.note, duration=duration)

    def _entry(self, label: str) -> HistoryEntry:
        return HistoryEntry(self._params, self._z, label, self._extras)

    def _restore(self, entry: HistoryEntry) -> dict[str, float]:
        self._params = np.array(entry.params)
        self._z = np.array(entry.z) if entry.z is not None else self.codec.to_latent(entry.params)
        self._extras = dict(entry.extras)
        self._anchor_here()
        return self.preset()

    def _anchor_here(self) -> None:
        """The current sound, set explicitly, becomes the anchor (under the lock)."""
        self._anchor_z = self._z.copy()
        self._residual = self._params - self.codec.to_params(self._z)
        self._has_residual = bool(np.any(self._residual))

    def _params_at(self, z: np.ndarray) -> np.ndarray:
        """Parameters at latent(s) ``z``: ``f(z)`` plus the anchor's residual, faded."""
        params = self.codec.to_params(z)
        if not self._has_residual:  # the model's own sounds (sketches, matches): the cursor path
            return params
        distance = np.linalg.norm(np.atleast_2d(z) - self._anchor_z, axis=1)
        weight = residual_weight(distance)
        if not weight.any():
            return params
        faded = params + (weight[:, None] * self._residual).reshape(params.shape)
        return np.clip(faded, 0.0, 1.0, out=faded)

    # --- moving the current sound ----------------------------------------------------------

    def set_latent(self, z: np.ndarray, *, record: bool = True, label: str = "latent",
                   ) -> np.ndarray:
        """Go to latent ``z``; returns the new parameters."""
        latent = np.asarray(z, dtype=np.float64)
        if latent.shape != (self.codec.latent_dim,) or not np.all(np.isfinite(latent)):
            raise ValueError(f"z must hold {self.codec.latent_dim} finite values, got "
                             f"shape {latent.shape}")
        with self._lock:
            params = self._params_at(latent)
            self._z, self._params = latent.copy(), params
            if record:
                self.commit(label)
            return params.copy()

    def load_preset(self, params: PresetLike, *, z: np.ndarray | None = None,
                    record: bool = True, label: str = "preset") -> np.ndarray:
        """Make a preset current, its values kept exactly; returns its latent.

        The latent is ``z`` when given (e.g. a sound's encoding, or the current latent for an
        edit), else ``f^-1(params)``, which raises :class:`~flowsynth_gui.models.NotInvertible`
        for a non-invertible model. The preset becomes the anchor of later moves.
        """
        vector, extras = self._split(params)
        latent = self.codec.to_latent(vector) if z is None else np.asarray(z, np.float64).copy()
        if latent.shape != (self.codec.latent_dim,):
            raise ValueError(f"z must have shape ({self.codec.latent_dim},), got {latent.shape}")
        with self._lock:
            self._params, self._z, self._extras = vector, latent, extras
            self._anchor_here()
            if record:
                self.commit(label)
            return latent.copy()

    def heard_latent(self, params: PresetLike) -> np.ndarray:
        """Where the model hears a preset: its render (the model's parameters) encoded. The
        map places presets there; unlike ``f^-1`` it stays inside the prior for presets the
        model does not reproduce (see ``map_sources.py``)."""
        return self.codec.encode_presets(self._split(params)[0][None], self.workers)[0]

    def _split(self, params: PresetLike) -> tuple[np.ndarray, dict[str, float]]:
        """A preset → (model-order vector, extras by name), validated."""
        if isinstance(params, Mapping):
            extras = {k: float(v) for k, v in params.items() if k not in set(self.names)}
            return model_vector(params, self.names), extras
        vector = np.array(params, dtype=np.float64)
        if vector.shape != (len(self.names),) or not np.all((vector >= 0) & (vector <= 1)):
            raise ValueError(f"a parameter vector must hold {len(self.names)} values in [0, 1] "
                             f"in the model's order, got shape {vector.shape}")
        return vector, {}

    def move_on_map(self, x: float, y: float, *, record: bool = False) -> np.ndarray:
        """Go to map position ``(x, y)`` (off-plane latent kept); returns the parameters.

        The cursor path: one flow pass on one row, no torch thread pool (well under 2 ms).
        """
        with self._lock:
            z = self.map.lift(x, y, self._z, out=self._z_spare)
            params = self._params_at(z)
            self._z_spare, self._z, self._params = self._z, z, params
            if record:
                self.commit("map")
            return params.copy()

    def map_position(self) -> tuple[float, float]:
        """Where the current sound sits in the map's current axes."""
        x, y = self.map.project(self.z)
        return float(x), float(y)

    def commit(self, label: str = "") -> bool:
        """Record the current state in the history unless it is already the current entry."""
        with self._lock:
            entry = self._entry(label)
            current = self.history.current
            if current is not None and current.same_preset(entry):
                return False
            self.history.push(entry)
            return True

    def undo(self) -> dict[str, float] | None:
        """Back to the previous preset (exact values); None when there is none."""
        with self._lock:
            self.commit("unsaved change")
            entry = self.history.undo()
            return None if entry is None else self._restore(entry)

    def redo(self) -> dict[str, float] | None:
        with self._lock:
            entry = self.history.redo()
            return None if entry is None else self._restore(entry)

    # --- macro-controls and semantic sliders -----------------------------------------------

    def macros(self, k: int = 8, *, progress: Callable[[int, int], None] | None = None,
               should_stop: StopFlag = None) -> list[Macro]:
        """The ``k`` most audible latent dimensions as knobs (ranked once per model, cached).

        Flow_dis's semantic dimensions are left out: they have sliders of their own.
        """
        ranking = self.macro_cache.ranking(self.codec, self.macro_settings, workers=self.workers,
                                           progress=progress, should_stop=should_stop)
        macros = ranking.macros(k, exclude=tuple(range(self.codec.n_semantic)))
        self._macros = macros
        return macros

    def macro_values(self) -> list[float]:
        z = self.z
        return [float(z[m.dim]) for m in (self._macros or [])]

    def set_macro(self, index: int, value: float, *, record: bool = True) -> np.ndarray:
        """Turn knob ``index`` to latent value ``value`` (clamped to the knob's range); ranks the
        dimensions first if that was not done yet (renders: call :meth:`macros` off the GUI
        thread first)."""
        knobs = self._macros if self._macros is not None else self.macros()
        if not 0 <= index < len(knobs):
            raise IndexError(f"there are {len(knobs)} macro knobs, not {index + 1}")
        if not np.isfinite(value):
            raise ValueError(f"{knobs[index].name}: value must be finite, got {value!r}")
        low, high = knobs[index].range
        return self._set_dim(knobs[index].dim, min(high, max(low, value)), record,
                             knobs[index].name)

    def semantic_sliders(self) -> list[SemanticSlider]:
        """Flow_dis's tagged dimensions (empty for other models)."""
        return semantic_sliders(self.codec)

    def semantic_values(self) -> list[float]:
        z = self.z
        return [float(z[s.dim]) for s in self.semantic_sliders()]

    def set_semantic(self, index: int, value: float, *, record: bool = True) -> np.ndarray:
        """Move slider ``index`` (clamped to −3…3); returns the new parameters."""
        sliders = self.semantic_sliders()
        if not sliders:
            raise ValueError(f"a {self.codec.kind!r} model has no semantic dimensions; "
                             "semantic sliders need a 'flow_dis' model")
        if not 0 <= index < len(sliders):
            raise IndexError(f"there are {len(sliders)} semantic sliders, not {index + 1}")
        slider = sliders[index]
        return self._set_dim(slider.dim, slider.clamp(value), record, slider.label)

    def _set_dim(self, dim: int, value: float, record: bool, label: str) -> np.ndarray:
        if not np.isfinite(value):
            raise ValueError(f"{label}: value must be finite, got {value!r}")
        with self._lock:
            z = self._z.copy()
            z[dim] = value
            return self.set_latent(z, record=record, label=label)

    # --- the map ---------------------------------------------------------------------------

    def add_dataset_to_map(self, dataset: LoadedDataset, which: str | None = None,
                           limit: int | None = None) -> int:
        """Place a dataset's sounds (by their audio); returns how many were added."""
        points = dataset_points(self.codec, dataset, which, limit)
        with self._lock:
            self.map.add(points)
        return len(points)

    def add_presets_to_map(self, presets: Iterable[Preset | H2pPreset],
                           source: str = "library", latents: np.ndarray | None = None) -> int:
        """Place presets without audio where the model hears them (rendered, encoded), or at
        ``latents`` for presets the model made itself (``params = f(z)``)."""
        presets = list(presets)
        points = preset_points(self.codec, presets, source, self.workers, latents)
        with self._lock:
            self.map.add(points)
        if source != "sketch":  # the user's presets are candidates of every match
            entries = [(p.name, model_vector(_values_of(p), self.names)) for p in presets]
            self.engine.set_presets(source, entries)
            self.imitator.set_presets(source, entries)
        return len(points)

    def add_library_to_map(self, library: PresetLibrary) -> tuple[int, list[str]]:
        """Place (again) every readable preset of a library: (added, names skipped)."""
        presets, skipped = [], []
        for name in library.list():
            try:
                presets.append(library.load(name))
            except (PresetFormatError, OSError):
                skipped.append(name)
        with self._lock:
            self.map.remove_source("library")
        return self.add_presets_to_map(presets, "library"), skipped

    def add_sounds_to_map(self, sounds: Mapping[str, np.ndarray], sample_rate: int,
                          source: str = "sound") -> int:
        """Place named 4 s sounds at the reference pitch (by ``encode``)."""
        points = sound_points(self.codec, sounds, sample_rate, source)
        with self._lock:
            self.map.add(points)
        return len(points)

    def set_map_axes(self, dims: tuple[int, int] | None = None) -> None:
        """Two latent dimensions as axes, or ``None`` for the points' first two PCs."""
        with self._lock:
            if dims is None:
                self.map.set_pca()
            else:
                self.map.set_dims(*dims)

    def go_to_map_point(self, index: int) -> dict[str, float]:
        """Load map point ``index``: its own parameters when known (else its latent), at the
        point's place, so that the cursor lands on the point clicked."""
        point = self.map.points[index]
        if point.params is None:
            self.set_latent(point.z, label=point.name)
        else:
            self.load_preset(point.params, z=point.z, label=point.name)
        return self.preset()

    # --- neighbourhood and interpolation ---------------------------------------------------

    def neighbours(self, n: int, radius: float, seed: int = 0) -> list[LatentPreset]:
        """``n`` presets at latent distance ``radius`` around the current sound."""
        with self._lock:
            z = sample_neighbours(self._z, n, radius, seed)
            params = self._params_at(z)
        return [LatentPreset(z[i], params[i]) for i in range(n)]

    def interpolate(self, a: PresetLike, b: PresetLike, steps: int) -> Interpolation:
        """``steps`` presets from ``a`` to ``b`` along the latent path (ends exact) and the
        straight parameter path. The path runs between where the model hears the two presets
        (their renders, encoded), not between their ``f^-1`` (see ``neighbourhood.py``)."""
        v_a, v_b = self._split(a)[0], self._split(b)[0]
        ends = self.codec.encode_presets(np.stack([v_a, v_b]), self.workers)
        return interpolate(self.codec, v_a, v_b, steps, ends=ends)

    # --- matching --------------------------------------------------------------------------

    def match(self, samples: np.ndarray, sample_rate: int, *, budget: float = 0.0,
              record: bool = True, progress: Callable[[MatchProgress], None] | None = None,
              should_stop: StopFlag = None) -> MatchOutcome:
        """Find presets for audio with the matching engine (at the input's pitch) and make
        the best current; ``budget`` seconds of polish (0: the first ranking only)."""
        return self.match_target(analyse_audio(samples, sample_rate), budget=budget,
                                 record=record, progress=progress, should_stop=should_stop)

    def match_target(self, target: MatchTarget, *, budget: float = DEFAULT_BUDGET,
                     record: bool = True,
                     progress: Callable[[MatchProgress], None] | None = None,
                     should_stop: StopFlag = None) -> MatchOutcome:
        """:meth:`match` for an analysed target (the app analyses first, to show it)."""
        outcome = self.engine.match(target, budget=budget, progress=progress,
                                    should_stop=should_stop)
        with self._lock:
            self._last_match = outcome
            self._adopt(outcome.best, "match" if record else None)
        return outcome

    def match_again(self, *, budget: float = DEFAULT_BUDGET,
                    progress: Callable[[MatchProgress], None] | None = None,
                    should_stop: StopFlag = None) -> MatchOutcome:
        """Search on from the last match's candidates for ``budget`` seconds (the state is
        not changed: pass a candidate to :meth:`choose`). ValueError before any match."""
        last = self._last_match
        if last is None:
            raise ValueError("search again needs a sound to match: call match() first")
        outcome = self.engine.search_on(last, budget=budget, progress=progress,
                                        should_stop=should_stop)
        self._last_match = outcome
        return outcome

    @property
    def last_match(self) -> MatchOutcome | None:
        """The last match's outcome (after :meth:`match_again`, the longer search's)."""
        return self._last_match

    # --- imitation ---------------------------------------------------------------------------

    def imitate(self, target: ImitationTarget, *, budget: float = 0.0,
                progress: Callable[[ImitationProgress], None] | None = None,
                should_stop: StopFlag = None) -> ImitationOutcome:
        """Presets whose shape follows an imitation (``matching.imitation``); the best
        becomes current. A new imitation starts without feedback."""
        outcome = self.imitator.imitate(target, budget=budget, progress=progress,
                                        should_stop=should_stop)
        with self._lock:
            self._imitation, self._queries = outcome, []
            self._adopt_shape_match(outcome.best, "imitation")
        return outcome

    def imitate_again(self, *, budget: float = DEFAULT_BUDGET, query: ShapeQuery | None = None,
                      progress: Callable[[ImitationProgress], None] | None = None,
                      should_stop: StopFlag = None) -> ImitationOutcome:
        """Search on for the last imitation (with ``query``: a changed question), ranking what
        it rendered again. The state is not changed. ValueError before any imitation."""
        last = self._imitation
        if last is None:
            raise ValueError("imitate again needs an imitation: call imitate() first")
        outcome = self.imitator.imitate(last.target, query=query or last.query, again=last,
                                        budget=budget, progress=progress,
                                        should_stop=should_stop)
        self._imitation = outcome
        return outcome

    def imitation_feedback(self, closer: Sequence[int], further: Sequence[int], *,
                           budget: float = 0.0) -> ImitationOutcome:
        """The user marked candidates (rows of the last imitation's list) closer / further:
        the query moves and the search runs again (undo with :meth:`undo_feedback`)."""
        last = self._imitation
        if last is None:
            raise ValueError("feedback needs an imitation: call imitate() first")
        query = self.imitator.feedback(last, closer, further)
        self._queries.append(last.query)
        return self.imitate_again(budget=budget, query=query)

    def undo_feedback(self, *, budget: float = 0.0) -> ImitationOutcome:
        if not self._queries:
            raise ValueError("no feedback to undo")
        return self.imitate_again(budget=budget, query=self._queries.pop())

    def clear_feedback(self, *, budget: float = 0.0) -> ImitationOutcome:
        """Back to the imitation's own shape and the default weights."""
        last = self._imitation
        if last is None:
            raise ValueError("no imitation to clear the feedback of")
        self._queries.clear()
        return self.imitate_again(budget=budget, query=ShapeQuery.of(last.target.shape))

    @property
    def last_imitation(self) -> ImitationOutcome | None:
        return self._imitation

    @property
    def feedback_depth(self) -> int:
        """Feedback rounds that :meth:`undo_feedback` can take back."""
        return len(self._queries)

    def _adopt_shape_match(self, candidate: MatchCandidate, label: str | None) -> None:
        """An imitation candidate becomes current (under the lock), placed where the model
        hears the preset itself: the imitation's own latent is a voice's."""
        if candidate.z is None:
            z = self.codec.encode_presets(candidate.params[None], self.workers)[0]
            candidate = MatchCandidate(candidate.params, candidate.distance, candidate.source,
                                       candidate.label, z, candidate.note)
        self._adopt(candidate, label)

    def match_latent(self) -> np.ndarray | None:
        """Where the model hears the last matched sound (the model's encoding of it)."""
        last = self._last_match
        return None if last is None or last.model_answer is None else last.model_answer.z

    def _adopt(self, candidate: MatchCandidate, label: str | None) -> None:
        """A match candidate becomes the current sound (under the lock). It sits where the
        model hears the target; what f does not reproduce of it is the residual."""
        z = candidate.z if candidate.z is not None else self.match_latent()
        if z is None:
            z = self.codec.encode_presets(candidate.params[None], self.workers)[0]
        self._params, self._z, self._extras = candidate.params.copy(), np.array(z, float), {}
        self._note = candidate.note
        self._anchor_here()
        if label is not None:
            self.commit(label)

    def refine(self, *, budget: int = 150, sigma: float = 0.5, keep: int = 5,
               population: int | None = None, time_limit: float | None = None, seed: int = 0,
               progress: Callable[[RefineProgress], None] | None = None,
               should_stop: StopFlag = None) -> RefineResult:
        """Search the latent space around the last match's model answer for closer renders
        (the state is not changed). ValueError before any :meth:`match`."""
        result = self._last_match
        if result is None or result.model_answer is None or result.model_answer.z is None:
            raise ValueError("refine needs a sound to match: call match() first")
        answer = result.model_answer
        return refine_match(self.codec, result.target.mel, answer.z, answer.note,
                            start_params=answer.params, budget=budget, sigma=sigma, keep=keep,
                            population=population, seed=seed, workers=self.workers,
                            time_limit=time_limit, progress=progress, should_stop=should_stop)

    def choose(self, candidate: Candidate | LatentPreset | MatchCandidate,
               label: str = "refined") -> dict[str, float]:
        """Make a match or refinement candidate (or a neighbour) the current sound."""
        if isinstance(candidate, MatchCandidate):
            with self._lock:
                imitation = self._imitation
                if imitation is not None and any(c is candidate
                                                 for c in imitation.candidates):
                    self._adopt_shape_match(candidate, label)
                else:
                    self._adopt(candidate, label)
        else:
            self.load_preset(candidate.params, z=candidate.z, label=label)
        return self.preset()

    # --- saving ----------------------------------------------------------------------------

    def save_preset(self, library: PresetLibrary, name: str, *, tags: Sequence[str] = (),
                    overwrite: bool = False, entry: HistoryEntry | None = None) -> Path:
        """Save the current sound (or a history ``entry``) to ``library``; returns the file."""
        with self._lock:
            chosen = entry if entry is not None else self._entry(name)
        values = {**dict(zip(self.names, chosen.params.tolist(), strict=True)),
                  **dict(chosen.extras)}
        latent = None if chosen.z is None else chosen.z.tolist()
        return library.save(Preset(name, values, list(tags), latent), overwrite=overwrite)
