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

The session is composed of controllers, one per concern, each holding its own state: this
module keeps the model, the current sound, gestures, history and previews; ``session.map``
(:mod:`.map_control`) the map, neighbours and interpolation; ``session.matching``
(:mod:`.matching_control`) matching and refinement; ``session.presets``
(:mod:`.presets_control`) the library and preset files; ``session.audio`` and
``session.midi`` the devices. The session forwards the panels' intents to them, so the panels
see one object; the controllers reach what they share (the explorer, the lanes, the signals,
the current sound's name) through the session.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal

from flowsynth_gui.fileio import describe_os_error
from flowsynth_gui.gui.audio_control import AudioControl
from flowsynth_gui.gui.gc_guard import GuiThreadCollector
from flowsynth_gui.gui.imports import services
from flowsynth_gui.gui.map_control import CURRENT, MapControl
from flowsynth_gui.gui.matching_control import SAMPLE_RATE, MatchingControl
from flowsynth_gui.gui.midi_control import MidiControl
from flowsynth_gui.gui.presets_control import PresetsControl
from flowsynth_gui.gui.qt_fixes import shield_singletons
from flowsynth_gui.gui.settings import Settings
from flowsynth_gui.gui.state import (
    EDITED,
    MacroInfo,
    MapSnapshot,
    ModelInfo,
    ParamInfo,
    Rendered,
    SliderInfo,
    SoundState,
)
from flowsynth_gui.gui.workers import Lane, run_job
from flowsynth_gui.paths import DEFAULT_MODEL, cache_dir

if TYPE_CHECKING:
    from flowsynth_gui.explorer import Explorer

__all__ = ["CURRENT", "DEFAULT_MODEL", "Session", "SessionOptions"]

log = logging.getLogger(__name__)

PREVIEW_PAUSE_MS = 250  # a drag that rests this long gets its preview rendered
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
    index_path: str | None = None  # the sound index matching searches; None: the shipped one
    posterior_path: str | None = None  # the parameter posterior on that index; None: shipped


def _intent(control: str, name: str) -> Any:
    """A panel's intent that one of the session's controllers carries out."""
    def forward(self: Session, *args: Any, **kwargs: Any) -> Any:
        return getattr(getattr(self, control), name)(*args, **kwargs)
    forward.__name__ = forward.__qualname__ = name
    forward.__doc__ = f"``self.{control}.{name}``: see there."
    return forward


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
    match_ready = Signal(object)  # MatchReport: a match's first answer, or its search's end
    match_improved = Signal(object)  # MatchReport: the live search found closer candidates
    refine_progressed = Signal(int, int, float)  # elapsed ms, budget ms, best distance
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

    # The intents the controllers carry out, so that the panels see one session.
    set_axes = _intent("map", "set_axes")
    find_neighbours = _intent("map", "find_neighbours")
    choose_neighbour = _intent("map", "choose_neighbour")
    interpolate = _intent("map", "interpolate")
    set_interpolation_step = _intent("map", "set_interpolation_step")
    match_file = _intent("matching", "match_file")
    match_audio = _intent("matching", "match_audio")
    refine = _intent("matching", "refine")
    cancel_refine = _intent("matching", "cancel_refine")
    choose_candidate = _intent("matching", "choose_candidate")
    give_feedback = _intent("matching", "give_feedback")
    undo_feedback = _intent("matching", "undo_feedback")
    clear_feedback = _intent("matching", "clear_feedback")
    library = _intent("presets", "library")
    library_folder = _intent("presets", "library_folder")
    refresh_library = _intent("presets", "refresh_library")
    save_to_library = _intent("presets", "save_to_library")
    load_library_preset = _intent("presets", "load_library_preset")
    set_favourite = _intent("presets", "set_favourite")
    open_preset_file = _intent("presets", "open_preset_file")
    import_h2p_folder = _intent("presets", "import_h2p_folder")
    export = _intent("presets", "export")
    export_h2p = _intent("presets", "export_h2p")
    export_fspreset = _intent("presets", "export_fspreset")

    def __init__(self, settings: Settings, options: SessionOptions | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        shield_singletons()  # PySide6 6.12.0's emit() leaks references to True (see there)
        self.settings = settings
        self.options = options or SessionOptions()
        self._ui_pool, self.bg_pool = QThreadPool(self), QThreadPool(self)
        self._ui_pool.setMaxThreadCount(2)
        self.bg_pool.setMaxThreadCount(2)
        self.state_lane, self._preview_lane = (
            Lane(self._ui_pool, name, self.report_failure, prepare=services)
            for name in ("state", "preview"))
        self.work_lane = Lane(self.bg_pool, "work", self.report_failure, prepare=services)
        self._gui_call.connect(lambda fn: fn())
        self._collector = GuiThreadCollector(self)
        self._collector.start()  # before any worker runs Python code
        self.audio = AudioControl(
            self.bg_pool, self.report_failure, enabled=self.options.audio,
            output_device=settings.get("audio/output_device"),
            input_device=settings.get("audio/input_device"),
            blocksize=settings.get("audio/blocksize"), parent=self)
        self.midi = MidiControl(
            self.bg_pool, self.report_failure, self.audio, enabled=self.options.midi,
            api=settings.get("midi/api"), out_port=settings.get("midi/out_port"),
            channel=settings.get("midi/out_channel"), in_port=settings.get("midi/in_port"),
            system=self.options.midi_system,
            bindings_folder=str(Path(settings.path).parent) if settings.path else None,
            parent=self)
        # One controller per concern, each with its own state; they reach what they share
        # (the explorer, the lanes, the signals, the current sound's name) through the session.
        self.map = MapControl(self)
        self.matching = MatchingControl(self)
        self.presets = PresetsControl(self)
        self._wireservices()
        self._explorer: Explorer | None = None
        self._models_loading = 0  # loads queued or running (work submitted meanwhile waits)
        self._models_loading_lock = threading.Lock()  # counted up here, down on a worker
        self.model_info: ModelInfo | None = None
        self.state: SoundState | None = None
        self.map_snapshot: MapSnapshot | None = None
        self.seq = itertools.count(1)
        self._name_lock = threading.RLock()  # _base and _edited, written from two lanes
        self.base_name, self._edited = "Init", False
        self.tags_by_name: dict[str, tuple[str, ...]] = {}
        self._preview: Rendered | None = None
        self._macros: list[MacroInfo] = []
        self.stops: dict[str, threading.Event] = {}
        self.closing = False
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_PAUSE_MS)
        self._preview_timer.timeout.connect(lambda: self._request_preview(self.auto_preview))
        self._learned_gesture = ""
        self._learned_rest = QTimer(self)  # a controller knob at rest ends its gesture
        self._learned_rest.setSingleShot(True)
        self._learned_rest.setInterval(PREVIEW_PAUSE_MS)
        self._learned_rest.timeout.connect(lambda: self.finish_gesture(self._learned_gesture))
        self._health = QTimer(self)
        self._health.setInterval(2000)
        self._health.timeout.connect(lambda: self.audio.check_health(self.post))
        self.params_changed.connect(self._on_params_changed)

    # --- start, stop, messages ----------------------------------------------------------------

    def _wireservices(self) -> None:
        self.audio.status_changed.connect(lambda text: self.status_changed.emit("audio", text))
        self.audio.problem_reported.connect(self.post)
        self.audio.recorded.connect(lambda samples: self.matching.match_audio(samples, "recording"))
        self.midi.out_status_changed.connect(
            lambda text: self.status_changed.emit("midi_out", text))
        self.midi.in_status_changed.connect(lambda text: self.status_changed.emit("midi_in", text))
        self.midi.problem_reported.connect(self.post)
        self.midi.control_moved.connect(self.move_learned_control)

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

    @property
    def macros(self) -> tuple[MacroInfo, ...]:
        """The ranked macro knobs, once ranking has finished (empty before)."""
        return tuple(self._macros)

    def post(self, level: str, text: str) -> None:
        """Show a message in the window and log it (any thread)."""
        getattr(log, {"error": "error", "warning": "warning"}.get(level, "info"))("%s", text)
        self._emit_while_open(self.message_posted, level, text)

    def _emit_while_open(self, signal: Any, *args: Any) -> None:
        """Emit from a worker, unless the window is closing: a job that outlives the
        shutdown's wait must not touch Qt objects that are being deleted."""
        if self.closing:
            return
        try:
            signal.emit(*args)
        except RuntimeError:  # deleted between the check and the emit
            if not self.closing:
                raise

    def report_failure(self, task: str, err: BaseException) -> None:
        reason = describe_os_error(err) if isinstance(err, OSError) else str(err)
        self.post("error", f"{task[:1].upper()}{task[1:]} failed: {reason}")

    def in_gui(self, fn: Any) -> None:
        self._gui_call.emit(fn)

    def set_busy(self, task: str, running: bool) -> None:
        self._emit_while_open(self.busy_changed, task, running)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Cancel long jobs, wait for the workers, close devices and ports."""
        self.closing = True
        self._preview_timer.stop()
        self._health.stop()
        for stop in self.stops.values():
            stop.set()
        for lane in (self.state_lane, self._preview_lane, self.work_lane):
            lane.clear()
        deadline_ms = int(timeout * 1000)
        self._ui_pool.waitForDone(deadline_ms)
        self.bg_pool.waitForDone(deadline_ms)
        self.audio.shutdown()
        self.midi.shutdown()
        self.settings.sync()
        self._collector.stop()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until no lane has work (tests and benchmarks; not the GUI thread's way)."""
        deadline = time.monotonic() + timeout
        lanes = (self.work_lane, self.state_lane, self._preview_lane)
        return all(lane.wait_idle(max(0.0, deadline - time.monotonic())) for lane in lanes)

    # --- the model ------------------------------------------------------------------------------

    def load_model(self, path: str, *, first: bool = False) -> None:
        """Load a checkpoint; a foreign or broken one leaves the current model in place."""
        with self._models_loading_lock:
            self._models_loading += 1
        self.work_lane.submit("loading the model", lambda: self._load_model(path, first))

    def _load_model(self, path: str, first: bool) -> None:
        try:
            self._load_model_now(path, first)
        finally:
            with self._models_loading_lock:
                self._models_loading -= 1

    def _load_model_now(self, path: str, first: bool) -> None:
        from flowsynth_gui.explorer.sounds import open_model, warm_up

        self.set_busy("loading the model", True)
        self.status_changed.emit("model", f"Model: loading {Path(path).name}…")
        try:
            opened = open_model(path, index_path=self.options.index_path,
                                posterior_path=self.options.posterior_path,
                                macro_settings=self.options.macro_settings,
                                macro_cache_folder=self._cache_folder(),
                                workers=self.options.render_workers)
        except (ValueError, OSError) as err:  # a foreign or corrupt checkpoint names the reason
            self._model_failed(path, err, first)
            return
        finally:
            self.set_busy("loading the model", False)
        explorer = opened.explorer
        previous = self._explorer
        if previous is not None:
            self._carry_over(previous, explorer)
        self._explorer = explorer
        self.model_info = _model_info(path, opened.checkpoint, explorer)
        self.model_loaded.emit(self.model_info)
        self.status_changed.emit("model", f"Model: {self.model_info.label}")
        if not first:
            self.in_gui(lambda: self.settings.set("model/path", path))
            self.post("info", f"Loaded model {self.model_info.label}")
        for note in opened.matching_notes:
            self.post("info", f"Sound matching: {note}")
        if opened.imitation_note:
            self.post("info", f"Imitation: {opened.imitation_note}")
        warm_up(explorer)  # compiled kernels loaded now, not at the first preview or imitation
        self.map.clear()
        self.matching.clear()
        self.publish(explorer, "model")
        self.map.build(explorer)
        self._rank_macros(explorer)
        self.in_gui(self._collector.settle)  # the model stays out of later collections

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
        values = previous.preset()
        try:  # where the new model hears it (any model can: no f^-1 needed)
            explorer.load_preset(values, z=explorer.heard_latent(values), record=False)
            explorer.commit(self.display_name())
        except ValueError as err:  # e.g. the new model explores other parameters
            log.warning("could not carry the current sound over: %s", err)

    def _cache_folder(self) -> str:
        if self.options.cache_folder:
            return self.options.cache_folder
        return str(cache_dir() / "macros")

    # --- publishing the current sound -------------------------------------------------------

    def display_name(self) -> str:
        with self._name_lock:
            return self.base_name + (EDITED if self._edited else "")

    def set_name(self, label: str) -> None:
        """The current sound's name (any lane: the state lane's gestures and the work lane's
        matches both name it, so base and edited change together under one lock)."""
        if label in ("", "start"):
            label = "Init"
        with self._name_lock:
            if label.endswith(EDITED):
                self.base_name, self._edited = label[: -len(EDITED)], True
            else:
                self.base_name, self._edited = label, False

    def _mark_edited(self) -> None:
        with self._name_lock:
            self._edited = True

    def publish(self, ex: Explorer, label: str, *, continuous: bool = False) -> None:
        """Worker: send the explorer's current sound to MIDI, the synth and the panels."""
        if ex is not self._explorer or self.closing:
            return
        now = ex.snapshot()
        semantic = now.semantic
        with self._name_lock:
            base, edited, name = self.base_name, self._edited, self.display_name()
        tags = self.tags_by_name.get(base, ()) if not edited else ()
        previous = self.state
        if continuous and previous is not None and (edited or base not in self.tags_by_name):
            tags = previous.tags  # mid-gesture: the tags are suggested when it ends
        elif edited or base not in self.tags_by_name:
            from flowsynth_gui.explorer import suggest_tags

            pairs = [(s.negative, s.positive) for s in self.model_info.sliders]
            tags = tuple(suggest_tags(pairs, semantic))
        values = now.values
        state = SoundState(
            seq=next(self.seq), name=name, label=label, values=values, z=now.z,
            position=now.position, semantic=semantic,
            macros=now.macros if self._macros else (), note=now.note, tags=tags,
            continuous=continuous, can_undo=now.can_undo, can_redo=now.can_redo)
        self.state = state
        self.midi.send_params(values, settled=not continuous)
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
        from flowsynth_gui.explorer.sounds import render_preview

        state = self.state
        if state is None or self.closing:
            return
        preview = self._preview
        if preview is None or preview.seq != state.seq:
            audio, spectrogram = render_preview(state.values, state.note)
            preview = Rendered(audio, SAMPLE_RATE, spectrogram, state.name, state.seq)
            self._preview = preview
            self.preview_rendered.emit(preview)
        if play and not self._play(preview) and asked:
            self.post("info", f"Cannot play the sound: {self.audio.status}")

    def playback_audio(self, sound: Rendered) -> np.ndarray:
        """What the speakers get: the sound at the common preview loudness when that is on
        (Settings), else as it is."""
        from flowsynth_gui.audio.loudness import preview_gain

        if not self.settings.get("audio/normalise_preview"):
            return sound.audio
        return (sound.audio * np.float32(preview_gain(sound.audio))).astype(np.float32)

    def _play(self, sound: Rendered) -> bool:
        return self.audio.play(self.playback_audio(sound), sound.sample_rate)

    def play_preview(self) -> None:
        """Render the current sound if needed and play it (play button, space bar)."""
        self._request_preview(True, asked=True)

    def play_target(self) -> None:
        target = self.matching.target
        if target is None:
            self.post("info", "No target yet: drop or record a sound to match")
        elif not self._play(target):
            self.post("info", f"Cannot play: {self.audio.status}")

    # --- gestures on the state lane -------------------------------------------------------

    def on_state_lane(self, task: str, fn: Any, key: str | None = None) -> None:
        ex = self._explorer
        if ex is None:
            self.post("info", "The model is still loading" if self._models_loading else
                      "No model is loaded: choose a model in Settings")
            return
        self.state_lane.submit(task, lambda: fn(ex), key=key)

    def move_cursor(self, x: float, y: float) -> None:
        """The map cursor is being dragged to ``(x, y)`` (latest position wins)."""
        def move(ex: Explorer) -> None:
            ex.move_on_map(x, y)
            self._mark_edited()
            self.publish(ex, "map", continuous=True)
        self.on_state_lane("moving on the map", move, key="cursor")

    def finish_gesture(self, label: str = "map") -> None:
        """A drag, slider or knob gesture ended: record it in the history, preview it."""
        def commit(ex: Explorer) -> None:
            ex.commit(self.display_name())
            self.publish(ex, label)
        self.on_state_lane("recording the change", commit)

    def set_semantic(self, index: int, value: float, final: bool = False) -> None:
        def move(ex: Explorer) -> None:
            ex.set_semantic(index, value, record=False)
            self._mark_edited()
            self.after_gesture(ex, self.model_info.sliders[index].label, final)
        self.on_state_lane("moving a semantic slider", move, key=f"semantic{index}")

    def set_macro(self, index: int, value: float, final: bool = False) -> None:
        if not self._macros:
            self.post("info", "The macro knobs are still being ranked")
            return

        def move(ex: Explorer) -> None:
            ex.set_macro(index, value, record=False)
            self._mark_edited()
            self.after_gesture(ex, self._macros[index].name, final)
        self.on_state_lane("turning a macro knob", move, key=f"macro{index}")

    def learn_control(self, name: str) -> None:
        """Bind the next knob the user turns on the MIDI controller to control ``name``."""
        if self.midi.learn(name):
            self.post("info", f"MIDI learn: turn a knob on your controller to bind it to "
                              f"{name}")

    def move_learned_control(self, name: str, value: float) -> None:
        """A controller knob bound to ``name`` moved to ``value`` in [0, 1] (GUI thread).

        Moves are a gesture like a mouse drag: recorded and previewed once the knob rests.
        """
        sliders = self.model_info.sliders if self.model_info else ()
        targets = [(self.set_semantic, i, s.low, s.high) for i, s in enumerate(sliders)
                   if s.label == name]
        targets += [(self.set_macro, i, m.low, m.high) for i, m in enumerate(self._macros)
                    if m.name == name]
        if not targets:
            return  # bound to a control this model does not have
        move, index, low, high = targets[0]
        move(index, low + value * (high - low))
        self._learned_gesture = name
        self._learned_rest.start()

    def set_param(self, name: str, value: float, final: bool = False) -> None:
        """Edit one parameter of the model's set (normalised value)."""
        def edit(ex: Explorer) -> None:
            values = ex.preset()
            values[name] = float(min(1.0, max(0.0, value)))
            # The cursor stays: the edit is kept as the residual f(z) does not say (f^-1 of
            # an imported preset can lie far outside the map).
            ex.load_preset(values, z=ex.z, record=False)
            self._mark_edited()
            self.after_gesture(ex, name, final)
        self.on_state_lane("editing a parameter", edit, key=f"param:{name}")

    def after_gesture(self, ex: Explorer, label: str, final: bool) -> None:
        if final:
            ex.commit(self.display_name())
        self.publish(ex, label, continuous=not final)

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
            self.tags_by_name[point.name] = tuple(point.tags)
            ex.go_to_map_point(i)  # records it under the point's name
            self.set_name(point.name)
            self.publish(ex, "map point")
            self.preset_loaded.emit(point.name)
        self.on_state_lane("loading a preset", load)

    def undo(self) -> None:
        self.on_state_lane("undo", lambda ex: self._step_history(ex, ex.undo, "undo"))

    def redo(self) -> None:
        self.on_state_lane("redo", lambda ex: self._step_history(ex, ex.redo, "redo"))

    def _step_history(self, ex: Explorer, step: Any, label: str) -> None:
        ex.commit(self.display_name())  # a pending drag becomes redoable
        if step() is None:
            self.post("info", f"Nothing to {label}")
            return
        self.set_name(ex.history.current.label or self.base_name)
        self.publish(ex, label)

    def load_values(self, ex: Explorer, values: dict[str, float], name: str,
                     tags: tuple[str, ...], z: np.ndarray | None = None) -> None:
        """Make a preset current under ``name`` and tell everyone (state or work lane). A
        preset from a file goes where the map would place it (``heard_latent``)."""
        self.tags_by_name[name] = tags
        ex.load_preset(values, z=ex.heard_latent(values) if z is None else z, record=False)
        self.set_name(name)
        ex.commit(name)
        self.publish(ex, "preset")
        self.preset_loaded.emit(name)

    # --- macro knobs ------------------------------------------------------------------------

    def _rank_macros(self, ex: Explorer) -> None:
        if self.closing:  # asked for by a model load that finished during the shutdown
            return
        stop = self.stops.setdefault("macros", threading.Event())

        def rank() -> None:
            from flowsynth_gui.explorer import RankingCancelled

            self.set_busy("ranking the macro knobs", True)
            try:
                macros = ex.macros(int(self.settings.get("macros/count")),
                                   progress=lambda done, total: self._emit_while_open(
                                       self.macros_progressed, done, total), should_stop=stop)
            except RankingCancelled:
                return
            finally:
                self.set_busy("ranking the macro knobs", False)
            if ex is not self._explorer:
                return
            self._macros = [MacroInfo(m.index, m.dim, m.name,
                                      tuple(p.name for p in m.top_params), label=m.label)
                            for m in macros]
            self.macros_ranked.emit(list(self._macros))
            self.state_lane.submit("showing the knobs", lambda: self.publish(ex, "macros"))
        run_job(self.bg_pool, "ranking the macro knobs", rank, self.report_failure, services)

    def on_work_lane(self, task: str, fn: Any) -> None:
        """Work that needs a model. While the first one loads it waits in the lane behind
        the load (a file dropped at start-up is matched, not thrown away)."""
        if self._explorer is not None:
            self.work_lane.submit(task, fn)
            return
        if not self._models_loading:
            self.post("warning", f"No model is loaded, so {task} cannot start: choose a "
                                 "model in Settings")
            return
        self.post("info", f"The model is still loading: {task} starts once it is ready")

        def when_loaded() -> None:
            if self._explorer is None:
                self.post("warning", f"No model could be loaded, so {task} did not start")
                return
            fn()
        self.work_lane.submit(task, when_loaded)

    # --- settings that act at once ------------------------------------------------------------

    def apply_settings(self, changes: dict[str, Any]) -> None:
        """Store changed settings and act on them (devices, ports, model)."""
        if {"audio/output_device", "audio/input_device", "audio/blocksize"} & set(changes):
            merged = {key: changes.get(key, self.settings.get(key)) for key in (
                "audio/output_device", "audio/input_device", "audio/blocksize")}
            self.apply_audio_settings(*merged.values())
        actions = {"midi/out_port": self.select_midi_out, "midi/in_port": self.select_midi_in,
                   "midi/out_channel": self.set_midi_channel, "midi/api": self.set_midi_api}
        for key, value in changes.items():
            if key in actions:
                actions[key](value)
            elif key == "model/path":
                self.load_model(value or str(DEFAULT_MODEL))
            elif not key.startswith("audio/") or key in ("audio/auto_preview",
                                                         "audio/normalise_preview"):
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

    def set_midi_api(self, api: str) -> None:
        self.settings.set("midi/api", api)
        self.midi.set_api(api)

    def refresh_devices(self, reopen: bool = True) -> None:
        """Look for audio devices and MIDI ports again (a JACK server started after the app:
        Settings → Refresh; and, where sound or MIDI is missing, when the window comes back
        to the front: ``reopen`` False)."""
        self.audio.rescan(reopen)
        if reopen or self.midi.no_system:
            self.midi.refresh_ports()

    def select_midi_in(self, port: str) -> None:
        self.settings.set("midi/in_port", port)
        self.midi.select_in(port)


# --- helpers ----------------------------------------------------------------------------------


def _model_info(path: str, checkpoint: Any, explorer: Explorer) -> ModelInfo:
    from flowsynth_gui.explorer.sounds import parameter_specs

    params = tuple(ParamInfo(s.name, s.section, float(s.min), float(s.max), s.unit,
                             s.default_normalised, s.dsp) for s in parameter_specs())
    sliders = tuple(SliderInfo(s.dim, s.negative, s.positive, *s.range)
                    for s in explorer.semantic_sliders())
    training = checkpoint.metadata.training or {}
    epochs = training.get("epochs") or training.get("epoch")
    summary = f"trained {epochs} epochs" if epochs else ""
    return ModelInfo(str(path), Path(path).stem, checkpoint.config.kind, explorer.codec.latent_dim,
                     tuple(explorer.names), params, sliders,
                     tuple(tuple(p) for p in checkpoint.metadata.tag_pairs), summary)
