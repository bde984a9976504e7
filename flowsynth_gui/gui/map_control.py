"""The session's map: building it, its axes and overlays, neighbours and interpolation walks.

One of the controllers :class:`~flowsynth_gui.gui.session.Session` is composed of: it keeps
the map's state and reaches the rest (the explorer, the lanes, the signals) through
``session``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from flowsynth_gui.gui.state import InterpolationInfo, MapOverlays, MapSnapshot, NeighbourInfo

if TYPE_CHECKING:
    from flowsynth_gui.explorer import Explorer
    from flowsynth_gui.gui.session import Session

__all__ = ["CURRENT", "MapControl"]

CURRENT = -1  # "the current sound" as an interpolation end


class MapControl:
    """Map, neighbourhood and interpolation intents of the session, and their state."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._overlay_z: dict[str, np.ndarray] = {}  # what the map draws over the presets
        self._neighbours: list[Any] = []  # the listed variations of the current sound
        self._neighbour_base = ""  # the sound they vary
        self._interpolation: tuple[Any, dict, dict, str, str] | None = None

    # --- the map ----------------------------------------------------------------------------

    def build(self, ex: Explorer) -> None:
        """Library, imported folders, then sketches: the map grows as each part is ready."""
        self.session.presets.place_library(ex)
        for folder in self.session.presets.h2p_folders():
            self.session.presets.import_folder(ex, folder, remember=False)
        axes = self.session.settings.get("map/axes")
        self._sketch(ex)
        self._apply_axes(ex, axes, quiet=True)

    def _sketch(self, ex: Explorer) -> None:
        from flowsynth_gui.explorer.sketches import SKETCH_SOURCE, sketch_presets

        count = self.session.options.sketches
        if count is None:
            count = int(self.session.settings.get("map/sketches"))
        if count <= 0:
            return
        stop = self.session.stops.setdefault("sketches", threading.Event())
        self.session.set_busy("rendering sketches for the map", True)
        try:
            presets = sketch_presets(ex.codec, count, should_stop=stop,
                                     workers=self.session.options.render_workers)
        finally:
            self.session.set_busy("rendering sketches for the map", False)
        for preset in presets:
            self.session.tags_by_name[preset.name] = tuple(preset.tags)
        ex.map.remove_source(SKETCH_SOURCE)
        if presets:  # placed where they were made: f reproduces them exactly there
            ex.add_presets_to_map(presets, SKETCH_SOURCE,
                                  latents=np.array([p.latent for p in presets]))
        self.publish(ex)

    def publish(self, ex: Explorer) -> None:
        if ex is not self.session.explorer or self.session.closing:
            return
        points = list(ex.map.points)
        coords = ex.map.coordinates()[: len(points)]
        pairs = tuple(tuple(p) for p in ex.codec.metadata.tag_pairs)
        labels = (np.stack([p.labels for p in points]) if points
                  else np.zeros((0, len(pairs)), np.int8))
        axes = ex.map.axes
        key = "pca" if axes.kind == "pca" else f"{axes.dims[0]},{axes.dims[1]}"
        snapshot = MapSnapshot(coords, tuple(p.name for p in points),
                               tuple(p.source for p in points),
                               tuple(tuple(p.tags) for p in points), labels,
                               self._axis_labels(ex), key, pairs)
        self.session.map_snapshot = snapshot
        self.session.map_changed.emit(snapshot)
        self._publish_overlays(ex)

    def _axis_labels(self, ex: Explorer) -> tuple[str, str]:
        axes = ex.map.axes
        if axes.kind == "pca":
            return axes.labels
        sliders = {s.dim: s.label for s in self.session.model_info.sliders}
        return tuple(f"z{d}" + (f"  {sliders[d]}" if d in sliders else "")
                     for d in axes.dims)  # type: ignore[return-value]

    def set_axes(self, key: str) -> None:
        """``'pca'`` or ``'i,j'`` (two latent dimensions)."""
        ex = self.session.explorer
        if ex is not None:
            self.session.work_lane.submit("changing the map's axes",
                                          lambda: self._apply_axes(ex, key))

    def _apply_axes(self, ex: Explorer, key: str, quiet: bool = False) -> None:
        try:
            if key == "pca":
                ex.set_map_axes(None)
            else:
                i, j = (int(v) for v in key.split(","))
                ex.set_map_axes((i, j))
        except ValueError as err:
            if not quiet:
                self.session.post("warning", f"Map axes: {err}")
            ex.set_map_axes((0, 1))
        self.session.in_gui(lambda: self.session.settings.set("map/axes", key))
        self.publish(ex)
        self.session.state_lane.submit("moving the cursor",
                                       lambda: self.session.publish(ex, "axes"))

    def _publish_overlays(self, ex: Explorer) -> None:
        def project(name: str) -> np.ndarray:
            z = self._overlay_z.get(name)
            return np.zeros((0, 2)) if z is None or len(z) == 0 else ex.map.project(z)
        self.session.overlays_changed.emit(MapOverlays(
            project("match"), project("candidates"), project("neighbours"), project("path")))

    def set_overlay(self, ex: Explorer, name: str, z: np.ndarray | None) -> None:
        if z is None:
            self._overlay_z.pop(name, None)
        else:
            self._overlay_z[name] = np.atleast_2d(np.asarray(z, dtype=np.float64))
        self._publish_overlays(ex)

    def clear(self) -> None:
        """A new model: no overlays, variations or interpolation walk of the old one."""
        self._overlay_z.clear()
        self._neighbours, self._interpolation = [], None

    def clear_variations(self, ex: Explorer) -> None:
        """A new sound to match: the variations of the old one go (rings and list)."""
        if self._neighbours:
            self._neighbours = []
            self.set_overlay(ex, "neighbours", None)
            self.session.neighbours_found.emit(NeighbourInfo((), 0.0))

    # --- neighbourhood and interpolation ---------------------------------------------------

    def find_neighbours(self, count: int, radius: float) -> None:
        """``count`` variations at latent distance ``radius`` around the current sound."""
        seed = next(self.session.seq)  # each search gives new variations

        def find(ex: Explorer) -> None:
            self._neighbours = ex.neighbours(count, radius, seed)
            # Variations are named after the sound they vary: picking one, then another,
            # gives "X ~2", not "X ~1 ~2".
            base = self._neighbour_base = self.session.base_name
            self.set_overlay(ex, "neighbours", np.stack([n.z for n in self._neighbours]))
            self.session.neighbours_found.emit(NeighbourInfo(
                tuple(f"{base} ~{i + 1}" for i in range(count)), radius))
        self.session.on_state_lane("finding variations", find)

    def choose_neighbour(self, index: int) -> None:
        def choose(ex: Explorer) -> None:
            if not 0 <= index < len(self._neighbours):
                return
            name = f"{self._neighbour_base} ~{index + 1}"
            ex.choose(self._neighbours[index], label=name)
            self.session.set_name(name)
            self.session.publish(ex, "variation")
        self.session.on_state_lane("choosing a variation", choose)

    def interpolate(self, a: int, b: int, steps: int, names: tuple[str, str] = ("", "")) -> None:
        """Prepare a walk from map point ``a`` to ``b`` (``CURRENT`` for the current sound)."""
        def prepare(ex: Explorer) -> None:
            (va, na), (vb, nb) = self._end(ex, a, names[0]), self._end(ex, b, names[1])
            path = ex.interpolate(va, vb, steps)
            self._interpolation = (path, va, vb, na, nb)
            self.set_overlay(ex, "path", path.latent)
            self.session.interpolation_ready.emit(InterpolationInfo(na, nb, steps, False))
        self.session.on_state_lane("interpolating", prepare)

    def _end(self, ex: Explorer, index: int, name: str) -> tuple[dict[str, float], str]:
        if index == CURRENT:
            return ex.preset(), self.session.display_name()
        point = ex.map.points[index]
        if name and point.name != name:
            raise ValueError(f"the map changed: {name!r} is no longer point {index}")
        if point.params is not None:
            return dict(point.params), point.name
        return dict(zip(ex.names, ex.codec.to_params(point.z).tolist(), strict=True)), point.name

    def set_interpolation_step(self, step: int, straight: bool, final: bool = False) -> None:
        """Go to step ``step`` of the prepared walk (latent path, or straight in parameters)."""
        def go(ex: Explorer) -> None:
            from flowsynth_gui.explorer.neighbourhood import blend_presets

            if self._interpolation is None:
                return
            path, va, vb, na, nb = self._interpolation
            last = len(path.t) - 1
            k = int(min(last, max(0, step)))
            if k in (0, last):  # the ends are the presets themselves, exactly
                values, z = (va if k == 0 else vb), None
            else:
                vector = path.straight_params[k] if straight else path.latent_params[k]
                values = blend_presets(va, vb, vector, ex.names, float(path.t[k]))
                # A straight step sits where the model hears it (as the map places presets):
                # f^-1 of a blend can lie far outside the map and drag the view away.
                z = ex.heard_latent(values) if straight else path.latent[k]
            ex.load_preset(values, z=z, record=False)
            self.session.set_name(na if k == 0 else nb if k == last else
                                  f"{na} → {nb} step {k + 1} of {last + 1}"  # as the panel counts
                           f"{' straight' if straight else ''}")
            self.session.after_gesture(ex, "interpolation", final)
        self.session.on_state_lane("walking the interpolation", go, key="interpolation")

