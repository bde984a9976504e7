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

Relevance feedback (SynthAssist, Cartwright & Pardo 2014) turns the user's marks into a
multi-point query and new weights. The shapes marked closer become *anchors*: a candidate's
distance is then ``(1 - s) * d(query) + s * mean(d(anchor))`` with ``s`` a half (the last
:data:`_ANCHORS` marks kept). This is Rocchio's rule in distance space rather than on the
contours: the mean of two contours that DTW aligns differently is neither of them (moving the
contours half way to the closer ones' mean gained 6 % on the tuning set, the anchors 22 %).
The contours still move a quarter away from the mean of those marked further, and the weights
move multiplicatively: a feature on which the closer ones are nearer the query than the further
ones gains weight, one that tells them apart the wrong way loses it. Every weight is first raised
to a floor (2 % of the total), so that a feature with no weight by default can gain some when
the user's marks point to it.
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
_ANCHOR_SHARE, _ANCHORS = 0.5, 4  # of a distance the closer-marked shapes hold; how many kept
_ROCCHIO_FURTHER, _RATE = 0.25, 1.5
_WEIGHT_FLOOR = 0.02  # of the total: what a feature holds before feedback reweights it
_LOW = np.array([RANGES[f][0] for f in FEATURES], np.float32)[:, None]
_HIGH = np.array([RANGES[f][1] for f in FEATURES], np.float32)[:, None]


def _relative(contours: np.ndarray) -> np.ndarray:
    """Movement of each contour (last axis): centred, over its spread (floored), / 4."""
    centred = contours - contours.mean(axis=-1, keepdims=True)
    return (centred / np.maximum(contours.std(axis=-1, keepdims=True), 0.1) / 4.0).astype(
        np.float32)


_LANES = 64  # shapes warped together, one per SIMD lane


@njit(cache=True, nogil=True)
def _dtw_lanes(a: np.ndarray, b: np.ndarray, radius: int, rows: np.ndarray,
               out: np.ndarray) -> None:
    """Banded DTW of ``a`` against each column of ``b`` (points, lanes) at once, over two
    rolling rows: the lanes are independent, so the compiler vectorises across them (one warp
    alone is a chain of dependent additions). Only the band's cells and the one beside each of
    its edges are written."""
    n, lanes = b.shape
    rows[0, :, :] = np.inf
    rows[0, 0, :] = 0.0
    for i in range(1, n + 1):
        previous, current = rows[(i - 1) & 1], rows[i & 1]
        low, high = max(1, i - radius), min(n, i + radius)
        current[low - 1, :] = np.inf
        ai = a[i - 1]
        for j in range(low, high + 1):
            for lane in range(lanes):
                best = min(previous[j, lane], current[j - 1, lane], previous[j - 1, lane])
                current[j, lane] = abs(ai - b[j - 1, lane]) + best
        if high < n:
            current[high + 1, :] = np.inf
    out[:] = rows[n & 1, n, :] / n


@njit(cache=True, nogil=True, parallel=True)
def _feature_distances(q_abs: np.ndarray, q_rel: np.ndarray, c_abs: np.ndarray,
                       c_rel: np.ndarray, rho: np.ndarray, used: np.ndarray,
                       radius: int) -> np.ndarray:
    count, features, points = c_abs.shape
    out = np.zeros((count, features), np.float32)
    for block in prange((count + _LANES - 1) // _LANES):  # blocks of shapes across the cores
        start = block * _LANES
        width = min(_LANES, count - start)
        rows = np.empty((2, points + 1, _LANES), np.float32)
        lanes = np.zeros((points, _LANES), np.float32)
        warped = np.empty(_LANES, np.float32)
        for f in range(features):
            if not used[f]:  # a feature of no weight: left at 0
                continue
            for part in range(2):  # absolute, then relative
                share = 1.0 - rho[f] if part == 0 else rho[f]
                if share <= 0.0:
                    continue
                contours = c_abs if part == 0 else c_rel
                for lane in range(width):
                    lanes[:, lane] = contours[start + lane, f]
                _dtw_lanes(q_abs[f] if part == 0 else q_rel[f], lanes, radius, rows, warped)
                for lane in range(width):
                    out[start + lane, f] += share * warped[lane]
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
    anchors: tuple[SoundShape, ...] = ()  # shapes the user marked closer (see the module)

    @classmethod
    def of(cls, shape: SoundShape, weights: dict[str, float] | None = None) -> ShapeQuery:
        table = {**DEFAULT_WEIGHTS, **(weights or {})}
        return cls(np.asarray(shape.contours, np.float32), float(shape.seconds),
                   np.array([table[c] for c in COLUMNS], np.float32))

    def weight_table(self) -> dict[str, float]:
        return {c: float(w) for c, w in zip(COLUMNS, self.weights, strict=True)}

    def points(self) -> list[tuple[float, ShapeQuery]]:
        """The single-shape queries this one is a weighted sum of: itself, then its anchors."""
        if not self.anchors:
            return [(1.0, self)]
        share = _ANCHOR_SHARE / len(self.anchors)
        return [(1.0 - _ANCHOR_SHARE, replace(self, anchors=())),
                *[(share, replace(self, contours=np.asarray(a.contours, np.float32),
                                  seconds=float(a.seconds), anchors=())) for a in self.anchors]]


class ShapeTable:
    """Many shapes, searchable by a query in one compiled pass (0.25 µs a shape on 2 cores)."""

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
        total = np.zeros(len(self) if rows is None else len(rows))
        for share, point in query.points():
            total += share * combine(self.feature_distances(point, rows, every_feature=False),
                                     point.weights)
        return total


def combine(feature_distances: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean of feature-distance rows."""
    w = np.asarray(weights, np.float64)
    return (np.asarray(feature_distances, np.float64) @ w) / max(float(w.sum()), 1e-12)


def shape_distance(a: SoundShape, b: SoundShape, weights: dict[str, float] | None = None) -> float:
    """The distance of shape ``b`` to the query shape ``a`` (see the module)."""
    return float(ShapeTable.of([b]).distances(ShapeQuery.of(a, weights))[0])


def apply_feedback(query: ShapeQuery, closer: Sequence[SoundShape],
                   further: Sequence[SoundShape]) -> ShapeQuery:
    """The query with the shapes marked closer as anchors, moved away from those marked
    further, its weights moved toward the features that tell them apart (see the module)."""
    if not closer and not further:
        return query
    contours = query.contours.astype(np.float64)
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
                   weights=weights.astype(np.float32),
                   anchors=(*query.anchors, *closer)[-_ANCHORS:])
