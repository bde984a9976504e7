"""How alike two sound shapes are (:mod:`flowsynth_gui.features.shape`), and how the user's
"closer" / "further" marks change the question.

For a query ``q`` and a candidate ``c``, each feature ``f`` (loudness, pitch, ...) gives

    d_f = (1 - rho_f) * DTW(q_f, c_f) + rho_f * DTW(rel(q_f), rel(c_f))
    rel(x) = (x - mean(x)) / max(std(x), 0.1) / 4     (the movement alone, at any level)

and the shape distance is the weighted mean of the ``d_f`` and of a length term
``max(0, |log2(len_q / len_c)| - log2(1.3))`` (timing off by ±20 % costs nothing).
DTW is dynamic time warping with a Sakoe-Chiba band of a quarter of the points (a ±25 %
stretch moves a point by at most that much), local cost ``|a - b|``, divided by the number of
points: 0 for the same contour, about the mean absolute difference otherwise.

``rho_f`` (the share of relative shape) is 1 for loudness, brightness and noisiness: a voice
follows a sound's dynamics compressed (a hum spans fewer dB than the pluck it imitates) and cannot
match its absolute timbre (a hum is darker and breathier than a saw, whatever it imitates).
It is a half for pitch and voicing, and 0 for spectral change (how much the spectrum moves
is compared as it is).

The weights say how far each contour of an imitation can be trusted. Loudness carries almost all
of it; timbre, voicing and spectral change only break its ties, and pitch and noisiness start at
zero: on synthesised presets their contours are mostly tracking noise (detuned oscillators,
octave slips) and added only noise to the ranking. Measured as the rank of the imitated sound
among the 40,000 shapes of the shipped index (docs/RESULTS.md, "Vocal imitation"); feedback can
still give every feature weight (below).

Relevance feedback (SynthAssist, Cartwright & Pardo 2014) is Rocchio's rule on the contours —
the query moves half way to the mean of the candidates marked closer and a quarter away from
those marked further — and a multiplicative reweighting: a feature on which the closer ones
are nearer the query than the further ones gains weight, one that tells them apart the wrong
way loses it. Every weight is first raised to a floor (2 % of the total), so that a feature
with no weight by default can gain some when the user's marks point to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numba import njit, prange

from flowsynth_gui.features.pitch import hz_to_midi
from flowsynth_gui.features.shape import FEATURES, POINTS, RANGES, SoundShape

__all__ = ["COLUMNS", "DEFAULT_WEIGHTS", "ShapeQuery", "ShapeTable", "apply_feedback", "combine",
           "shape_distance"]

#: the columns of a feature-distance row: one per shape feature, then the length term
COLUMNS = (*FEATURES, "length")
# Chosen on a tuning set of imitations (make_imitation_set.py --seed 1, 54 index originals)
# by the rank of the imitated sound among the shipped index's 40,000 shapes, and checked on the
# benchmark set (seed 0, other originals): median rank 1761 -> 52, top 10: 12 % -> 38 %.
DEFAULT_WEIGHTS = {"loudness": 1.0, "pitch": 0.0, "voicing": 0.02, "brightness": 0.05,
                   "noisiness": 0.0, "change": 0.02, "length": 0.5}
_RELATIVE = {"loudness": 1.0, "pitch": 0.5, "voicing": 0.5, "brightness": 1.0,
             "noisiness": 1.0, "change": 0.0}
_RHO = np.array([_RELATIVE[f] for f in FEATURES], np.float32)
_RADIUS = max(1, POINTS // 4)
_SLACK = np.log2(1.3)  # ±20 % timing, and where the active part's edges fall
_ROCCHIO_CLOSER, _ROCCHIO_FURTHER, _RATE = 0.5, 0.25, 1.5
_WEIGHT_FLOOR = 0.02  # of the total: what a feature holds before feedback reweights it
_LOW = np.array([RANGES[f][0] for f in FEATURES], np.float32)[:, None]
_HIGH = np.array([RANGES[f][1] for f in FEATURES], np.float32)[:, None]


def _relative(contours: np.ndarray) -> np.ndarray:
    """Movement of each contour (last axis): centred, over its spread (floored), / 4."""
    centred = contours - contours.mean(axis=-1, keepdims=True)
    return (centred / np.maximum(contours.std(axis=-1, keepdims=True), 0.1) / 4.0).astype(
        np.float32)


@njit(cache=True, nogil=True)
def _dtw(a: np.ndarray, b: np.ndarray, radius: int, cells: np.ndarray) -> float:
    n = a.shape[0]
    cells[:, :] = np.inf
    cells[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(max(1, i - radius), min(n, i + radius) + 1):
            best = min(cells[i - 1, j], cells[i, j - 1], cells[i - 1, j - 1])
            cells[i, j] = abs(a[i - 1] - b[j - 1]) + best
    return cells[n, n] / n


@njit(cache=True, nogil=True, parallel=True)
def _feature_distances(q_abs: np.ndarray, q_rel: np.ndarray, c_abs: np.ndarray,
                       c_rel: np.ndarray, rho: np.ndarray, used: np.ndarray,
                       radius: int) -> np.ndarray:
    count, features, points = c_abs.shape
    out = np.zeros((count, features), np.float32)
    for k in prange(count):  # the shapes across the cores
        cells = np.empty((points + 1, points + 1), np.float32)
        for f in range(features):
            if not used[f]:  # a feature of no weight: left at 0
                continue
            absolute = _dtw(q_abs[f], c_abs[k, f], radius, cells) if rho[f] < 1.0 else 0.0
            relative = _dtw(q_rel[f], c_rel[k, f], radius, cells) if rho[f] > 0.0 else 0.0
            out[k, f] = (1.0 - rho[f]) * absolute + rho[f] * relative
    return out


def _length_term(query_seconds: float, seconds: np.ndarray) -> np.ndarray:
    ratio = np.abs(np.log2(np.maximum(query_seconds, 1e-3) / np.maximum(seconds, 1e-3)))
    return np.maximum(ratio - _SLACK, 0.0).astype(np.float32)


@dataclass(frozen=True)
class ShapeQuery:
    """What is searched for: contours, a length, and a weight per :data:`COLUMNS` entry."""

    contours: np.ndarray  # (len(FEATURES), POINTS)
    seconds: float
    weights: np.ndarray  # (len(COLUMNS),)

    @classmethod
    def of(cls, shape: SoundShape, weights: dict[str, float] | None = None) -> ShapeQuery:
        table = {**DEFAULT_WEIGHTS, **(weights or {})}
        return cls(np.asarray(shape.contours, np.float32), float(shape.seconds),
                   np.array([table[c] for c in COLUMNS], np.float32))

    def weight_table(self) -> dict[str, float]:
        return {c: float(w) for c, w in zip(COLUMNS, self.weights, strict=True)}


class ShapeTable:
    """Many shapes, searchable by a query in one compiled pass (about 2 µs per shape)."""

    def __init__(self, contours: np.ndarray, seconds: np.ndarray,
                 pitch: np.ndarray | None = None) -> None:
        self.contours = np.ascontiguousarray(contours, dtype=np.float32)
        if self.contours.ndim != 3 or self.contours.shape[1:] != (len(FEATURES), POINTS):
            raise ValueError(f"shape table: contours must be (N, {len(FEATURES)}, {POINTS}), "
                             f"got {self.contours.shape}")
        self.seconds = np.asarray(seconds, dtype=np.float32)
        # Each sound's median pitch as a MIDI note (NaN: unpitched), where known.
        self.pitch = (np.full(len(self.contours), np.nan, np.float32) if pitch is None
                      else np.asarray(pitch, dtype=np.float32))
        self.relative = _relative(self.contours)

    @classmethod
    def of(cls, shapes: Sequence[SoundShape]) -> ShapeTable:
        if not shapes:
            return cls(np.zeros((0, len(FEATURES), POINTS), np.float32), np.zeros(0))
        return cls(np.stack([s.contours for s in shapes]), np.array([s.seconds for s in shapes]),
                   np.array([np.nan if s.pitch_hz is None else hz_to_midi(s.pitch_hz)
                             for s in shapes]))

    def __len__(self) -> int:
        return len(self.contours)

    def feature_distances(self, query: ShapeQuery, rows: np.ndarray | None = None,
                          every_feature: bool = True) -> np.ndarray:
        """``(N, len(COLUMNS))``: each feature's DTW distance, then the length term (features
        the query gives no weight left at 0 unless ``every_feature``)."""
        contours = self.contours if rows is None else self.contours[rows]
        relative = self.relative if rows is None else self.relative[rows]
        seconds = self.seconds if rows is None else self.seconds[rows]
        q = np.asarray(query.contours, np.float32)
        used = np.ones(len(FEATURES), np.bool_) if every_feature else query.weights[:-1] > 0
        per_feature = _feature_distances(q, _relative(q), contours, relative, _RHO, used,
                                         _RADIUS)
        return np.column_stack([per_feature, _length_term(query.seconds, seconds)])

    def distances(self, query: ShapeQuery, rows: np.ndarray | None = None) -> np.ndarray:
        return combine(self.feature_distances(query, rows, every_feature=False), query.weights)


def combine(feature_distances: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean of feature-distance rows."""
    w = np.asarray(weights, np.float64)
    return (np.asarray(feature_distances, np.float64) @ w) / max(float(w.sum()), 1e-12)


def shape_distance(a: SoundShape, b: SoundShape, weights: dict[str, float] | None = None) -> float:
    """The distance of shape ``b`` to the query shape ``a`` (see the module)."""
    return float(ShapeTable.of([b]).distances(ShapeQuery.of(a, weights))[0])


def apply_feedback(query: ShapeQuery, closer: Sequence[SoundShape],
                   further: Sequence[SoundShape]) -> ShapeQuery:
    """The query moved toward the shapes marked closer and away from those marked further,
    its weights moved toward the features that tell them apart (see the module)."""
    if not closer and not further:
        return query
    contours = query.contours.astype(np.float64)
    log_seconds = np.log2(max(query.seconds, 1e-3))
    if closer:
        contours += _ROCCHIO_CLOSER * (np.mean([s.contours for s in closer], axis=0) - contours)
        log_seconds += _ROCCHIO_CLOSER * (np.mean([np.log2(max(s.seconds, 1e-3))
                                                    for s in closer]) - log_seconds)
    if further:
        contours -= _ROCCHIO_FURTHER * (np.mean([s.contours for s in further], axis=0)
                                        - contours)
    weights = query.weights.astype(np.float64)
    if closer and further:
        table = ShapeTable.of([*closer, *further])
        d = table.feature_distances(query)
        near, far = d[: len(closer)].mean(axis=0), d[len(closer):].mean(axis=0)
        separation = (far - near) / (d.mean(axis=0) + 1e-3)
        total = weights.sum()
        weights = np.maximum(weights, _WEIGHT_FLOOR * total)
        weights *= np.exp(_RATE * np.clip(separation, -1.0, 1.0))
        weights *= total / weights.sum()
    return replace(query, contours=np.clip(contours, _LOW, _HIGH).astype(np.float32),
                   seconds=float(2.0 ** log_seconds), weights=weights.astype(np.float32))
