"""MIDI from the window: a drag sends the parameters out (for real over JACK), and an output
port that disappears mid-drag is reported while the sound and the drag go on."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import mido
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtWidgets import QApplication, QMenu, QPushButton
from test_gui_support import (
    drag,
    make_options,
    map_drag_points,
    open_window,
    settle,
    wait_until,
)

from flowsynth_gui.gui.settings import Settings
from flowsynth_gui.midi import MidiPortError
from flowsynth_gui.midi.cc_map import CCDecoder


class VanishingPorts:
    """A MIDI system with one output, 'Synth', that can be unplugged and plugged back."""

    def __init__(self) -> None:
        self.present = True
        self.sent: list[mido.Message] = []
        self._lock = threading.Lock()

    def output_names(self) -> list[str]:
        return ["Synth"] if self.present else []

    def input_names(self) -> list[str]:
        return []

    def open_output(self, name: str) -> VanishingPorts:
        if not self.present or name != "Synth":
            raise MidiPortError(f"MIDI output {name!r} is not available")
        return self

    open_virtual_output = open_output

    def send(self, message: mido.Message) -> None:
        if not self.present:
            raise OSError("device unplugged")
        with self._lock:
            self.sent.append(message)

    def received(self) -> list[mido.Message]:
        with self._lock:
            return list(self.sent)

    def close(self) -> None:
        pass


def test_an_output_port_that_disappears_mid_drag(qtbot, tmp_path: Path,
                                                 tiny_model: Path) -> None:
    ports = VanishingPorts()
    settings = Settings.from_file(tmp_path / "s.ini")
    window = open_window(qtbot, settings, make_options(tmp_path, tiny_model, midi=True,
                                                       midi_system=ports))
    session = window.session
    assert window.status.text("midi_out") == "MIDI out: no port chosen"
    panel = window.midi  # choose the port and the channel in the MIDI panel
    window.tabs.setCurrentWidget(panel)
    # the CC map is there to set up the external synth: the model's parameters come first
    wait_until(qtbot, lambda: panel.cc_table.rowCount() == len(session.midi.cc_map), 10)
    active = session.model_info.active
    shown = [panel.cc_table.item(row, 0).text() for row in range(len(active))]
    assert set(shown) == set(active) & set(session.midi.cc_map.params)
    binding = session.midi.cc_map.binding(shown[0])
    assert panel.cc_table.item(0, 2).text() == binding.describe()
    refresh = next(b for b in panel.findChildren(QPushButton) if b.text() == "Refresh ports")
    qtbot.mouseClick(refresh, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: panel.out_port.findData("Synth") >= 0, 10)
    panel.out_port.setCurrentIndex(panel.out_port.findData("Synth"))
    panel.out_port.activated.emit(panel.out_port.currentIndex())  # as the user's pick does
    panel.channel.setFocus()
    qtbot.keyClick(panel.channel, Qt.Key.Key_Up)
    wait_until(qtbot, lambda: window.status.text("midi_out") == "MIDI out: Synth · ch 2", 10)
    assert settings.get("midi/out_port") == "Synth" and settings.get("midi/out_channel") == 2
    wait_until(qtbot, lambda: len(ports.received()) > 0, 5)  # the current sound went out
    points = map_drag_points(window, dx=80, steps=12)
    viewport = window.map.plot.viewport()
    pulled = []

    def pause() -> None:
        qtbot.wait(15)
        if len(pulled) == 0 and session.state.continuous:
            ports.present = False  # unplugged while the hand is moving
            pulled.append(session.state.values)

    with qtbot.waitSignal(session.message_posted, timeout=15000,
                          check_params_cb=lambda level, text: "went away" in text) as posted:
        drag(viewport, points, pause=pause)
    settle(qtbot, session)
    assert posted.args[0] == "warning" and "'Synth'" in posted.args[1]
    assert "MIDI out: disconnected" in window.status.text("midi_out")
    assert dict(session.state.values) != dict(pulled[0])  # the drag went on
    kept = dict(session.state.values)
    count = len(ports.received())
    ports.present = True  # plugged back: the sound is sent again
    wait_until(qtbot, lambda: window.status.text("midi_out") == "MIDI out: Synth · ch 2", 10)
    wait_until(qtbot, lambda: len(ports.received()) > count, 5)
    assert dict(session.state.values) == kept
    window.close()


def wait_quiet(received: list, quiet_s: float = 0.2, timeout: float = 5.0) -> None:
    """Until nothing more arrived for ``quiet_s`` (JACK delivers a period later)."""
    deadline = time.monotonic() + timeout
    count, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        if len(received) != count:
            count, since = len(received), time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.01)


def last_values(received: list[mido.Message], cc_map: object) -> dict[str, float]:
    """The last value each parameter received (14-bit pairs decoded)."""
    decoder = CCDecoder(cc_map)
    last: dict[str, float] = {}
    for message in list(received):
        if message.type == "control_change":
            decoded = decoder.feed(message.channel + 1, message.control, message.value)
            if decoded is not None:
                last[decoded[0]] = decoded[1]
    return last


JACK_MIDI = mido.Backend("mido.backends.rtmidi/UNIX_JACK")


def open_jack_window(qtbot, root: Path, model: Path, port_setting: str,  # noqa: ANN001
                     port: str):  # noqa: ANN201
    """The window on JACK MIDI with ``port_setting`` ('midi/in_port' or '.../out_port')."""
    settings = Settings.from_file(root / "s.ini")
    settings.set("midi/api", "UNIX_JACK")
    settings.set(port_setting, port)
    return open_window(qtbot, settings, make_options(root, model, midi=True))


@pytest.mark.jack
def test_a_map_drag_sends_midi_to_a_jack_port(qtbot, tmp_path: Path, tiny_model: Path,
                                              jack_server: list[str]) -> None:
    client = f"fs-gui-{os.getpid()}-rx"
    received: list[mido.Message] = []
    port = JACK_MIDI.open_input("in", virtual=True, client_name=client,
                                callback=received.append)
    try:
        window = open_jack_window(qtbot, tmp_path, tiny_model, "midi/out_port", f"{client}:in")
        session = window.session
        wait_until(qtbot, lambda: window.status.text("midi_out").startswith(
            f"MIDI out: {client}:in"), 20)
        wait_quiet(received)
        before_drag = len(received)  # the sound as it was on connecting
        drag(window.map.plot.viewport(), map_drag_points(window, dx=90, steps=10),
             pause=lambda: qtbot.wait(20))
        settle(qtbot, session)
        # the end of the gesture sends every value once more (a lost CC is healed)
        if session.midi._resync.isActive():
            qtbot.waitSignal(session.midi._resync.timeout, timeout=5000).wait()
        assert session.midi.midi_out.flush(timeout=5)  # what is queued has gone out
        wait_quiet(received)
        assert len(received) > before_drag  # the drag went out as CCs
        cc_map = session.midi.midi_out.cc_map
        mapped = [name for name in session.model_info.active if name in cc_map]
        assert len(mapped) >= len(session.model_info.active) // 2

        def arrived() -> list[str]:
            """The mapped parameters whose last CC value is the current sound's."""
            last = last_values(received, cc_map)
            return [n for n in mapped
                    if abs(last.get(n, -1.0) - session.state.values[n]) <= 1 / 127 + 1e-9]
        # The sound as a whole arrives at the external synth, whatever the JACK graph's load.
        wait_until(qtbot, lambda: len(arrived()) == len(mapped), 10)
        window.close()
    finally:
        port.close()


def wait_for_menu(qtbot) -> QMenu:  # noqa: ANN001
    wait_until(qtbot, lambda: isinstance(QApplication.activePopupWidget(), QMenu), 5)
    return QApplication.activePopupWidget()


@pytest.mark.jack
def test_midi_learn_binds_a_controller_knob_to_a_semantic_slider(
        qtbot, tmp_path: Path, tiny_model: Path, jack_server: list[str]) -> None:
    client = f"fs-gui-{os.getpid()}-knobs"
    knobs = JACK_MIDI.open_output("out", virtual=True, client_name=client)
    try:
        window = open_jack_window(qtbot, tmp_path, tiny_model, "midi/in_port", f"{client}:out")
        session = window.session
        wait_until(qtbot, lambda: window.status.text("midi_in") == f"MIDI in: {client}:out", 20)
        slider = window.controls.sliders[0]
        name = slider.accessibleName()
        # right-click the slider (the context-menu event the window system sends), choose
        # "MIDI learn", turn a knob on the controller
        centre = slider.rect().center()
        QApplication.sendEvent(slider, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, centre,
                                                         slider.mapToGlobal(centre)))
        menu = wait_for_menu(qtbot)
        learn = next(a for a in menu.actions() if a.text().startswith("MIDI learn"))
        menu.hide()
        learn.trigger()
        wait_until(qtbot, lambda: session.midi.midi_in.learning == name, 5)
        knobs.send(mido.Message("control_change", channel=2, control=74, value=64))
        wait_until(qtbot, lambda: name in window.controls.bindings, 10)
        assert window.controls.bindings[name] == "CC 74 · ch 3"
        assert "MIDI: CC 74 · ch 3" in slider.toolTip()
        # the bound knob now moves the slider's latent dimension, end to end
        for value in (0, 127):
            knobs.send(mido.Message("control_change", channel=2, control=74, value=value))
            low, high = slider.minimum() / 100, slider.maximum() / 100
            expected = low if value == 0 else high
            wait_until(qtbot, lambda e=expected: session.state is not None and abs(
                session.state.semantic[0] - e) < 1e-3, 10)
            wait_until(qtbot, lambda e=expected: slider.value() == round(e * 100), 5)
        # the knob at rest ends its gesture: recorded in the history like a mouse drag
        wait_until(qtbot, lambda: session.explorer.history.can_undo, 5)
        # the binding is kept next to the settings and offered for removal
        learn_file = tmp_path / "midi_learn.json"
        wait_until(qtbot, lambda: learn_file.exists() and "74" in learn_file.read_text(), 5)
        forget = next(a for a in window.controls.learn_menu(slider).actions()
                      if a.text().startswith("Forget"))
        forget.trigger()
        wait_until(qtbot, lambda: name not in window.controls.bindings, 5)
        window.close()
    finally:
        knobs.close()


def test_a_broken_midi_learn_file_is_reported_and_left_alone(qtbot, tmp_path: Path,
                                                            tiny_model: Path) -> None:
    learn_file = tmp_path / "midi_learn.json"
    learn_file.write_text("{not json", encoding="utf-8")
    window = open_window(qtbot, Settings.from_file(tmp_path / "s.ini"),
                         make_options(tmp_path, tiny_model, midi=True,
                                      midi_system=VanishingPorts()))
    wait_until(qtbot, lambda: any(level == "warning" and "MIDI learn" in text
                                  and "midi_learn.json" in text
                                  for level, text in window.messages.messages), 10)
    assert window.session.midi.midi_in is not None  # MIDI still works, bindings in memory
    assert learn_file.read_text(encoding="utf-8") == "{not json"  # the user's file is kept
    window.close()


@pytest.mark.jack
def test_midi_out_finds_jack_on_its_own_and_settings_offer_the_api(
        qtbot, tmp_path: Path, tiny_model: Path, jack_server: list[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from flowsynth_gui.midi.ports import API_ENV, answering_apis

    monkeypatch.delenv(API_ENV, raising=False)
    if "LINUX_ALSA" in answering_apis():
        pytest.skip("this machine has an ALSA sequencer: ALSA is rightly chosen first")
    client = f"fs-gui-{os.getpid()}-auto"
    port = JACK_MIDI.open_input("in", virtual=True, client_name=client, callback=print)
    try:
        settings = Settings.from_file(tmp_path / "s.ini")  # midi/api left automatic
        settings.set("midi/out_port", f"{client}:in")
        window = open_window(qtbot, settings, make_options(tmp_path, tiny_model, midi=True))
        wait_until(qtbot, lambda: window.status.text("midi_out").startswith(
            f"MIDI out: {client}:in"), 20)
        assert window.session.midi.api_in_use == "UNIX_JACK"
        dialog = window.settings_dialog()
        offered = [dialog.midi_api.itemText(i) for i in range(dialog.midi_api.count())]
        assert offered[0].startswith("Automatic") and "JACK (running)" in offered
        dialog.midi_api.setCurrentIndex(offered.index("JACK (running)"))
        assert dialog.changes() == {"midi/api": "UNIX_JACK"}
        window.close()
    finally:
        port.close()
