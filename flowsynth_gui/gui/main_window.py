"""The main window: assembles the panels and wires them to the session. Nothing else."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QMainWindow,
    QSplitter,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from flowsynth_gui.gui.actions import Actions
from flowsynth_gui.gui.dialogs.export_dialog import ExportDialog
from flowsynth_gui.gui.dialogs.settings_dialog import MODEL_FILTER, SettingsDialog
from flowsynth_gui.gui.drops import DropRouter
from flowsynth_gui.gui.matching_control import MATCH_FAILED
from flowsynth_gui.gui.panels.controls_panel import ControlsPanel
from flowsynth_gui.gui.panels.interpolation_panel import InterpolationPanel
from flowsynth_gui.gui.panels.library_panel import PRESET_FILTER, LibraryPanel
from flowsynth_gui.gui.panels.map_panel import MapPanel
from flowsynth_gui.gui.panels.matching_panel import AUDIO_FILTER, MatchingPanel
from flowsynth_gui.gui.panels.message_bar import MessageBar
from flowsynth_gui.gui.panels.midi_panel import MidiPanel
from flowsynth_gui.gui.panels.neighbours_panel import NeighboursPanel
from flowsynth_gui.gui.panels.params_panel import ParamsPanel
from flowsynth_gui.gui.panels.sound_panel import SoundPanel
from flowsynth_gui.gui.panels.status_bar import StatusBar
from flowsynth_gui.gui.session import Session
from flowsynth_gui.gui.theme import apply_theme

__all__ = ["MainWindow"]


class MainWindow(QMainWindow):
    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.setWindowTitle("FlowSynth")
        self.commands = Actions(self)
        self._build()
        self._wire_session()
        self._wire_panels()
        self._wire_actions()
        app = QApplication.instance()
        if app is not None:  # back to the front: look again for what was missing (JACK)
            app.applicationStateChanged.connect(self._came_to_front)
        self._restore()

    # --- assembly ---------------------------------------------------------------------------

    def _build(self) -> None:
        self.messages = MessageBar()
        self.map = MapPanel()
        self.sound = SoundPanel()
        self.controls = ControlsPanel()
        self.params = ParamsPanel()
        self.matching = MatchingPanel()
        self.neighbours = NeighboursPanel()
        self.interpolation = InterpolationPanel()
        self.library = LibraryPanel()
        self.midi = MidiPanel()
        self.tabs = QTabWidget()
        for panel, title in ((self.matching, "Match"), (self.neighbours, "Variations"),
                             (self.interpolation, "Interpolate"), (self.library, "Library"),
                             (self.midi, "MIDI")):
            self.tabs.addTab(panel, title)
        left = _splitter(Qt.Orientation.Vertical, (self.map, 3), (self.sound, 2))
        right = _splitter(Qt.Orientation.Vertical, (self.controls, 0), (self.params, 1))
        self.splitter = _splitter(Qt.Orientation.Horizontal, (left, 5), (self.tabs, 2),
                                  (right, 3))
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.messages)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)
        self.status = StatusBar()
        self.setStatusBar(self.status)
        toolbar = QToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.setMovable(False)
        for action in self.commands.toolbar_order():
            toolbar.addSeparator() if action is None else toolbar.addAction(action)
        self.addToolBar(toolbar)
        file_menu = self.menuBar().addMenu("&File")
        for action in (self.commands.open_sound, self.commands.open_preset, self.commands.export,
                       self.commands.import_folder, self.commands.load_model,
                       self.commands.settings, self.commands.quit):
            file_menu.addAction(action)
        edit_menu = self.menuBar().addMenu("&Edit")
        for action in (self.commands.undo, self.commands.redo, self.commands.play):
            edit_menu.addAction(action)
        self.drops = DropRouter(self)
        self.setAcceptDrops(True)
        self.installEventFilter(self.drops)

    def _restore(self) -> None:
        settings = self.session.settings
        geometry = settings.get("ui/geometry")
        self.geometry_restored = bool(geometry) and self.restoreGeometry(
            QByteArray.fromBase64(geometry.encode("ascii")))
        if not self.geometry_restored:
            self.resize(1600, 980)
        self.map.set_colour_by(settings.get("map/colour_by"))
        self.neighbours.set_defaults(settings.get("neighbours/count"),
                                     settings.get("neighbours/radius"))
        self.interpolation.steps.setValue(settings.get("interpolation/steps"))
        self.matching.budget.setValue(settings.get("match/budget_seconds"))
        self.matching.budget.valueChanged.connect(
            lambda seconds: settings.set("match/budget_seconds", float(seconds)))
        self.midi.set_choices(settings.get("midi/out_port"), settings.get("midi/out_channel"),
                              settings.get("midi/in_port"))

    # --- wiring -------------------------------------------------------------------------------

    def _wire_session(self) -> None:
        s = self.session
        for panel in (self.map, self.controls, self.params):
            s.model_loaded.connect(panel.show_model)
        for panel in (self.map, self.controls, self.params, self.library):
            s.params_changed.connect(panel.show_state)
        s.params_changed.connect(self._history_buttons)
        s.preview_rendered.connect(self.sound.show_preview)
        s.target_loaded.connect(self.sound.show_target)
        s.map_changed.connect(self.map.show_map)
        s.map_changed.connect(self.interpolation.show_map)
        s.overlays_changed.connect(self.map.show_overlays)
        s.match_ready.connect(self.matching.show_match)
        s.match_ready.connect(lambda _: self.tabs.setCurrentWidget(self.matching))
        s.match_ready.connect(lambda _: self.messages.dismiss_if_starts(MATCH_FAILED))
        s.match_improved.connect(self.matching.show_match)
        s.refine_progressed.connect(self.matching.show_refine_progress)
        s.macros_ranked.connect(self.controls.show_macros)
        s.model_failed.connect(lambda _: s.model_info is None and self.controls.show_no_model())
        s.macros_progressed.connect(self.controls.show_ranking_progress)
        s.neighbours_found.connect(self.neighbours.show_neighbours)
        s.interpolation_ready.connect(self.interpolation.show_interpolation)
        s.params_changed.connect(
            lambda state: setattr(self.interpolation, "current_name", state.name))
        s.library_changed.connect(self.library.show_library)
        s.status_changed.connect(self.status.show_status)
        s.status_changed.connect(lambda key, text: self.midi.show_out_status(text)
                                 if key == "midi_out" else self.midi.show_in_status(text)
                                 if key == "midi_in" else None)
        s.message_posted.connect(self.messages.show_message)
        s.busy_changed.connect(self.status.show_busy)
        s.audio.levels_measured.connect(self.matching.show_levels)
        s.audio.recording_changed.connect(self.matching.show_recording)
        s.midi.ports_listed.connect(self.midi.show_ports)

    def _show_cc_map(self, *_: object) -> None:
        midi, info = self.session.midi, self.session.model_info
        if midi.cc_map is not None:
            self.midi.show_cc_map(midi.cc_map, midi.cc_map_source, info.active if info else ())

    def _wire_panels(self) -> None:
        s = self.session
        self.map.cursor_dragged.connect(s.move_cursor)
        self.map.drag_finished.connect(lambda: s.finish_gesture("map"))
        self.map.point_clicked.connect(s.go_to_point)
        self.map.axes_chosen.connect(s.set_axes)
        self.map.colour_chosen.connect(lambda pair: s.settings.set("map/colour_by", pair))
        self.controls.semantic_moved.connect(s.set_semantic)
        self.controls.macro_turned.connect(s.set_macro)
        self.controls.learn_requested.connect(s.learn_control)
        self.controls.forget_requested.connect(s.midi.forget)
        s.midi.bindings_changed.connect(self.controls.show_bindings)
        s.midi.cc_map_loaded.connect(self._show_cc_map)
        s.model_loaded.connect(self._show_cc_map)
        self.params.param_edited.connect(s.set_param)
        self.sound.play_requested.connect(s.play_preview)
        self.sound.play_target_requested.connect(s.play_target)
        self.matching.file_chosen.connect(s.match_file)
        self.matching.imitation_file_chosen.connect(lambda path: s.match_file(path, True))
        self.matching.imitation_toggled.connect(
            lambda on: s.settings.set("match/imitate_recordings", on))
        self.matching.imitation.setChecked(bool(s.settings.get("match/imitate_recordings")))
        self.matching.feedback_given.connect(s.give_feedback)
        self.matching.feedback_undone.connect(s.undo_feedback)
        self.matching.feedback_cleared.connect(s.clear_feedback)
        self.matching.arm_toggled.connect(lambda on: s.audio.arm() if on else s.audio.disarm())
        self.matching.record_toggled.connect(lambda on: s.audio.record() if on
                                             else s.audio.stop())
        self.matching.refine_requested.connect(s.refine)
        self.matching.refine_requested.connect(lambda _: self.matching.start_refine())
        self.matching.refine_cancelled.connect(s.cancel_refine)
        self.matching.candidate_chosen.connect(s.choose_candidate)
        self.neighbours.neighbours_requested.connect(s.find_neighbours)
        self.neighbours.neighbour_chosen.connect(s.choose_neighbour)
        self.interpolation.interpolation_requested.connect(
            lambda a, b, steps, na, nb: s.interpolate(a, b, steps, (na, nb)))
        self.interpolation.step_moved.connect(s.set_interpolation_step)
        self.library.preset_chosen.connect(s.load_library_preset)
        self.library.favourite_toggled.connect(s.set_favourite)
        self.library.save_requested.connect(s.save_to_library)
        self.library.import_requested.connect(s.import_h2p_folder)
        self.library.open_requested.connect(s.open_preset_file)
        self.midi.out_port_chosen.connect(s.select_midi_out)
        self.midi.channel_chosen.connect(s.set_midi_channel)
        self.midi.in_port_chosen.connect(s.select_midi_in)
        self.midi.refresh_requested.connect(s.midi.refresh_ports)
        self.drops.sound_dropped.connect(s.match_file)
        self.drops.preset_dropped.connect(s.open_preset_file)
        self.drops.folder_dropped.connect(s.import_h2p_folder)

    def _wire_actions(self) -> None:
        a, s = self.commands, self.session
        a.play.triggered.connect(s.play_preview)
        a.undo.triggered.connect(s.undo)
        a.redo.triggered.connect(s.redo)
        a.open_sound.triggered.connect(lambda: self._ask_file("Match a sound", AUDIO_FILTER,
                                                              s.match_file))
        a.open_preset.triggered.connect(lambda: self._ask_file("Open a preset", PRESET_FILTER,
                                                               s.open_preset_file))
        a.load_model.triggered.connect(lambda: self._ask_file("Load a model", MODEL_FILTER,
                                                              s.load_model))
        a.import_folder.triggered.connect(self.library._import)  # noqa: SLF001 - same dialog
        a.export.triggered.connect(self.export)
        a.settings.triggered.connect(self.edit_settings)
        a.quit.triggered.connect(self.close)

    def _history_buttons(self, state: object) -> None:
        self.commands.undo.setEnabled(state.can_undo)
        self.commands.redo.setEnabled(state.can_redo)

    # --- dialogs ------------------------------------------------------------------------------

    def _ask_file(self, title: str, filters: str, then: object) -> None:
        path, _ = QFileDialog.getOpenFileName(self, title, "", filters)
        if path:
            then(path)

    def export_dialog(self) -> ExportDialog:
        """The export dialog, prefilled from the current sound and the last export."""
        state, settings = self.session.state, self.session.settings
        name = state.name.replace(" (edited)", " variation") if state else "FlowSynth"
        return ExportDialog(name, list(state.tags) if state else [],
                            settings.get("export/author"), settings.get("export/folder"),
                            parent=self)

    def export(self) -> None:
        dialog = self.export_dialog()
        if dialog.exec():
            self.session.export(dialog.request())

    def settings_dialog(self) -> SettingsDialog:
        s = self.session
        values = {key: s.settings.get(key) for key in (
            "audio/output_device", "audio/input_device", "audio/blocksize",
            "audio/auto_preview", "audio/normalise_preview", "midi/out_port", "midi/out_channel",
            "midi/in_port",
            "midi/api", "model/path", "ui/theme", "map/sketches")}
        dialog = SettingsDialog(values, s.audio.output_names, s.audio.input_names,
                                s.midi.outputs, s.midi.inputs, midi_api_choices(), parent=self)
        dialog.refresh_requested.connect(s.refresh_devices)
        s.audio.devices_listed.connect(dialog.show_devices)  # gone with the dialog
        s.midi.ports_listed.connect(dialog.show_midi_ports)
        return dialog

    def edit_settings(self) -> None:
        dialog = self.settings_dialog()
        if dialog.exec():
            changes = dialog.changes()
            self.session.apply_settings(changes)
            if "ui/theme" in changes:
                apply_theme(QApplication.instance(), changes["ui/theme"])

    def _came_to_front(self, state: Qt.ApplicationState) -> None:
        s = self.session
        if state == Qt.ApplicationState.ApplicationActive and (
                (s.audio.enabled and not s.audio.has_output) or s.midi.no_system):
            s.refresh_devices(reopen=False)

    # --- closing ------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        geometry = bytes(self.saveGeometry().toBase64()).decode("ascii")
        self.session.settings.set("ui/geometry", geometry)
        self.session.shutdown()
        event.accept()


def midi_api_choices() -> list[tuple[str, str]]:
    """The MIDI APIs this machine has, each said to run or not (for Settings)."""
    from flowsynth_gui.midi.ports import API_LABELS, answering_apis, compiled_apis

    running = set(answering_apis())
    return [(api, f"{API_LABELS.get(api, api)} "
                  f"({'running' if api in running else 'not running'})")
            for api in compiled_apis()]


def _splitter(orientation: Qt.Orientation, *parts: tuple[QWidget, int]) -> QSplitter:
    splitter = QSplitter(orientation)
    for widget, stretch in parts:
        splitter.addWidget(widget)
        splitter.setStretchFactor(splitter.count() - 1, stretch)
    splitter.setChildrenCollapsible(False)
    return splitter

