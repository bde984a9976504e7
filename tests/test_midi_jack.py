"""MidiOut and MidiIn over a real JACK server (the dummy server .ci/run starts).

Without a server these tests skip (or fail with FLOWSYNTH_REQUIRE_JACK=1). Every JACK client
here carries the test process id, so parallel runs on one server do not collide.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import mido
import pytest

from flowsynth_gui.midi.cc_map import CCDecoder, CCMap
from flowsynth_gui.midi.input import MergingParamsSink, MidiIn
from flowsynth_gui.midi.output import MidiOut
from flowsynth_gui.midi.ports import MidiSystem
from flowsynth_gui.synth.live import PolySynth

pytestmark = pytest.mark.jack

API = "UNIX_JACK"
RES, CUTOFF, ATTACK = "VCF1: Resonance", "VCF1: Frequency", "ENV1: Attack"
_names = itertools.count()


def _client(role: str) -> str:
    return f"fs-midi-{os.getpid()}-{role}-{next(_names)}"


def _jack(*args: str) -> str:
    env = {**os.environ, "JACK_NO_START_SERVER": "1"}
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, f"{' '.join(args)} failed: {done.stderr.strip()}"
    return done.stdout


def _wait(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


class Receiver:
    """A virtual JACK MIDI input (the 'external synth') recording what arrives."""

    def __init__(self, client: str, port: str = "in") -> None:
        self.client, self.port_name = client, port
        self.name = f"{client}:{port}"
        self.messages: list[mido.Message] = []
        self._lock = threading.Lock()
        self._backend = mido.Backend(f"mido.backends.rtmidi/{API}", load=True)
        self._port = self._open()

    def _open(self) -> mido.ports.BaseInput:
        return self._backend.open_input(self.port_name, virtual=True, client_name=self.client,
                                        callback=self._on_message)

    def _on_message(self, message: mido.Message) -> None:
        with self._lock:
            self.messages.append(message)

    def received(self) -> list[mido.Message]:
        with self._lock:
            return list(self.messages)

    def wait_quiet(self, quiet_s: float = 0.15, timeout: float = 5.0) -> list[mido.Message]:
        """What arrived once nothing more came for ``quiet_s``."""
        deadline = time.monotonic() + timeout
        count, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            now_count = len(self.received())
            if now_count != count:
                count, since = now_count, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                break
            time.sleep(0.01)
        return self.received()

    def close(self) -> None:
        self._port.close()

    def reopen(self) -> None:
        self._port = self._open()


@pytest.fixture
def receiver(jack_server: list[str]) -> Iterator[Receiver]:
    rx = Receiver(_client("rx"))
    yield rx
    rx.close()


@pytest.fixture
def system(jack_server: list[str]) -> Iterator[MidiSystem]:
    jack = MidiSystem(api=API, client_name=_client("fs"))
    yield jack
    jack.close()


@pytest.fixture
def midi_out(receiver: Receiver, system: MidiSystem) -> Iterator[MidiOut]:
    out = MidiOut(CCMap.default(), system=system, port=receiver.name, poll_interval_s=0.1)
    assert out.wait_for_state("connected", 10), out.state
    yield out
    out.close()


def _cc_bytes(pairs: list[tuple[int, int]], channel: int = 1) -> list[list[int]]:
    return [[0xB0 + channel - 1, cc, data] for cc, data in pairs]


def test_cc_values_arrive_on_a_connected_jack_input(receiver: Receiver,
                                                    midi_out: MidiOut) -> None:
    values = {RES: 0.5, CUTOFF: 0.3, ATTACK: 1.0}
    assert midi_out.send_params(values) == 3
    assert midi_out.flush(timeout=5)
    cc_map = CCMap.default()
    expected = _cc_bytes([pair for name, v in values.items()
                          for pair in cc_map.binding(name).encode(v)])
    assert _wait(lambda: len(receiver.received()) >= len(expected))
    assert [m.bytes() for m in receiver.wait_quiet()] == expected


def test_a_virtual_output_connected_with_jack_connect(receiver: Receiver,
                                                      system: MidiSystem) -> None:
    client = system.client_name
    with MidiOut(CCMap.default(), system=system, port="out", virtual=True) as out:
        assert out.wait_for_state("connected", 10), out.state
        _jack("jack_connect", f"{client}:out", receiver.name)
        out.send_params({RES: 1.0})
        assert out.flush(timeout=5)
        assert _wait(lambda: len(receiver.received()) == 1)
        assert receiver.received()[0].bytes() == [0xB0, 71, 127]


def test_a_burst_of_1000_updates_arrives_thinned_with_the_final_values(
        receiver: Receiver, midi_out: MidiOut) -> None:
    final = {}
    started = time.monotonic()
    for i in range(1000):
        final = {CUTOFF: i / 999, RES: (999 - i) / 999}
        midi_out.send_params(final)
        time.sleep(0.0003)  # a fast drag: about 3,000 updates a second
    elapsed = time.monotonic() - started
    received = receiver.wait_quiet()
    # Per parameter at most one update every 20 ms: 3 messages (CUTOFF's pair + RES) each.
    assert len(received) <= 3 * (elapsed / 0.02 + 2)
    assert len(received) < 300, f"{len(received)} messages for 1,000 updates"
    decoder, last = CCDecoder(CCMap.default()), {}
    for message in received:
        decoded = decoder.feed(message.channel + 1, message.control, message.value)
        if decoded is not None:
            last[decoded[0]] = decoded[1]
    assert last[CUTOFF] == 1.0
    assert last[RES] == 0.0


class RecordingSink:
    """Forwards notes to a PolySynth and remembers them."""

    def __init__(self, synth: PolySynth) -> None:
        self.synth = synth
        self.notes: list[tuple[str, int]] = []

    def note_on(self, note: int, velocity: int) -> None:
        self.notes.append(("on", note))
        self.synth.note_on(note, velocity)

    def note_off(self, note: int) -> None:
        self.notes.append(("off", note))
        self.synth.note_off(note)


def test_notes_ccs_and_learn_from_a_jack_controller(system: MidiSystem, tmp_path) -> None:
    synth = PolySynth(sample_rate=48000, max_voices=4)
    sink = RecordingSink(synth)
    merged = MergingParamsSink(synth.set_params)
    controls: list[tuple[str, float]] = []
    client = _client("ctl")
    backend = mido.Backend(f"mido.backends.rtmidi/{API}", load=True)
    with backend.open_output("out", virtual=True, client_name=client) as controller, \
            MidiIn(cc_map=CCMap.default(), note_sink=sink, params_sink=merged,
                   control_sink=lambda name, v: controls.append((name, v)),
                   bindings_path=tmp_path / "learn.json", system=system) as midi_in:
        midi_in.open(f"{client}:out")
        controller.send(mido.Message("note_on", note=60, velocity=100))
        assert _wait(lambda: sink.notes == [("on", 60)])
        synth.render_block(256)  # notes apply at the start of a block
        assert synth.active_voices == 1
        controller.send(mido.Message("note_on", note=60, velocity=0))
        assert _wait(lambda: sink.notes[-1] == ("off", 60))

        controller.send(mido.Message("control_change", control=71, value=127))
        assert _wait(lambda: merged.values.get(RES) == 1.0)
        midi_in.learn("Macro 1")
        controller.send(mido.Message("control_change", channel=2, control=2, value=0))
        assert _wait(lambda: midi_in.learning is None)
        controller.send(mido.Message("control_change", channel=2, control=2, value=127))
        assert _wait(lambda: controls == [("Macro 1", 1.0)])
    assert (tmp_path / "learn.json").exists()
    assert midi_in.errors == 0


def test_a_port_that_disappears_mid_stream_and_comes_back(receiver: Receiver,
                                                          midi_out: MidiOut) -> None:
    states: list[str] = []
    midi_out.add_state_listener(states.append)
    for i in range(50):  # mid-stream
        midi_out.send_params({RES: i / 127})
        time.sleep(0.002)
    receiver.close()
    assert midi_out.wait_for_state("disconnected", 5), midi_out.state
    assert midi_out.state.startswith(f"disconnected: MIDI output {receiver.name!r} is not "
                                     "available")
    midi_out.send_params({RES: 1.0, ATTACK: 0.5})  # while it is gone
    first_stream = len(receiver.received())
    receiver.reopen()
    assert midi_out.wait_for_state("connected", 5), midi_out.state
    assert midi_out.flush(timeout=5)
    after = receiver.wait_quiet()[first_stream:]
    # The reconnected receiver gets every current value.
    assert sorted(m.bytes() for m in after) == sorted(
        _cc_bytes([(71, 127), (73, round(0.5 * 127))]))
    assert states[0].startswith("disconnected") and states[-1] == "connected"
