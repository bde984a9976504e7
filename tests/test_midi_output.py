"""MidiOut against fake ports: change-only sending, rate limits, notes, port states."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import mido
import pytest

from flowsynth_gui.midi.cc_map import CCBinding, CCMap
from flowsynth_gui.midi.output import MidiOut, RateLimits
from flowsynth_gui.midi.ports import MidiPortError, NoMidiSystemError
from flowsynth_gui.synth.params import ParameterError

RES, CUTOFF = "VCF1: Resonance", "VCF1: Frequency"
FAST_POLL = 0.02


class FakePort:
    """Records what is sent, with the time; can be told to fail."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[tuple[float, mido.Message]] = []
        self.closed = False
        self.fail = False
        self._lock = threading.Lock()

    def send(self, msg: mido.Message) -> None:
        if self.fail:
            raise OSError("device unplugged")
        with self._lock:
            self.sent.append((time.monotonic(), msg))

    def close(self) -> None:
        self.closed = True

    @property
    def messages(self) -> list[mido.Message]:
        with self._lock:
            return [m for _, m in self.sent]


class FakeSystem:
    """Ports that come and go; optionally no MIDI system at all."""

    def __init__(self, *names: str) -> None:
        self.names = list(names)
        self.opened: list[FakePort] = []
        self.no_system = False

    def output_names(self) -> list[str]:
        if self.no_system:
            raise NoMidiSystemError("no MIDI system (fake): no ALSA sequencer")
        return list(self.names)

    def open_output(self, name: str) -> FakePort:
        if name not in self.names:
            raise MidiPortError(f"MIDI output {name!r} is not available; available: none")
        port = FakePort(name)
        self.opened.append(port)
        return port

    def open_virtual_output(self, name: str) -> FakePort:
        port = FakePort(name)
        self.opened.append(port)
        return port


@pytest.fixture
def system() -> FakeSystem:
    return FakeSystem("Synth")


@pytest.fixture
def make_out(system: FakeSystem) -> Iterator:
    made: list[MidiOut] = []

    def make(**kwargs: object) -> MidiOut:
        kwargs.setdefault("system", system)
        kwargs.setdefault("port", "Synth")
        kwargs.setdefault("poll_interval_s", FAST_POLL)
        out = MidiOut(CCMap.default(), **kwargs)  # type: ignore[arg-type]
        made.append(out)
        if kwargs["port"] is not None:
            assert out.wait_for_state("connected", 5), out.state
        return out

    yield make
    for out in made:
        out.close()


def _wait(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.002)
    return predicate()


def _ccs(port: FakePort) -> list[tuple[int, int, int]]:
    return [(m.channel + 1, m.control, m.value) for m in port.messages
            if m.type == "control_change"]


def test_only_changed_values_are_sent(make_out, system: FakeSystem) -> None:
    out = make_out()
    assert out.send_params({RES: 0.5}) == 1
    assert out.flush()
    assert out.send_params({RES: 0.5}) == 0
    assert out.send_params({RES: 0.5 + 1e-4}) == 0  # same CC value after quantisation
    assert out.send_params({"VCA1: Pan": 0.3}) == 0  # not in the default map
    assert out.flush()
    assert _ccs(system.opened[0]) == [(1, 71, 64)]


def test_a_14bit_pair_sends_only_the_lsb_when_only_it_changed(make_out, system) -> None:
    out = make_out(limits=RateLimits(min_interval_s=0))
    out.send_params({CUTOFF: 8192 / 16383})
    out.flush()
    out.send_params({CUTOFF: 8193 / 16383})
    out.flush()
    out.send_params({CUTOFF: 8320 / 16383})  # MSB 65, LSB 0: the LSB goes again after the MSB
    out.flush()
    assert _ccs(system.opened[0]) == [(1, 16, 64), (1, 48, 0), (1, 48, 1), (1, 16, 65),
                                      (1, 48, 0)]


def test_a_fast_drag_is_thinned_per_parameter_and_the_last_value_arrives(make_out,
                                                                       system) -> None:
    interval = 0.04
    out = make_out(limits=RateLimits(min_interval_s=interval))
    values = [i / 999 for i in range(1000)]
    started = time.monotonic()
    for value in values:
        out.send_params({RES: value})
        time.sleep(0.0002)
    elapsed = time.monotonic() - started
    port = system.opened[0]
    final = round(values[-1] * 127)
    assert _wait(lambda: _ccs(port) and _ccs(port)[-1] == (1, 71, final))
    times = [t for t, m in port.sent]
    assert len(times) <= elapsed / interval + 2, f"{len(times)} messages in {elapsed:.2f} s"
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= interval * 0.9


def test_the_global_budget_holds_when_every_parameter_moves(make_out, system) -> None:
    rate, burst = 400.0, 20
    out = make_out(limits=RateLimits(min_interval_s=0, max_messages_per_s=rate, burst=burst))
    names = CCMap.default().params
    started = time.monotonic()
    step = 0
    while time.monotonic() - started < 0.3:
        step += 1
        out.send_params({n: (step % 100) / 100 for n in names})
        time.sleep(0.001)
    elapsed = time.monotonic() - started
    port = system.opened[0]
    assert len(port.sent) <= burst + rate * elapsed * 1.1 + 2
    assert out.flush(timeout=5)
    last: dict[int, int] = {}
    for _, control, value in _ccs(port):
        last[control] = value
    expected = {cc: data for n in names
                for cc, data in CCMap.default().binding(n).encode((step % 100) / 100)}
    assert last == expected


def test_the_store_is_bounded_by_the_map_while_disconnected(make_out, system) -> None:
    out = make_out(port=None)
    assert out.state == "no port"
    for i in range(300):
        out.send_params({n: (i % 7) / 7 for n in CCMap.default().params})
    assert out._throttle.pending_count <= len(CCMap.default())  # private: the bound
    assert not out.flush(timeout=0.1)


def test_a_preview_note_plays_the_pending_patch_first(make_out, system) -> None:
    out = make_out(limits=RateLimits(min_interval_s=10))  # values would wait 10 s otherwise
    out.send_params({RES: 0.0})
    assert out.flush()
    out.send_params({RES: 1.0})
    out.note_on(60, 90)
    out.note_off(60)
    assert out.flush()
    kinds = [(m.type, getattr(m, "control", getattr(m, "note", None)))
             for m in system.opened[0].messages]
    assert kinds == [("control_change", 71), ("control_change", 71), ("note_on", 60),
                     ("note_off", 60)]


def test_panic_releases_our_notes_and_sends_all_notes_off(make_out, system) -> None:
    out = make_out()
    out.note_on(60)
    out.note_on(64)
    out.panic()
    assert out.flush()
    messages = system.opened[0].messages[2:]
    assert sorted(m.note for m in messages if m.type == "note_off") == [60, 64]
    assert [m.control for m in messages if m.type == "control_change"] == [123, 120]


def test_notes_while_disconnected_are_dropped_not_queued(make_out) -> None:
    out = make_out(port=None)
    out.note_on(60)
    assert out.stats["notes_dropped"] == 1


def test_switching_channel_resends_every_value_on_the_new_channel(make_out, system) -> None:
    out = make_out(channel=2)
    out.send_params({RES: 1.0, "ENV1: Attack": 0.0})
    assert out.flush()
    out.channel = 10
    assert out.flush()
    assert sorted(_ccs(system.opened[0])) == [(2, 71, 127), (2, 73, 0), (10, 71, 127),
                                              (10, 73, 0)]
    with pytest.raises(ValueError, match="channels are 1..16"):
        out.channel = 17


def test_bad_values_raise_and_send_nothing(make_out, system) -> None:
    out = make_out()
    with pytest.raises(ParameterError, match="VCF1: Frequncy"):
        out.send_params({"VCF1: Frequncy": 0.5})
    with pytest.raises(ParameterError, match="outside"):
        out.send_params({RES: 2.0})
    assert out.flush() and system.opened[0].messages == []


def test_a_port_that_disappears_and_returns(make_out, system: FakeSystem) -> None:
    states: list[str] = []
    out = make_out(on_state_changed=states.append)
    out.send_params({RES: 0.25})
    assert out.flush()
    system.names = ["Other"]
    assert out.wait_for_state("disconnected", 5)
    assert out.state == ("disconnected: MIDI output 'Synth' is not available; "
                         "available: 'Other'")
    assert system.opened[0].closed
    out.send_params({RES: 0.75})  # kept for when it returns
    system.names = ["Other", "Synth"]
    assert out.wait_for_state("connected", 5)
    assert out.flush()
    assert _ccs(system.opened[1]) == [(1, 71, round(0.75 * 127))]
    assert states[0] == "connected" and states[1].startswith("disconnected: ")
    assert states[-1] == "connected"


def test_a_send_error_disconnects_and_the_watcher_reconnects(make_out, system) -> None:
    out = make_out()
    system.opened[0].fail = True
    out.send_params({RES: 0.5})
    assert _wait(lambda: out.stats["send_errors"] == 1)
    assert _wait(lambda: len(system.opened) == 2 and out.state == "connected")
    assert out.flush()
    assert _ccs(system.opened[1]) == [(1, 71, 64)]


def test_no_midi_system_is_a_state_not_a_crash(make_out, system: FakeSystem) -> None:
    system.no_system = True
    out = make_out(port=None)
    out.select_port("Synth")
    assert out.wait_for_state("disconnected: no MIDI system", 5), out.state
    out.send_params({RES: 0.5})
    out.note_on(60)


def test_selecting_ports_and_virtual_ports(make_out, system: FakeSystem) -> None:
    out = make_out(port=None)
    out.select_port("Nowhere")
    assert out.wait_for_state("disconnected: MIDI output 'Nowhere' is not available", 5)
    out.select_port("FlowSynth Out", virtual=True)
    assert out.wait_for_state("connected", 5)
    assert system.opened[-1].name == "FlowSynth Out"
    out.select_port(None)
    assert out.wait_for_state("no port", 5)
    assert system.opened[-1].closed


def test_listeners_unsubscribe_and_close_joins_the_threads(make_out, system) -> None:
    out = make_out()
    heard: list[str] = []
    unsubscribe = out.add_state_listener(heard.append)
    system.names = []
    assert out.wait_for_state("disconnected", 5)
    unsubscribe()
    system.names = ["Synth"]
    assert out.wait_for_state("connected", 5)
    assert len(heard) == 1 and heard[0].startswith("disconnected")
    threads = [out._sender, out._watcher]  # private: checking the join
    out.close()
    assert not any(t.is_alive() for t in threads)
    assert out.send_params({RES: 0.1}) == 0  # closed: ignored, no error
    assert system.opened[-1].closed


def test_rate_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="burst >= 2"):
        RateLimits(burst=1)
    with pytest.raises(ValueError):
        RateLimits(max_messages_per_s=0)


def test_a_map_change_sends_values_through_the_new_map(make_out, system) -> None:
    out = make_out()
    out.send_params({RES: 1.0})
    assert out.flush()
    out.set_cc_map(CCMap((CCBinding(RES, 20),)))
    assert out.flush()
    assert _ccs(system.opened[0]) == [(1, 71, 127), (1, 20, 127)]
