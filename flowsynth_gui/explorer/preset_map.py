"""The latent map: every known preset placed in a 2-D view of the latent space.

Every point sits where the model hears it: sounds are encoded (a dataset's log-mels, audio
files), presets are rendered then encoded (imported ``.h2p`` files, the user's library, see
``map_sources.py``). Each keeps its tags as labels in TAG_PAIRS order (-1 negative tag, +1
positive, 0 untagged) for colouring.

The view's axes are either two latent dimensions, or the first two principal components of the
points' latents. :meth:`PresetMap.lift` maps any 2-D point back to a full latent: the plane's
coordinates are replaced, the rest is taken from a base latent (the current sound's), so that
dragging on the map changes only what the map shows. For two dimensions ``(i, j)`` that sets
``z[i], z[j]``; for PCA it moves ``z`` within the plane spanned by the components through it:
``z' = z + C^T (p - C (z - mean))``.

>>> pm = PresetMap(latent_dim=3)
>>> pm.add([MapPoint("a", "library", np.array([1.0, 2.0, 3.0]))])
>>> pm.set_dims(0, 2)
>>> pm.coordinates().tolist()
[[1.0, 3.0]]
>>> pm.lift(5.0, 6.0, np.zeros(3)).tolist()
[5.0, 0.0, 6.0]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from flowsynth_gui.features.tags import TAG_PAIRS, parse_character

__all__ = ["MapAxes", "MapPoint", "PresetMap", "labels_from_tags"]


def labels_from_tags(tags: Iterable[str],
                     pairs: Sequence[tuple[str, str]] = TAG_PAIRS) -> np.ndarray:
    """Tag names (``['Bright', 'Soft']``) → int8 labels per pair: -1, +1 or 0 (untagged)."""
    wanted = {tag.strip().casefold() for tag in tags}
    labels = np.zeros(len(pairs), dtype=np.int8)
    for i, (negative, positive) in enumerate(pairs):
        if negative.casefold() in wanted and positive.casefold() not in wanted:
            labels[i] = -1
        elif positive.casefold() in wanted and negative.casefold() not in wanted:
            labels[i] = 1
    return labels


@dataclass(frozen=True)
class MapPoint:
    """One preset on the map. ``params`` by name when known (presets; dataset sounds)."""

    name: str
    source: str  # 'dataset', 'library', 'h2p', 'sound', ...
    z: np.ndarray
    params: dict[str, float] | None = None
    labels: np.ndarray = field(default_factory=lambda: np.zeros(len(TAG_PAIRS), np.int8))
    character: str = ""  # Diva-style Character string of its tags

    @property
    def tags(self) -> list[str]:
        return parse_character(self.character)


@dataclass(frozen=True)
class MapAxes:
    """``kind='dims'`` with two latent dimensions, or ``kind='pca'`` (fitted on the points)."""

    kind: Literal["dims", "pca"]
    dims: tuple[int, int] = (0, 1)

    @property
    def labels(self) -> tuple[str, str]:
        if self.kind == "pca":
            return "PC 1", "PC 2"
        return f"z{self.dims[0]}", f"z{self.dims[1]}"


class PresetMap:
    """Points, the current axes, and the 2-D ↔ latent mappings."""

    def __init__(self, latent_dim: int) -> None:
        self.latent_dim = latent_dim
        self.points: list[MapPoint] = []
        self._z = np.empty((0, latent_dim))
        self.axes = MapAxes("dims", (0, min(1, latent_dim - 1)))
        # The plane as an orthonormal 2 × L basis and an origin, whatever the axes' kind.
        self._basis = np.zeros((2, latent_dim))
        self._origin = np.zeros(latent_dim)
        self.set_dims(*self.axes.dims)

    def __len__(self) -> int:
        return len(self.points)

    @property
    def plane(self) -> tuple[np.ndarray, np.ndarray]:
        """The map's plane in latent space: its 2 x L orthonormal basis and its origin (copies)."""
        return self._basis.copy(), self._origin.copy()

    # --- points ----------------------------------------------------------------------------

    def add(self, points: Iterable[MapPoint]) -> None:
        new = list(points)
        for point in new:
            if np.shape(point.z) != (self.latent_dim,):
                raise ValueError(f"map point {point.name!r}: latent of shape {np.shape(point.z)}"
                                 f", the model's is ({self.latent_dim},)")
        self.points.extend(new)
        if new:
            self._z = np.vstack([self._z, np.stack([np.asarray(p.z, np.float64) for p in new])])

    def remove_source(self, source: str) -> None:
        """Drop every point of one source (e.g. before re-adding the library)."""
        keep = [i for i, p in enumerate(self.points) if p.source != source]
        self.points = [self.points[i] for i in keep]
        self._z = self._z[keep]

    @property
    def latents(self) -> np.ndarray:
        """All points' latents ``(N, L)`` (a read-only view)."""
        view = self._z.view()
        view.flags.writeable = False
        return view

    def labels(self, pair: int) -> np.ndarray:
        """Every point's label on tag pair ``pair`` (-1, 0, +1), for colouring."""
        return np.array([p.labels[pair] for p in self.points], dtype=np.int8)

    # --- axes ------------------------------------------------------------------------------

    def set_dims(self, i: int, j: int) -> None:
        """Show latent dimensions ``i`` (x) and ``j`` (y)."""
        for d in (i, j):
            if not 0 <= d < self.latent_dim:
                raise ValueError(f"map axis {d} is not a latent dimension "
                                 f"(0..{self.latent_dim - 1})")
        if i == j and self.latent_dim > 1:
            raise ValueError("the map's two axes must be different dimensions")
        basis = np.zeros((2, self.latent_dim))
        basis[0, i] = basis[1, j] = 1.0
        self.axes, self._basis = MapAxes("dims", (i, j)), basis
        self._origin = np.zeros(self.latent_dim)

    def set_pca(self) -> None:
        """Show the first two principal components of the points' latents.

        The components are fitted on the bulk of the points: presets far outside it (imported
        ones whose parameters the model never saw can land at |z| of 30 or more) would
        otherwise claim the axes for themselves and squash everything else onto a line.
        """
        if len(self.points) < 3:
            raise ValueError("PCA axes need at least 3 points on the map; add presets first")
        bulk = self._z[_bulk_rows(self._z)]
        origin = bulk.mean(axis=0)
        _, _, vt = np.linalg.svd(bulk - origin, full_matrices=False)
        basis = vt[:2].copy()
        # SVD's signs are arbitrary: fix them so the view does not flip between refits.
        basis *= np.where(basis[np.arange(2), np.abs(basis).argmax(axis=1)] < 0, -1.0, 1.0)[:, None]
        self.axes, self._basis, self._origin = MapAxes("pca"), basis, origin

    # --- 2-D ↔ latent ----------------------------------------------------------------------

    def coordinates(self) -> np.ndarray:
        """Every point's position ``(N, 2)``."""
        return self.project(self._z)

    def project(self, z: np.ndarray) -> np.ndarray:
        """Latent ``(L,)`` or ``(N, L)`` → map position ``(2,)`` or ``(N, 2)``."""
        return (np.asarray(z, dtype=np.float64) - self._origin) @ self._basis.T

    def lift(self, x: float, y: float, base: np.ndarray, out: np.ndarray | None = None,
             ) -> np.ndarray:
        """Map position → full latent, the off-plane part taken from ``base`` (see module doc).

        ``out`` (shape ``(L,)``, float64) receives the result without allocating.
        """
        if out is None:
            out = np.empty(self.latent_dim)
        np.copyto(out, base)
        if self.axes.kind == "dims":
            i, j = self.axes.dims
            out[i], out[j] = x, y
            return out
        basis = self._basis
        here = basis @ (out - self._origin)
        out += basis[0] * (x - here[0]) + basis[1] * (y - here[1])
        return out

    def nearest(self, x: float, y: float) -> int:
        """Index of the point nearest to a map position (ValueError on an empty map)."""
        if not self.points:
            raise ValueError("the map has no points")
        return int(np.argmin(np.square(self.coordinates() - (x, y)).sum(axis=1)))


def _bulk_rows(z: np.ndarray, cut: float = 6.0) -> np.ndarray:
    """Rows whose distance to the median latent is within ``cut`` robust standard deviations
    of the typical distance (median + cut * 1.4826 * MAD); all rows if fewer than 3 remain."""
    distance = np.linalg.norm(z - np.median(z, axis=0), axis=1)
    centre = np.median(distance)
    spread = 1.4826 * np.median(np.abs(distance - centre))
    keep = distance <= centre + cut * max(spread, 1e-9 * (1.0 + centre))
    return keep if keep.sum() >= 3 else np.ones(len(z), dtype=bool)
