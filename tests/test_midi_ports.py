"""Port listing and opening: clear errors, and no crash without any MIDI system."""

from __future__ import annotations

import pytest

from flowsynth_gui.midi.ports import (
    API_ENV,
    MidiPortError,
    MidiSystem,
    NoMidiSystemError,
    answering_apis,
    detect_api,
    resolve_port_name,
)


class FakeBackend:
    """mido.Backend's listing and opening methods over fixed names."""

    name = "fake"

    def __init__(self, outputs: list[str], inputs: list[str] | None = None,
                 error: Exception | None = None) -> None:
        self.outputs, self.inputs, self.error = outputs, inputs or [], error
        self.opened: list[tuple[str, dict]] = []

    def _check(self) -> None:
        if self.error is not None:
            raise self.error

    def get_output_names(self) -> list[str]:
        self._check()
        return self.outputs

    def get_input_names(self) -> list[str]:
        self._check()
        return self.inputs

    def open_output(self, name: str, **kwargs: object) -> str:
        self.opened.append((name, kwargs))
        return f"port:{name}"

    def open_input(self, name: str, **kwargs: object) -> str:
        self.opened.append((name, kwargs))
        return f"port:{name}"


def test_listing_and_opening_by_exact_or_unique_prefix_name() -> None:
    backend = FakeBackend(["Midi Through:Midi Through Port-0 14:0", "Synth A", "Synth AB"])
    system = MidiSystem(backend)
    assert system.output_names() == backend.outputs
    assert system.open_output("Midi Through:Midi Through Port-0") == \
        "port:Midi Through:Midi Through Port-0 14:0"
    assert system.open_output("Synth A") == "port:Synth A"  # exact beats prefix


def test_a_missing_port_lists_what_is_available() -> None:
    system = MidiSystem(FakeBackend(["Synth A", "Synth B"], inputs=[]))
    with pytest.raises(MidiPortError,
                       match=r"MIDI output 'X' is not available; available: 'Synth A', 'Synth B'"):
        system.open_output("X")
    with pytest.raises(MidiPortError, match=r"MIDI input 'Keys' is not available; available: "
                                            r"none"):
        system.open_input("Keys", callback=print)
    with pytest.raises(MidiPortError):  # ambiguous prefix
        system.open_output("Synth")


def test_no_midi_system_is_reported_not_raised_raw() -> None:
    error = OSError("MidiInAlsa::initialize: error creating ALSA sequencer client object.")
    system = MidiSystem(FakeBackend([], error=error))
    with pytest.raises(NoMidiSystemError, match="no MIDI system.*modprobe snd-seq.*JACK"):
        system.output_names()
    with pytest.raises(NoMidiSystemError):
        system.open_input("Keys", callback=print)


def test_the_real_default_backend_never_crashes() -> None:
    # Whatever this machine has (ALSA, JACK, nothing), the answer is a list or our error.
    system = MidiSystem()
    try:
        names = system.output_names() + system.input_names()
    except MidiPortError as err:
        assert str(err)
    else:
        assert all(isinstance(n, str) for n in names)


def test_the_api_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_ENV, "UNIX_JACK")
    assert MidiSystem().api == "UNIX_JACK"
    assert MidiSystem().description == "rtmidi (UNIX_JACK)"
    assert MidiSystem(api="LINUX_ALSA").api == "LINUX_ALSA"
    monkeypatch.delenv(API_ENV)
    automatic = MidiSystem()
    assert automatic.automatic and automatic.api == detect_api()  # the first that answers


@pytest.mark.jack
def test_a_jack_only_machine_gets_jack_without_being_told(
        monkeypatch: pytest.MonkeyPatch, jack_server: list[str]) -> None:
    monkeypatch.delenv(API_ENV, raising=False)
    if "LINUX_ALSA" in answering_apis():
        pytest.skip("this machine has an ALSA sequencer: ALSA is rightly chosen first")
    assert answering_apis() == ["UNIX_JACK"] and detect_api() == "UNIX_JACK"
    system = MidiSystem()
    assert system.api == "UNIX_JACK" and isinstance(system.output_names(), list)
    # told to use ALSA anyway, the error names the API that does answer
    with pytest.raises(NoMidiSystemError, match="JACK does: choose it"):
        MidiSystem(api="LINUX_ALSA").output_names()


def test_an_unknown_api_says_which_ones_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_ENV, "NOPE")
    with pytest.raises(MidiPortError, match=rf"MIDI API 'NOPE' cannot be used.*set {API_ENV}"):
        MidiSystem().output_names()


def test_virtual_ports_carry_the_client_name() -> None:
    backend = FakeBackend([])
    system = MidiSystem(backend, client_name="FlowSynth-test")
    system.open_virtual_output("Out")
    assert backend.opened == [("Out", {"virtual": True, "client_name": "FlowSynth-test"})]


def test_windows_mme_cannot_make_virtual_ports() -> None:
    system = MidiSystem(api="WINDOWS_MM")
    assert not system.supports_virtual
    with pytest.raises(MidiPortError, match="cannot create a virtual output port.*loopMIDI"):
        system.open_virtual_output("Out")


def test_resolve_port_name() -> None:
    assert resolve_port_name("a", ["a", "ab"]) == "a"
    assert resolve_port_name("ab", ["a", "abc"]) == "abc"
    assert resolve_port_name("x", ["a"]) is None
