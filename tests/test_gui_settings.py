"""Settings that survive a restart, the settings dialog, and a window without devices or with
a model it cannot use."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QToolBar
from test_gui_support import (
    drag,
    make_options,
    map_drag_points,
    open_window,
    settle,
    wait_until,
)

from flowsynth_gui.features.audio_io import write_wav
from flowsynth_gui.gui.dialogs.settings_dialog import SettingsDialog
from flowsynth_gui.gui.main_window import MainWindow
from flowsynth_gui.gui.session import Session, SessionOptions
from flowsynth_gui.gui.settings import DEFAULTS, Settings
from flowsynth_gui.midi import NoMidiSystemError
from flowsynth_gui.synth import render


def test_settings_have_defaults_types_and_refuse_unknown_keys(tmp_path: Path) -> None:
    settings = Settings.from_file(tmp_path / "s.ini")
    assert all(settings.get(key) == value for key, value in DEFAULTS.items())
    settings.set("library/h2p_folders", ["/a", "/b"])
    settings.set("audio/auto_preview", False)
    settings.store.setValue("audio/blocksize", "not a number")  # a damaged file
    settings.sync()
    again = Settings.from_file(tmp_path / "s.ini")
    assert again.get("library/h2p_folders") == ["/a", "/b"]
    assert again.get("audio/auto_preview") is False
    assert again.get("audio/blocksize") == DEFAULTS["audio/blocksize"]
    with pytest.raises(KeyError):
        again.get("no/such key")


def test_settings_survive_a_restart(qtbot, tmp_path: Path, tiny_model: Path) -> None:
    path = tmp_path / "settings.ini"
    options = make_options(tmp_path, tiny_model)
    first = open_window(qtbot, Settings.from_file(path), options)
    first.resize(1480, 760)
    first.tabs.setCurrentWidget(first.midi)
    first.midi.channel.setFocus()
    for _ in range(4):
        qtbot.keyClick(first.midi.channel, Qt.Key.Key_Up)  # channel 5
    combo = first.map.colour_by
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Down)  # Constant ↔ Moving
    for combo, dim in ((first.map.x_axis, 2), (first.map.y_axis, 3)):
        combo.setCurrentIndex(combo.findData(dim))
        combo.activated.emit(combo.currentIndex())  # as a user's choice does
    wait_until(qtbot, lambda: first.session.map_snapshot.axes_key == "2,3")
    settle(qtbot, first.session)
    first.close()

    second = open_window(qtbot, Settings.from_file(path), options, size=None)
    assert second.midi.channel.value() == 5
    assert second.map.colour_by.currentData() == 1
    assert second.session.map_snapshot.axes_key == "2,3"
    assert second.geometry_restored  # (offscreen, the platform fits it to its own screen)
    second.close()


def test_the_settings_dialog_stores_what_it_changes(qtbot, window: MainWindow) -> None:
    def edit() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, SettingsDialog)
        dialog.theme.setCurrentText("light")
        dialog.auto_preview.setChecked(False)
        dialog.sketches.setValue(33)
        ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
        qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)

    QTimer.singleShot(200, edit)
    tool = window.findChild(QToolBar).widgetForAction(window.commands.settings)
    qtbot.mouseClick(tool, Qt.MouseButton.LeftButton)
    settings = window.session.settings
    assert settings.get("ui/theme") == "light"
    assert settings.get("audio/auto_preview") is False
    assert settings.get("map/sketches") == 33


class NoMidiSystem:
    """What MidiSystem does where no ALSA sequencer or JACK server exists."""

    def _fail(self, *args: object) -> list[str]:
        raise NoMidiSystemError("no MIDI system (rtmidi (default API)): no sequencer")

    output_names = input_names = open_output = open_input = _fail
    open_virtual_output = open_virtual_input = _fail

    def close(self) -> None:
        pass


def test_the_app_works_without_audio_or_midi_devices(qtbot, tmp_path: Path,
                                                     tiny_model: Path) -> None:
    settings = Settings.from_file(tmp_path / "s.ini")
    settings.set("audio/output_device", "FlowSynth test: no such output")
    settings.set("audio/input_device", "FlowSynth test: no such input")
    settings.set("midi/out_port", "Synth")
    options = make_options(tmp_path, tiny_model, audio=True, midi=True,
                           midi_system=NoMidiSystem())
    win = open_window(qtbot, settings, options)
    session = win.session
    wait_until(qtbot, lambda: win.status.text("audio").startswith("Audio: none"), 20)
    wait_until(qtbot, lambda: "no MIDI system" in win.status.text("midi_out"), 20)
    assert any(level == "warning" and "without sound" in text
               for level, text in win.messages.messages)
    wait_until(qtbot, lambda: "No MIDI ports" in win.midi.problem.text(), 10)
    # no "no port chosen" where no port can be: the input says so too, and MIDI learn
    wait_until(qtbot, lambda: "no MIDI system" in win.status.text("midi_in"), 10)
    with qtbot.waitSignal(session.message_posted, timeout=5000) as learn:
        assert not session.midi.learn("Macro 1")
    assert "no MIDI system answers" in learn.args[1]
    before = dict(session.state.values)
    drag(win.map.plot.viewport(), map_drag_points(win), pause=lambda: qtbot.wait(5))
    settle(qtbot, session)
    assert dict(session.state.values) != before  # exploring works without devices
    with qtbot.waitSignal(session.message_posted, timeout=10000) as posted:
        qtbot.keyClick(win.map, Qt.Key.Key_Space)  # play: says why there is no sound
    assert "Cannot play" in posted.args[1]
    # recording: said once, then the buttons wait for another input device
    arm = win.matching.arm
    with qtbot.waitSignal(session.message_posted, timeout=10000) as posted:
        qtbot.mouseClick(arm, Qt.MouseButton.LeftButton)
    assert "No audio input" in posted.args[1] and "Settings" in posted.args[1]
    wait_until(qtbot, lambda: not arm.isEnabled() and not win.matching.record.isEnabled(), 5)
    assert "Settings" in arm.toolTip()
    session.apply_settings({"audio/input_device": "FlowSynth test: another input"})
    wait_until(qtbot, lambda: arm.isEnabled(), 5)
    win.close()


def foreign_checkpoint(tiny: Path, folder: Path) -> Path:
    """The tiny model's files, its sidecar claiming another synth."""
    weights = shutil.copy(tiny, folder / "other.pt")
    sidecar = json.loads(tiny.with_suffix(".json").read_text())
    sidecar["synth_spec_version"] = "some-other-synth/3"
    (folder / "other.json").write_text(json.dumps(sidecar))
    return Path(weights)


def test_a_checkpoint_for_another_synth_or_corrupt_keeps_the_current_model(
        qtbot, window: MainWindow, tmp_path: Path, tiny_model: Path) -> None:
    session = window.session
    model, state = session.model_info, dict(session.state.values)
    other = foreign_checkpoint(tiny_model, tmp_path)
    with qtbot.waitSignal(session.model_failed, timeout=10000) as failed:
        session.apply_settings({"model/path": str(other)})
    assert "some-other-synth/3" in failed.args[0] and "current model stays" in failed.args[0]
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"garbage")
    shutil.copy(tiny_model.with_suffix(".json"), corrupt.with_suffix(".json"))
    with qtbot.waitSignal(session.model_failed, timeout=10000) as failed:
        session.load_model(str(corrupt))
    assert "checksum" in failed.args[0]
    settle(qtbot, session)
    assert session.model_info is model and dict(session.state.values) == state
    assert window.messages.last[0] == "error"
    assert window.status.text("model") == f"Model: {model.label}"
    assert session.settings.get("model/path") == ""  # a failed model is not remembered


def test_a_broken_default_model_leaves_a_usable_window(qtbot, tmp_path: Path,
                                                       tiny_model: Path) -> None:
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"nope")
    settings = Settings.from_file(tmp_path / "s.ini")
    session = Session(settings, SessionOptions(model_path=str(broken), audio=False, midi=False,
                                               library_folder=str(tmp_path / "lib")))
    win = MainWindow(session)
    qtbot.addWidget(win)
    win.show()
    with qtbot.waitSignal(session.model_failed, timeout=10000):
        session.start()
    assert win.status.text("model") == "Model: none"
    assert "No model is loaded" in win.controls.macro_status.text()  # not "Ranking…" forever
    with qtbot.waitSignal(session.message_posted, timeout=5000) as posted:
        win.map.cursor_dragged.emit(0.5, 0.5)
    assert "No model is loaded" in posted.args[1]
    # a file dropped while a model loads waits for it, and is matched
    wav = write_wav(tmp_path / "early.wav", render({}, note=60), 22050)
    with qtbot.waitSignal(session.match_ready, timeout=30000):
        session.load_model(str(tiny_model))
        session.match_file(str(wav))
    assert any("starts once it is ready" in text for _, text in win.messages.messages)
    win.close()


def test_the_settings_dialog_lists_choices(qtbot, window: MainWindow) -> None:
    dialog = window.settings_dialog()
    qtbot.addWidget(dialog)
    assert dialog.changes() == {}
    dialog.channel.setValue(9)
    assert dialog.changes() == {"midi/out_channel": 9}


def test_loading_another_model_keeps_the_current_sound(qtbot, window: MainWindow,
                                                      tiny_model: Path) -> None:
    session = window.session
    name = session.model_info.active[0]
    cursor = list(session.state.z)
    session.set_param(name, 0.123, final=True)
    settle(qtbot, session)
    # A bar edit keeps the cursor (the edit is the residual f(z) does not say) and the value.
    assert list(session.state.z) == cursor
    assert session.state.values[name] == pytest.approx(0.123)
    before = dict(session.state.values)
    with qtbot.waitSignal(session.model_loaded, timeout=20000):
        session.load_model(str(tiny_model))
    settle(qtbot, session)
    assert dict(session.state.values) == before
    heard = session.explorer.heard_latent(before)
    assert max(abs(a - b) for a, b in zip(session.state.z, heard, strict=True)) < 1e-9
