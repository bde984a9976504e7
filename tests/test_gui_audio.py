"""Sound from the window: play button and space bar, previews when a drag pauses, the live
synth following the parameters, MIDI keyboard notes, the recording level meter.

A stand-in player and recorder take the place of the sound card (the real ones are tested over
JACK in test_audio_jack.py); everything up to them is the app's own code.
"""

from __future__ import annotations

from pathlib import Path

import mido
import pytest
from PySide6.QtCore import Qt
from test_gui_support import (
    drag,
    make_options,
    map_drag_points,
    open_window,
    settle,
    wait_until,
)

from flowsynth_gui.audio.recorder import Levels
from flowsynth_gui.gui.main_window import MainWindow
from flowsynth_gui.gui.settings import Settings


class FakePlayer:
    running, render_error, sample_rate = True, None, 48000

    def __init__(self) -> None:
        self.previews: list[tuple[int, int]] = []
        self.notes: list[tuple] = []
        self.params: list[dict] = []

    def play_preview(self, samples, sample_rate: int) -> None:  # noqa: ANN001
        self.previews.append((len(samples), sample_rate))

    def note_on(self, note: int, velocity: int = 100) -> None:
        self.notes.append(("on", note, velocity))

    def note_off(self, note: int) -> None:
        self.notes.append(("off", note))

    def all_notes_off(self) -> None:
        pass

    def set_params(self, values) -> None:  # noqa: ANN001
        self.params.append(dict(values))

    def close(self) -> None:
        pass


def test_play_button_space_bar_and_previews_after_a_drag(qtbot, window: MainWindow) -> None:
    session = window.session
    player = session.audio.player = FakePlayer()
    qtbot.mouseClick(window.sound.play, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: len(player.previews) == 1, 10)
    assert player.previews[0] == (4 * 22050, 22050)
    window.activateWindow()
    qtbot.keyClick(window.map, Qt.Key.Key_Space)
    wait_until(qtbot, lambda: len(player.previews) == 2, 10)
    # a drag: the live synth follows every position, the preview plays once it pauses
    drag(window.map.plot.viewport(), map_drag_points(window), pause=lambda: qtbot.wait(5))
    settle(qtbot, session)
    wait_until(qtbot, lambda: len(player.previews) == 3, 10)
    assert player.params[-1] == dict(session.state.values)
    assert len(player.params) >= 3


class Keyboard:
    """A MIDI system with one input, 'Keys', whose callback the test plays."""

    def __init__(self) -> None:
        self.callback = None

    def output_names(self) -> list[str]:
        return []

    def input_names(self) -> list[str]:
        return ["Keys"]

    def open_input(self, name: str, callback):  # noqa: ANN001, ANN201
        self.callback = callback
        return self

    open_virtual_input = open_input

    def close(self) -> None:
        pass


def test_midi_keyboard_notes_play_the_live_synth(qtbot, tmp_path: Path,
                                                 tiny_model: Path) -> None:
    keys = Keyboard()
    win = open_window(qtbot, Settings.from_file(tmp_path / "s.ini"),
                      make_options(tmp_path, tiny_model, midi=True, midi_system=keys))
    player = win.session.audio.player = FakePlayer()
    panel = win.midi
    wait_until(qtbot, lambda: panel.in_port.findData("Keys") >= 0, 10)
    panel.in_port.setCurrentIndex(panel.in_port.findData("Keys"))
    panel.in_port.activated.emit(panel.in_port.currentIndex())  # as the user's pick does
    wait_until(qtbot, lambda: win.status.text("midi_in") == "MIDI in: Keys", 10)
    assert win.session.settings.get("midi/in_port") == "Keys"
    keys.callback(mido.Message("note_on", note=64, velocity=90))
    keys.callback(mido.Message("note_on", note=64, velocity=0))
    assert player.notes == [("on", 64, 90), ("off", 64)]
    win.close()


class MeterRecorder:
    available, unavailable_reason = True, None

    def __init__(self) -> None:
        self.armed = False

    @property
    def levels(self) -> Levels:
        return Levels(-12.0, -20.0)

    def arm(self) -> None:
        self.armed = True

    def disarm(self) -> None:
        self.armed = False

    def close(self) -> None:
        pass


def test_arming_the_input_moves_the_level_meter(qtbot, tmp_path: Path,
                                                tiny_model: Path) -> None:
    settings = Settings.from_file(tmp_path / "s.ini")
    settings.set("audio/output_device", "FlowSynth test: no such output")
    win = open_window(qtbot, settings, make_options(tmp_path, tiny_model, audio=True))
    win.session.audio.recorder = MeterRecorder()
    panel = win.matching
    qtbot.mouseClick(panel.arm, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: panel.meter.value() == -12, 10)
    qtbot.mouseClick(panel.arm, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: panel.meter.value() == -60, 10)
    assert not win.session.audio.recorder.armed
    win.close()


def test_recording_without_audio_says_so_and_leaves_the_buttons_up(
        qtbot, window: MainWindow) -> None:
    panel = window.matching
    window.tabs.setCurrentWidget(panel)
    for button in (panel.arm, panel.record):
        with qtbot.waitSignal(window.session.message_posted, timeout=5000) as posted:
            qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
        assert posted.args[0] == "warning" and "needs audio" in posted.args[1]
        wait_until(qtbot, lambda b=button: not b.isChecked(), 5)
    assert panel.record.text() == "● Record"


@pytest.mark.jack
def test_refresh_in_settings_rescans_the_audio_devices_and_reopens_the_output(
        qtbot, tmp_path: Path, tiny_model: Path, jack_server: list[str]) -> None:
    win = open_window(qtbot, Settings.from_file(tmp_path / "s.ini"),
                      make_options(tmp_path, tiny_model, audio=True))
    audio = win.session.audio
    wait_until(qtbot, lambda: audio.has_output, 20)
    dialog = win.settings_dialog()
    with qtbot.waitSignal(audio.devices_listed, timeout=20000) as listed:
        dialog.refresh_requested.emit()
    outputs, _ = listed.args
    assert outputs and audio.has_output and audio.status.startswith("Audio: ")
    names = [dialog.output.itemData(i) for i in range(dialog.output.count())]
    assert set(outputs) <= set(names)  # the open dialog lists what was found
    win.close()
