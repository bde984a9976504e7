"""The session: one controller between the panels and FlowSynth's services.

:class:`Session` owns the model and its :class:`~flowsynth_gui.explorer.Explorer` (which holds
the sound matcher), the preset library, the audio side (:class:`AudioControl`: live player and
recorder) and the MIDI side (:class:`MidiControl`). Panels call its methods with their intent
(``move_cursor(x, y)``, ``match_file(path)``...); the work runs on worker threads and the
results come back as past-tense signals carrying the plain data of :mod:`.state`.

Threads:

- the *state lane* (serial, latest wins per gesture) changes the current sound: cursor drags,
  sliders, knobs, parameter edits, clicks, undo. Each change goes at once to MIDI out, the live
  synth and ``params_changed``; while a gesture goes on, the 4 s preview waits for it to pause;
- the *preview lane* renders that preview (latest wins) for the sound panel and the speakers;
- the *work lane* loads models, builds the map, imports, matches and exports, in order;
- refinement and the macro ranking run as one-off jobs that can be cancelled.

Heavy modules (torch, numba, scipy) are imported on those threads only. Any failure is logged
and shown in the window (``message_posted``); the current sound and the library stay.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, QStandardPaths, QThreadPool, QTimer, Signal

from flowsynth_gui.gui.audio_control import AudioControl
from flowsynth_gui.gui.gc_guard import GuiThreadCollector
from flowsynth_gui.gui.imports import require
from flowsynth_gui.gui.midi_control import MidiControl
from flowsynth_gui.gui.qt_fixes import shield_singletons
from flowsynth_gui.gui.settings import Settings
from flowsynth_gui.gui.state import (
    CandidateInfo,
    InterpolationInfo,
    LibraryListing,
    MacroInfo,
    MapOverlays,
    MapSnapshot,
    MatchReport,
    ModelInfo,
    NeighbourInfo,
    ParamInfo,
    Rendered,
    SliderInfo,
    SoundState,
)
from flowsynth_gui.gui.workers import Lane, run_job
from flowsynth_gui.paths import CHECKPOINTS_DIR

if TYPE_CHECKING:
    from flowsynth_gui.explorer import Explorer

__all__ = ["CURRENT", "DEFAULT_MODEL", "Session", "SessionOptions"]

log = logging.getLogger(__name__)

DEFAULT_MODEL = CHECKPOINTS_DIR / "flowsynth_flow_dis_32.pt"
CURRENT = -1  # "the current sound" as an interpolation end
PREVIEW_PAUSE_MS = 250  # a drag that rests this long gets its preview rendered
SAMPLE_RATE = 22050
_EDITED = " (edited)"
_QUIET = ("model", "macros", "axes")  # changes the user did not make: shown, not played


@dataclass
class SessionOptions:
    """What the command line and tests decide (the rest comes from the settings)."""

    model_path: str | None = None  # None: the settings' model, else the shipped one
    audio: bool = True
    midi: bool = True
    library_folder: str | None = None  # None: the settings' folder, else the user's data folder
    cache_folder: str | None = None  # macro rankings; None: the user's cache folder
    sketches: int | None = None  # None: the settings' count
    macro_settings: Any = None  # explorer MacroSettings (tests use a fast one)
    midi_system: Any = None  # a MIDI system double (tests)
    render_workers: int | None = None


class Session(QObject):
    """Controller of the app; see the module doc."""

    model_loaded = Signal(object)  # ModelInfo
    model_failed = Signal(str)
    params_changed = Signal(object)  # SoundState
    preset_loaded = Signal(str)
    preview_rendered = Signal(object)  # Rendered
    target_loaded = Signal(object)  # Rendered
    map_changed = Signal(object)  # MapSnapshot
    overlays_changed = Signal(object)  # MapOverlays
    match_ready = Signal(object)  # MatchReport
    refine_progressed = Signal(int, int, float)  # renders, budget, best distance
    macros_ranked = Signal(object)  # list[MacroInfo]
    macros_progressed = Signal(int, int)
    neighbours_found = Signal(object)  # NeighbourInfo
    interpolation_ready = Signal(object)  # InterpolationInfo
    library_changed = Signal(object)  # LibraryListing
    exported = Signal(str)  # path written
    status_changed = Signal(str, str)  # 'model' | 'audio' | 'midi_out' | 'midi_in', text
    message_posted = Signal(str, str)  # 'info' | 'warning' | 'error', text
    busy_changed = Signal(str, bool)  # task, running
    _gui_call = Signal(object)  # internal: run a callable on the GUI thread

    def __init__(self, settings: Settings, options: SessionOptions | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        shield_singletons()  # PySide6 6.12.0's emit() leaks references to True (see there)
        self.settings = settings
        self.options = options or SessionOptions()
        self._ui_pool, self._bg_pool = QThreadPool(self), QThreadPool(self)
        self._ui_pool.setMaxThreadCount(2)
        self._bg_pool.setMaxThreadCount(2)
        self._state_lane, self._preview_lane = (
            Lane(self._ui_pool, name, self._report_failure, prepare=_services)
            for name in ("state", "preview"))
        self._work_lane = Lane(self._bg_pool, "work", self._report_failure, prepare=_services)
        self._gui_call.connect(lambda fn: fn())
        self._collector = GuiThreadCollector(self)
        self._collector.start()  # before any worker runs Python code
        self.audio = AudioControl(
            self._bg_pool, self._report_failure, enabled=self.options.audio,
            output_device=settings.get("audio/output_device"),
            input_device=settings.get("audio/input_device"),
            blocksize=settings.get("audio/blocksize"), parent=self)
        self.midi = MidiControl(
            self._bg_pool, self._report_failure, self.audio, enabled=self.options.midi,
            api=settings.get("midi/api"), out_port=settings.get("midi/out_port"),
            channel=settings.get("midi/out_channel"), in_port=settings.get("midi/in_port"),
            system=self.options.midi_system, parent=self)
        self._wire_services()
        self._explorer: Explorer | None = None
        self.model_info: ModelInfo | None = None
        self.state: SoundState | None = None
        self.map_snapshot: MapSnapshot | None = None
        self._seq = itertools.count(1)
        self._base, self._edited = "Init", False
        self._tags_by_name: dict[str, tuple[str, ...]] = {}
        self._preview: Rendered | None = None
        self._target: Rendered | None = None
        self._overlay_z: dict[str, np.ndarray] = {}
        self._candidates: list[Any] = []
        self._neighbours: list[Any] = []
        self._interpolation: tuple[Any, dict, dict, str, str] | None = None
        self._macros: list[MacroInfo] = []
        self._last_match: MatchReport | None = None
        self._stops: dict[str, threading.Event] = {}
        self._library: Any = None
        self._closing = False
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_PAUSE_MS)
        self._preview_timer.timeout.connect(lambda: self._request_preview(self.auto_preview))
        self._health = QTimer(self)
        self._health.setInterval(2000)
        self._health.timeout.connect(lambda: self.audio.check_health(self.post))
        self.params_changed.connect(self._on_params_changed)

    # --- start, stop, messages ----------------------------------------------------------------

    def _wire_services(self) -> None:
        self.audio.status_changed.connect(lambda text: self.status_changed.emit("audio", text))
        self.audio.problem_reported.connect(self.post)
        self.audio.recorded.connect(lambda samples: self.match_audio(samples, "recording"))
        self.midi.out_status_changed.connect(
            lambda text: self.status_changed.emit("midi_out", text))
        self.midi.in_status_changed.connect(lambda text: self.status_changed.emit("midi_in", text))
        self.midi.problem_reported.connect(self.post)

    def start(self) -> None:
        """Open devices and load the model (all on workers); returns at once."""
        self.audio.start()
        self.midi.start()
        self._health.start()
        self.load_model(self.model_path(), first=True)

    def model_path(self) -> str:
        """The model to load: the command line's, the settings', or the shipped one."""
        return self.options.model_path or self.settings.get("model/path") or str(DEFAULT_MODEL)

    @property
    def auto_preview(self) -> bool:
        return bool(self.settings.get("audio/auto_preview"))

    @property
    def explorer(self) -> Explorer | None:
        return self._explorer

    def post(self, level: str, text: str) -> None:
        """Show a message in the window and log it (any thread)."""
        getattr(log, {"error": "error", "warning": "warning"}.get(level, "info"))("%s", text)
        self.message_posted.emit(level, text)

    def _report_failure(self, task: str, err: BaseException) -> None:
        self.post("error", f"{task[:1].upper()}{task[1:]} failed: {err}")

    def _in_gui(self, fn: Any) -> None:
        self._gui_call.emit(fn)

    def _busy(self, task: str, running: bool) -> None:
        self.busy_changed.emit(task, running)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel long jobs, wait for the workers, close devices and ports."""
        self._closing = True
        self._preview_timer.stop()
        self._health.stop()
        for stop in self._stops.values():
            stop.set()
        for lane in (self._state_lane, self._preview_lane, self._work_lane):
            lane.clear()
        deadline_ms = int(timeout * 1000)
        self._ui_pool.waitForDone(deadline_ms)
        self._bg_pool.waitForDone(deadline_ms)
        self.audio.shutdown()
        self.midi.shutdown()
        self.settings.sync()
        self._collector.stop()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no lane has work (tests and benchmarks; not the GUI thread's way)."""
        deadline = time.monotonic() + timeout
        lanes = (self._work_lane, self._state_lane, self._preview_lane)
        return all(lane.wait_idle(max(0.0, deadline - time.monotonic())) for lane in lanes)

    # --- the model ------------------------------------------------------------------------------

    def load_model(self, path: str, *, first: bool = False) -> None:
        """Load a checkpoint; a foreign or broken one leaves the current model in place."""
        self._work_lane.submit("loading the model", lambda: self._load_model(path, first))

    def _load_model(self, path: str, first: bool) -> None:
        from flowsynth_gui.explorer import Explorer, MacroCache, MacroSettings
        from flowsynth_gui.models import CheckpointError, load_checkpoint

        self._busy("loading the model", True)
        self.status_changed.emit("model", f"Model: loading {Path(path).name}…")
        try:
            checkpoint = _load_retrying(load_checkpoint, CheckpointError, path)
            explorer = Explorer(checkpoint,
                                macro_settings=self.options.macro_settings or MacroSettings(),
                                macro_cache=MacroCache(self._cache_folder()),
                                workers=self.options.render_workers)
        except (CheckpointError, ValueError, OSError) as err:
            self._model_failed(path, err, first)
            return
        finally:
            self._busy("loading the model", False)
        previous = self._explorer
        if previous is not None:
            self._carry_over(previous, explorer)
        self._explorer = explorer
        self.model_info = _model_info(path, checkpoint, explorer)
        self.model_loaded.emit(self.model_info)
        self.status_changed.emit("model", f"Model: {self.model_info.label}")
        if not first:
            self._in_gui(lambda: self.settings.set("model/path", path))
            self.post("info", f"Loaded model {self.model_info.label}")
        self._clear_overlays()
        self._publish(explorer, "model")
        self._build_map(explorer)
        self._rank_macros(explorer)

    def _model_failed(self, path: str, err: Exception, first: bool) -> None:
        keep = ("; the current model stays" if self._explorer is not None
                else "; choose another model in Settings")
        text = f"Cannot use the model {path}: {err}{keep}"
        if self._explorer is None:
            self.status_changed.emit("model", "Model: none")
        else:
            self.status_changed.emit("model", f"Model: {self.model_info.label}")
        self.model_failed.emit(text)
        self.post("error", text)

    def _carry_over(self, previous: Explorer, explorer: Explorer) -> None:
        """The sound the user had stays current under the new model."""
        try:
            explorer.load_preset(previous.preset(), record=False)
            explorer.commit(self._display_name())
        except ValueError as err:  # a model without f^-1: start from its own origin
            log.warning("could not carry the current sound over: %s", err)

    def _cache_folder(self) -> str:
        if self.options.cache_folder:
            return self.options.cache_folder
        base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.CacheLocation)
        return os.path.join(base or os.path.expanduser("~/.cache/flowsynth"), "macros")

    # --- publishing the current sound -------------------------------------------------------

    def _display_name(self) -> str:
        return self._base + (_EDITED if self._edited else "")

    def _set_name(self, label: str) -> None:
        if label in ("", "start"):
            label = "Init"
        if label.endswith(_EDITED):
            self._base, self._edited = label[: -len(_EDITED)], True
        else:
            self._base, self._edited = label, False

    def _publish(self, ex: Explorer, label: str, *, continuous: bool = False) -> None:
        """Worker: send the explorer's current sound to MIDI, the synth and the panels."""
        if ex is not self._explorer or self._closing:
            return
        values = ex.preset()
        semantic = tuple(ex.semantic_values())
        tags = self._tags_by_name.get(self._base, ()) if not self._edited else ()
        if self._edited or self._base not in self._tags_by_name:
            from flowsynth_gui.gui.preset_io import suggest_tags

            pairs = [(s.negative, s.positive) for s in self.model_info.sliders]
            tags = tuple(suggest_tags(pairs, semantic))
        history = ex.history
        current = history.current
        dirty = current is not None and not np.array_equal(current.params, ex.params)
        state = SoundState(
            seq=next(self._seq), name=self._display_name(), label=label, values=values,
            z=ex.z, position=ex.map_position(), semantic=semantic,
            macros=tuple(ex.macro_values()) if self._macros else (), note=ex.note, tags=tags,
            continuous=continuous, can_undo=history.can_undo or dirty,
            can_redo=history.can_redo and not dirty)
        self.state = state
        self.midi.send_params(values)
        self.audio.set_params(values)
        self.params_changed.emit(state)

    def _on_params_changed(self, state: SoundState) -> None:
        """GUI thread: previews wait for a gesture to pause, discrete jumps get one at once."""
        if state.continuous:
            self._preview_timer.start()
        else:
            self._preview_timer.stop()
            self._request_preview(self.auto_preview and state.label not in _QUIET)

    def _request_preview(self, play: bool, asked: bool = False) -> None:
        self._preview_lane.submit("rendering the preview",
                                  lambda: self._render_preview(play, asked), key="preview")

    def _render_preview(self, play: bool, asked: bool = False) -> None:
        from flowsynth_gui.features.mel import log_mel
        from flowsynth_gui.synth.render import render

        state = self.state
        if state is None or self._closing:
            return
        preview = self._preview
        if preview is None or preview.seq != state.seq:
            audio = render(dict(state.values), note=state.note)
            preview = Rendered(audio, SAMPLE_RATE, log_mel(audio, SAMPLE_RATE), state.name,
                               state.seq)
            self._preview = preview
            self.preview_rendered.emit(preview)
        if play and not self.audio.play(preview.audio, preview.sample_rate) and asked:
            self.post("info", f"Cannot play the sound: {self.audio.status}")

    def play_preview(self) -> None:
        """Render the current sound if needed and play it (play button, space bar)."""
        self._request_preview(True, asked=True)

    def play_target(self) -> None:
        target = self._target
        if target is None:
            self.post("info", "No target yet: drop or record a sound to match")
        elif not self.audio.play(target.audio, target.sample_rate):
            self.post("info", f"Cannot play: {self.audio.status}")

    # --- gestures on the state lane -------------------------------------------------------

    def _on_state_lane(self, task: str, fn: Any, key: str | None = None) -> None:
        ex = self._explorer
        if ex is None:
            self.post("info", "The model is still loading")
            return
        self._state_lane.submit(task, lambda: fn(ex), key=key)

    def move_cursor(self, x: float, y: float) -> None:
        """The map cursor is being dragged to ``(x, y)`` (latest position wins)."""
        def move(ex: Explorer) -> None:
            ex.move_on_map(x, y)
            self._edited = True
            self._publish(ex, "map", continuous=True)
        self._on_state_lane("moving on the map", move, key="cursor")

    def finish_gesture(self, label: str = "map") -> None:
        """A drag, slider or knob gesture ended: record it in the history, preview it."""
        def commit(ex: Explorer) -> None:
            ex.commit(self._display_name())
            self._publish(ex, label)
        self._on_state_lane("recording the change", commit)

    def set_semantic(self, index: int, value: float, final: bool = False) -> None:
        def move(ex: Explorer) -> None:
            ex.set_semantic(index, value, record=False)
            self._edited = True
            self._after_gesture(ex, self.model_info.sliders[index].label, final)
        self._on_state_lane("moving a semantic slider", move, key=f"semantic{index}")

    def set_macro(self, index: int, value: float, final: bool = False) -> None:
        if not self._macros:
            self.post("info", "The macro knobs are still being ranked")
            return

        def move(ex: Explorer) -> None:
            ex.set_macro(index, value, record=False)
            self._edited = True
            self._after_gesture(ex, self._macros[index].name, final)
        self._on_state_lane("turning a macro knob", move, key=f"macro{index}")

    def set_param(self, name: str, value: float, final: bool = False) -> None:
        """Edit one parameter of the model's set (normalised value)."""
        def edit(ex: Explorer) -> None:
            values = ex.preset()
            values[name] = float(min(1.0, max(0.0, value)))
            ex.load_preset(values, record=False)
            self._edited = True
            self._after_gesture(ex, name, final)
        self._on_state_lane("editing a parameter", edit, key=f"param:{name}")

    def _after_gesture(self, ex: Explorer, label: str, final: bool) -> None:
        if final:
            ex.commit(self._display_name())
        self._publish(ex, label, continuous=not final)

    def go_to_point(self, index: int, name: str | None = None) -> None:
        """Load map point ``index`` (``name`` guards against a map that changed meanwhile)."""
        def load(ex: Explorer) -> None:
            points = ex.map.points
            i = index
            if name is not None and (i >= len(points) or points[i].name != name):
                i = next((k for k, p in enumerate(points) if p.name == name), -1)
            if not 0 <= i < len(points):
                self.post("warning", f"Preset {name!r} is no longer on the map")
                return
            point = points[i]
            self._tags_by_name[point.name] = tuple(point.tags)
            ex.go_to_map_point(i)  # records it under the point's name
            self._set_name(point.name)
            self._publish(ex, "map point")
            self.preset_loaded.emit(point.name)
        self._on_state_lane("loading a preset", load)

    def undo(self) -> None:
        self._on_state_lane("undo", lambda ex: self._step_history(ex, ex.undo, "undo"))

    def redo(self) -> None:
        self._on_state_lane("redo", lambda ex: self._step_history(ex, ex.redo, "redo"))

    def _step_history(self, ex: Explorer, step: Any, label: str) -> None:
        ex.commit(self._display_name())  # a pending drag becomes redoable
        if step() is None:
            self.post("info", f"Nothing to {label}")
            return
        self._set_name(ex.history.current.label or self._base)
        self._publish(ex, label)

    def _load_values(self, ex: Explorer, values: dict[str, float], name: str,
                     tags: tuple[str, ...], z: np.ndarray | None = None) -> None:
        """Make a preset current under ``name`` and tell everyone (state or work lane)."""
        self._tags_by_name[name] = tags
        ex.load_preset(values, z=z, record=False)
        self._set_name(name)
        ex.commit(name)
        self._publish(ex, "preset")
        self.preset_loaded.emit(name)

    # --- the map ----------------------------------------------------------------------------

    def _build_map(self, ex: Explorer) -> None:
        """Library, imported folders, then sketches: the map grows as each part is ready."""
        self._place_library(ex)
        for folder in self.settings_h2p_folders():
            self._import_folder(ex, folder, remember=False)
        axes = self.settings.get("map/axes")
        self._sketch(ex)
        self._apply_axes(ex, axes, quiet=True)

    def settings_h2p_folders(self) -> list[str]:
        return [str(f) for f in self.settings.get("library/h2p_folders")]

    def _sketch(self, ex: Explorer) -> None:
        from flowsynth_gui.gui.sketches import SKETCH_SOURCE, sketch_presets

        count = self.options.sketches
        if count is None:
            count = int(self.settings.get("map/sketches"))
        if count <= 0:
            return
        stop = self._stops.setdefault("sketches", threading.Event())
        self._busy("rendering sketches for the map", True)
        try:
            presets = sketch_presets(ex.codec, count, workers=self.options.render_workers,
                                     should_stop=stop)
        finally:
            self._busy("rendering sketches for the map", False)
        for preset in presets:
            self._tags_by_name[preset.name] = tuple(preset.tags)
        ex.map.remove_source(SKETCH_SOURCE)
        ex.add_presets_to_map(presets, SKETCH_SOURCE)
        self._publish_map(ex)

    def _publish_map(self, ex: Explorer) -> None:
        if ex is not self._explorer or self._closing:
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
        self.map_snapshot = snapshot
        self.map_changed.emit(snapshot)
        self._publish_overlays(ex)

    def _axis_labels(self, ex: Explorer) -> tuple[str, str]:
        axes = ex.map.axes
        if axes.kind == "pca":
            return axes.labels
        sliders = {s.dim: s.label for s in self.model_info.sliders}
        return tuple(f"z{d}" + (f"  {sliders[d]}" if d in sliders else "")
                     for d in axes.dims)  # type: ignore[return-value]

    def set_axes(self, key: str) -> None:
        """``'pca'`` or ``'i,j'`` (two latent dimensions)."""
        ex = self._explorer
        if ex is not None:
            self._work_lane.submit("changing the map's axes", lambda: self._apply_axes(ex, key))

    def _apply_axes(self, ex: Explorer, key: str, quiet: bool = False) -> None:
        try:
            if key == "pca":
                ex.set_map_axes(None)
            else:
                i, j = (int(v) for v in key.split(","))
                ex.set_map_axes((i, j))
        except ValueError as err:
            if not quiet:
                self.post("warning", f"Map axes: {err}")
            ex.set_map_axes((0, 1))
        self._in_gui(lambda: self.settings.set("map/axes", key))
        self._publish_map(ex)
        self._state_lane.submit("moving the cursor", lambda: self._publish(ex, "axes"))

    def _publish_overlays(self, ex: Explorer) -> None:
        def project(name: str) -> np.ndarray:
            z = self._overlay_z.get(name)
            return np.zeros((0, 2)) if z is None or len(z) == 0 else ex.map.project(z)
        self.overlays_changed.emit(MapOverlays(project("match"), project("candidates"),
                                               project("neighbours"), project("path")))

    def _set_overlay(self, ex: Explorer, name: str, z: np.ndarray | None) -> None:
        if z is None:
            self._overlay_z.pop(name, None)
        else:
            self._overlay_z[name] = np.atleast_2d(np.asarray(z, dtype=np.float64))
        self._publish_overlays(ex)

    def _clear_overlays(self) -> None:
        self._overlay_z.clear()
        self._candidates, self._neighbours, self._interpolation = [], [], None

    # --- macro knobs ------------------------------------------------------------------------

    def _rank_macros(self, ex: Explorer) -> None:
        stop = self._stops.setdefault("macros", threading.Event())

        def rank() -> None:
            from flowsynth_gui.explorer import RankingCancelled

            self._busy("ranking the macro knobs", True)
            try:
                macros = ex.macros(int(self.settings.get("macros/count")),
                                   progress=self.macros_progressed.emit, should_stop=stop)
            except RankingCancelled:
                return
            finally:
                self._busy("ranking the macro knobs", False)
            if ex is not self._explorer:
                return
            self._macros = [MacroInfo(m.index, m.dim, m.name,
                                      tuple(p.name for p in m.top_params)) for m in macros]
            self.macros_ranked.emit(list(self._macros))
            self._state_lane.submit("showing the knobs", lambda: self._publish(ex, "macros"))
        run_job(self._bg_pool, "ranking the macro knobs", rank, self._report_failure, _services)

    # --- matching -----------------------------------------------------------------------------

    def match_file(self, path: str) -> None:
        """Match a sound file (dropped or opened) and make the match current."""
        def match() -> None:
            from flowsynth_gui.features.audio_io import AudioFileError, load_audio

            try:
                loaded = load_audio(path, sample_rate=SAMPLE_RATE, duration=None)
            except AudioFileError as err:
                self.post("warning", f"Cannot match this file: {err}")
                return
            self._match(loaded.samples, Path(path).stem, loaded.notes)
        self._on_work_lane("matching the sound", match)

    def match_audio(self, samples: np.ndarray, source: str = "recording") -> None:
        """Match audio at 22,050 Hz (a recording)."""
        self._on_work_lane("matching the recording",
                           lambda: self._match(np.asarray(samples, np.float32), source, ()))

    def _on_work_lane(self, task: str, fn: Any) -> None:
        if self._explorer is None:
            self.post("info", "The model is still loading; try again in a moment")
            return
        self._work_lane.submit(task, fn)

    def _match(self, samples: np.ndarray, source: str, notes: tuple[str, ...]) -> None:
        from flowsynth_gui.features.audio_io import AudioFileError
        from flowsynth_gui.features.mel import log_mel

        ex = self._explorer
        self._busy("matching", True)
        try:
            result = ex.match(samples, SAMPLE_RATE, record=False)
        except AudioFileError as err:  # silent, too short, ...
            self.post("warning", f"Cannot match {source}: {err}")
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
        self.match_ready.emit(report)
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
        run_job(self._bg_pool, "refining the match", run, self._report_failure, _services)

    def _refined(self, ex: Explorer, result: Any) -> None:
        if ex is not self._explorer:
            return
        self._candidates = list(result.candidates)
        self._set_overlay(ex, "candidates", np.stack([c.z for c in result.candidates]))
        first = self._last_match
        candidates = tuple(CandidateInfo("model's answer" if c is result.start
                                         else f"candidate {i + 1}", c.distance)
                           for i, c in enumerate(result.candidates))
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
            name = f"{self._base.removesuffix(_EDITED)} #{index + 1}"
            ex.choose(self._candidates[index], label=name)
            self._set_name(name)
            self._publish(ex, "candidate")
        self._on_state_lane("choosing a candidate", choose)

    # --- neighbourhood and interpolation ---------------------------------------------------

    def find_neighbours(self, count: int, radius: float) -> None:
        """``count`` variations at latent distance ``radius`` around the current sound."""
        seed = next(self._seq)  # each search gives new variations

        def find(ex: Explorer) -> None:
            self._neighbours = ex.neighbours(count, radius, seed)
            base = self._base
            self._set_overlay(ex, "neighbours", np.stack([n.z for n in self._neighbours]))
            self.neighbours_found.emit(NeighbourInfo(
                tuple(f"{base} ~{i + 1}" for i in range(count)), radius))
        self._on_state_lane("finding variations", find)

    def choose_neighbour(self, index: int) -> None:
        def choose(ex: Explorer) -> None:
            if not 0 <= index < len(self._neighbours):
                return
            name = f"{self._base} ~{index + 1}"
            ex.choose(self._neighbours[index], label=name)
            self._set_name(name)
            self._publish(ex, "variation")
        self._on_state_lane("choosing a variation", choose)

    def interpolate(self, a: int, b: int, steps: int, names: tuple[str, str] = ("", "")) -> None:
        """Prepare a walk from map point ``a`` to ``b`` (``CURRENT`` for the current sound)."""
        def prepare(ex: Explorer) -> None:
            (va, na), (vb, nb) = self._end(ex, a, names[0]), self._end(ex, b, names[1])
            path = ex.interpolate(va, vb, steps)
            self._interpolation = (path, va, vb, na, nb)
            self._set_overlay(ex, "path", path.latent)
            self.interpolation_ready.emit(InterpolationInfo(na, nb, steps, False))
        self._on_state_lane("interpolating", prepare)

    def _end(self, ex: Explorer, index: int, name: str) -> tuple[dict[str, float], str]:
        if index == CURRENT:
            return ex.preset(), self._display_name()
        point = ex.map.points[index]
        if name and point.name != name:
            raise ValueError(f"the map changed: {name!r} is no longer point {index}")
        if point.params is not None:
            return dict(point.params), point.name
        return dict(zip(ex.names, ex.codec.to_params(point.z).tolist(), strict=True)), point.name

    def set_interpolation_step(self, step: int, straight: bool, final: bool = False) -> None:
        """Go to step ``step`` of the prepared walk (latent path, or straight in parameters)."""
        def go(ex: Explorer) -> None:
            from flowsynth_gui.gui.preset_io import blend_presets

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
                z = None if straight else path.latent[k]
            ex.load_preset(values, z=z, record=False)
            self._set_name(na if k == 0 else nb if k == last else
                           f"{na} → {nb} {k}/{last}{' straight' if straight else ''}")
            self._after_gesture(ex, "interpolation", final)
        self._on_state_lane("walking the interpolation", go, key="interpolation")

    # --- presets: library, files ------------------------------------------------------------

    def library(self) -> Any:
        """The preset library (made on first use; presets import lazily)."""
        if self._library is None:
            from flowsynth_gui.presets.library import PresetLibrary

            self._library = PresetLibrary(self.library_folder())
        return self._library

    def library_folder(self) -> str:
        folder = self.options.library_folder or self.settings.get("library/folder")
        if folder:
            return folder
        base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
        return os.path.join(base or os.path.expanduser("~/.local/share/FlowSynth"), "presets")

    def _place_library(self, ex: Explorer) -> None:
        library = self.library()
        added, skipped = ex.add_library_to_map(library)
        for name in library.list():
            if name not in skipped:
                self._tags_by_name.setdefault(name, ())
        if skipped:
            self.post("warning", f"{len(skipped)} presets of the library could not be read and "
                                 f"are not on the map: {', '.join(skipped[:5])}")
        self._publish_map(ex)
        self._emit_library()

    def _emit_library(self) -> None:
        library = self.library()
        self.library_changed.emit(LibraryListing(str(library.folder), tuple(library.list()),
                                                 tuple(library.favourites()),
                                                 tuple(self.settings_h2p_folders())))

    def refresh_library(self) -> None:
        self._work_lane.submit("reading the library", self._emit_library)

    def save_to_library(self, name: str, tags: list[str]) -> None:
        """Save the current sound to the library (a free name is chosen if taken)."""
        def save() -> None:
            ex = self._explorer
            library = self.library()
            free = library.unique_name(name)
            ex.save_preset(library, free, tags=tags)
            self._tags_by_name[free] = tuple(tags)
            self._place_library(ex)
            note = "" if free == name else f" ('{name}' was taken)"
            self.post("info", f"Saved '{free}' to the library{note}")
        self._on_work_lane("saving the preset", save)

    def load_library_preset(self, name: str) -> None:
        def load() -> None:
            preset = self.library().load(name)
            self._state_lane.submit("loading a preset", lambda: self._load_values(
                self._explorer, preset.parameters, preset.name, tuple(preset.tags)))
        self._on_work_lane("loading a preset", load)

    def set_favourite(self, name: str, favourite: bool) -> None:
        def mark() -> None:
            self.library().set_favourite(name, favourite)
            self._emit_library()
        self._work_lane.submit("marking a favourite", mark)

    def open_preset_file(self, path: str) -> None:
        """Load a ``.h2p`` or ``.fspreset`` file as the current sound."""
        def load() -> None:
            from flowsynth_gui.gui.preset_io import read_preset_file
            from flowsynth_gui.presets.h2p import H2pFormatError
            from flowsynth_gui.presets.library import PresetFormatError

            try:
                preset = read_preset_file(path)
            except (H2pFormatError, PresetFormatError, OSError) as err:
                self.post("warning", f"Cannot open {Path(path).name}: {err}")
                return
            self._state_lane.submit("loading a preset", lambda: self._load_values(
                self._explorer, preset.parameters, preset.name, tuple(preset.tags)))
        self._on_work_lane("opening a preset", load)

    def import_h2p_folder(self, folder: str) -> None:
        """Place every readable ``.h2p`` below ``folder`` on the map (remembered)."""
        self._on_work_lane("importing presets",
                           lambda: self._import_folder(self._explorer, folder, remember=True))

    def _import_folder(self, ex: Explorer, folder: str, remember: bool) -> None:
        from flowsynth_gui.presets.h2p import import_h2p_folder
        from flowsynth_gui.presets.library import Preset

        report = import_h2p_folder(folder)
        source = f"h2p:{folder}"
        presets = [Preset.from_h2p(p) for p in report.presets]
        for preset in presets:
            self._tags_by_name[preset.name] = tuple(preset.tags)
        ex.map.remove_source(source)
        ex.add_presets_to_map(presets, source)
        self._publish_map(ex)
        if report.skipped:
            skipped = "; ".join(f"{Path(p).name}: {why}" for p, why in report.skipped[:4])
            more = f" and {len(report.skipped) - 4} more" if len(report.skipped) > 4 else ""
            self.post("warning", f"Imported {len(presets)} presets from {folder}; skipped "
                                 f"{len(report.skipped)} ({skipped}{more})")
        elif remember:
            self.post("info", f"Imported {len(presets)} presets from {folder}")
        if remember and presets:
            self._in_gui(lambda: self._remember_folder(folder))

    def _remember_folder(self, folder: str) -> None:
        folders = self.settings_h2p_folders()
        if folder not in folders:
            self.settings.set("library/h2p_folders", [*folders, folder])
        self.refresh_library()

    def export_h2p(self, path: str, author: str, tags: list[str], description: str = "") -> None:
        """Write the current sound as a Diva preset (its name is the file's name)."""
        values = dict(self.state.values) if self.state else None

        def export() -> None:
            from flowsynth_gui.gui.preset_io import export_h2p

            if values is None:
                raise ValueError("no sound yet: the model is still loading")
            self._exported(export_h2p(path, values, author=author, description=description,
                                      tags=tags))
        self._work_lane.submit("exporting the .h2p preset", export)

    def export_fspreset(self, path: str, name: str, author: str, tags: list[str],
                        description: str = "") -> None:
        """Write the current sound in FlowSynth's own format (``.fspreset``)."""
        state = self.state

        def export() -> None:
            from flowsynth_gui.gui.preset_io import export_fspreset

            if state is None:
                raise ValueError("no sound yet: the model is still loading")
            self._exported(export_fspreset(path, name, state.values, tags=tags,
                                           latent=state.z.tolist(), author=author,
                                           description=description))
        self._work_lane.submit("exporting the preset", export)

    def _exported(self, target: Path) -> None:
        self.exported.emit(str(target))
        self.post("info", f"Exported {target}")

    # --- settings that act at once ------------------------------------------------------------

    def export(self, request: Any) -> None:
        """Export as the export dialog asked (an ``ExportRequest``); remembers author, folder."""
        self.settings.set("export/author", request.author)
        self.settings.set("export/folder", str(Path(request.path).parent))
        if request.kind == "h2p":
            self.export_h2p(request.path, request.author, request.tags, request.description)
        else:
            self.export_fspreset(request.path, request.name, request.author, request.tags,
                                 request.description)

    def apply_settings(self, changes: dict[str, Any]) -> None:
        """Store changed settings and act on them (devices, ports, model)."""
        if {"audio/output_device", "audio/input_device", "audio/blocksize"} & set(changes):
            merged = {key: changes.get(key, self.settings.get(key)) for key in (
                "audio/output_device", "audio/input_device", "audio/blocksize")}
            self.apply_audio_settings(*merged.values())
        actions = {"midi/out_port": self.select_midi_out, "midi/in_port": self.select_midi_in,
                   "midi/out_channel": self.set_midi_channel}
        for key, value in changes.items():
            if key in actions:
                actions[key](value)
            elif key == "model/path":
                self.load_model(value or str(DEFAULT_MODEL))
            elif not key.startswith("audio/") or key == "audio/auto_preview":
                self.settings.set(key, value)

    def apply_audio_settings(self, output: str, input_: str, blocksize: int) -> None:
        for key, value in (("audio/output_device", output), ("audio/input_device", input_),
                           ("audio/blocksize", blocksize)):
            self.settings.set(key, value)
        self.audio.reconfigure(output, input_, blocksize)

    def select_midi_out(self, port: str) -> None:
        self.settings.set("midi/out_port", port)
        self.midi.select_out(port)

    def set_midi_channel(self, channel: int) -> None:
        self.settings.set("midi/out_channel", channel)
        self.midi.set_channel(channel)

    def select_midi_in(self, port: str) -> None:
        self.settings.set("midi/in_port", port)
        self.midi.select_in(port)


# --- helpers ----------------------------------------------------------------------------------


def _services() -> None:
    require("model")


def _load_retrying(load: Any, error: type[Exception], path: str) -> Any:
    """Load a checkpoint; a checksum mismatch is retried briefly, since a training run may be
    between writing the weights and the sidecar (both atomic, one after the other)."""
    for attempt in range(4):
        try:
            return load(path)
        except error as err:
            if "checksum" not in str(err) or attempt == 3:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def _model_info(path: str, checkpoint: Any, explorer: Explorer) -> ModelInfo:
    from flowsynth_gui.synth.params import all_specs

    params = tuple(ParamInfo(s.name, s.section, float(s.min), float(s.max), s.unit,
                             s.default_normalised) for s in all_specs())
    sliders = tuple(SliderInfo(s.dim, s.negative, s.positive, *s.range)
                    for s in explorer.semantic_sliders())
    training = checkpoint.metadata.training or {}
    epochs = training.get("epochs") or training.get("epoch")
    summary = f"trained {epochs} epochs" if epochs else ""
    return ModelInfo(str(path), Path(path).stem, checkpoint.config.kind, explorer.codec.latent_dim,
                     tuple(explorer.names), params, sliders,
                     tuple(tuple(p) for p in checkpoint.metadata.tag_pairs), summary)
