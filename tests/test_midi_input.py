"""MidiIn routing without ports: notes, learn mode and its file, mapped CCs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import mido
import pytest

from flowsynth_gui.midi.cc_map import CCMap
from flowsynth_gui.midi.input import MergingParamsSink, MidiIn
from flowsynth_gui.midi.learn import (
    LearnedBinding,
    LearnFileError,
    load_bindings,
    save_bindings,
)


class Recorder:
    """A note, control and params sink that remembers every call."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def note_on(self, note: int, velocity: int) -> None:
        self.calls.append(("on", note, velocity))

    def note_off(self, note: int) -> None:
        self.calls.append(("off", note))

    def all_notes_off(self) -> None:
        self.calls.append(("all_off",))

    def control(self, name: str, value: float) -> None:
        self.calls.append(("control", name, value))

    def params(self, changes: dict[str, float]) -> None:
        self.calls.append(("params", changes))


def cc(control: int, value: int, channel: int = 1) -> mido.Message:
    return mido.Message("control_change", channel=channel - 1, control=control, value=value)


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.fixture
def midi_in(rec: Recorder, tmp_path: Path) -> MidiIn:
    return MidiIn(cc_map=CCMap.default(), note_sink=rec, control_sink=rec.control,
                  params_sink=rec.params, bindings_path=tmp_path / "learn.json")


def test_notes_reach_the_sink_and_velocity_zero_is_note_off(midi_in: MidiIn,
                                                            rec: Recorder) -> None:
    midi_in.handle(mido.Message("note_on", note=60, velocity=100))
    midi_in.handle(mido.Message("note_on", note=60, velocity=0))
    midi_in.handle(mido.Message("note_on", note=62, velocity=1))
    midi_in.handle(mido.Message("note_off", note=62, velocity=64))
    midi_in.handle(cc(123, 0))
    midi_in.handle(mido.Message("clock"))  # no channel: ignored
    assert rec.calls == [("on", 60, 100), ("off", 60), ("on", 62, 1), ("off", 62),
                         ("all_off",)]


def test_a_channel_filter_ignores_other_channels(rec: Recorder) -> None:
    midi_in = MidiIn(note_sink=rec, channel=2, persist=False)
    midi_in.handle(mido.Message("note_on", channel=0, note=60))
    midi_in.handle(mido.Message("note_on", channel=1, note=61))
    assert rec.calls == [("on", 61, 64)]
    with pytest.raises(ValueError, match="1..16"):
        MidiIn(channel=0, persist=False)


def test_mapped_ccs_update_parameters_with_14bit_pairs(midi_in: MidiIn, rec: Recorder) -> None:
    midi_in.handle(cc(71, 127))
    midi_in.handle(cc(16, 64))
    midi_in.handle(cc(48, 1))
    midi_in.handle(cc(1, 10))  # mod wheel: not a parameter, not learned
    assert rec.calls == [("params", {"VCF1: Resonance": 1.0}),
                         ("params", {"VCF1: Frequency": 8192 / 16383}),
                         ("params", {"VCF1: Frequency": 8193 / 16383})]


def test_another_cc_map_takes_over(midi_in: MidiIn, rec: Recorder) -> None:
    midi_in.set_cc_map(CCMap.default().with_binding("VCF1: Resonance", 2))
    midi_in.handle(cc(71, 127))
    midi_in.handle(cc(2, 127))
    assert rec.calls == [("params", {"VCF1: Resonance": 1.0})]
    assert midi_in.cc_map.binding("VCF1: Resonance").cc == 2


def test_learn_binds_the_next_cc_and_routes_it_to_the_control(midi_in: MidiIn,
                                                              rec: Recorder) -> None:
    learned: list[LearnedBinding] = []
    midi_in.on_learned = learned.append
    midi_in.learn("Macro 1")
    assert midi_in.learning == "Macro 1"
    midi_in.handle(cc(2, 5, channel=3))  # consumed by learning
    assert midi_in.learning is None
    assert learned == [LearnedBinding("Macro 1", 3, 2)]
    midi_in.handle(cc(2, 127, channel=3))
    midi_in.handle(cc(2, 0, channel=4))  # another channel: not the bound CC (nor mapped)
    assert rec.calls == [("control", "Macro 1", 1.0)]


def test_learning_wins_over_the_map_and_rebinding_moves_bindings(midi_in: MidiIn,
                                                                 rec: Recorder) -> None:
    midi_in.learn("Brightness")
    midi_in.handle(cc(71, 0))  # a mapped CC (resonance) can be learned too
    midi_in.handle(cc(71, 127))
    assert rec.calls == [("control", "Brightness", 1.0)]
    midi_in.learn("Warmth")  # same CC to another control: the old binding goes
    midi_in.handle(cc(71, 0))
    midi_in.learn("Warmth")  # the same control to another CC: its old CC is freed
    midi_in.handle(cc(22, 0))
    assert midi_in.bindings == {"Warmth": LearnedBinding("Warmth", 1, 22)}
    midi_in.handle(cc(71, 127))
    assert rec.calls[-1] == ("params", {"VCF1: Resonance": 1.0})


def test_channel_mode_messages_are_never_learned(midi_in: MidiIn) -> None:
    midi_in.learn("Macro 1")
    midi_in.handle(cc(123, 0))
    assert midi_in.learning == "Macro 1"
    midi_in.cancel_learn()
    midi_in.handle(cc(21, 0))
    assert midi_in.bindings == {}


def test_bindings_persist_atomically_and_load_again(midi_in: MidiIn, rec: Recorder,
                                                    tmp_path: Path) -> None:
    path = tmp_path / "learn.json"
    midi_in.learn("Macro 1")
    midi_in.handle(cc(21, 0))
    midi_in.bind("Semantic: Bright", 2, 30)
    midi_in.close()  # writes what is pending and joins the saver
    data = json.loads(path.read_text())
    assert data["format"] == "flowsynth-midi-learn"
    assert {(b["control"], b["channel"], b["cc"]) for b in data["bindings"]} == {
        ("Macro 1", 1, 21), ("Semantic: Bright", 2, 30)}
    assert [p.name for p in tmp_path.iterdir()] == ["learn.json"]
    again = MidiIn(control_sink=rec.control, bindings_path=path)
    again.handle(cc(30, 127, channel=2))
    assert rec.calls == [("control", "Semantic: Bright", 1.0)]
    again.unbind("Semantic: Bright")
    again.close()
    assert set(load_bindings(path)) == {"Macro 1"}


def test_saving_happens_off_the_midi_thread(midi_in: MidiIn, tmp_path: Path) -> None:
    midi_in.learn("Macro 1")
    midi_in.handle(cc(21, 0))
    deadline = time.monotonic() + 5
    while not (tmp_path / "learn.json").exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    assert load_bindings(tmp_path / "learn.json") == midi_in.bindings
    midi_in.close()


@pytest.mark.parametrize(("text", "message"), [
    ("{oops", "cannot read the MIDI-learn file"),
    ('{"format": "other", "format_version": 1, "bindings": []}', "is not a version-1"),
    ('{"format": "flowsynth-midi-learn", "format_version": 1, "bindings": [{"control": "A"}]}',
     "binding 1: expected"),
    ('{"format": "flowsynth-midi-learn", "format_version": 1, "bindings": '
     '[{"control": "A", "channel": 17, "cc": 1}]}', r"channel 17 for 'A': use 1\.\.16"),
    ('{"format": "flowsynth-midi-learn", "format_version": 1, "bindings": '
     '[{"control": "A", "channel": 1, "cc": 1}, {"control": "B", "channel": 1, "cc": 1}]}',
     "binding 2 repeats"),
])
def test_a_broken_learn_file_says_how_to_fix_it(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "learn.json"
    path.write_text(text)
    with pytest.raises(LearnFileError, match=message) as caught:
        MidiIn(bindings_path=path)
    assert "fix it or delete it" in str(caught.value)


def test_save_bindings_round_trip(tmp_path: Path) -> None:
    bindings = {"A": LearnedBinding("A", 1, 0), "B b": LearnedBinding("B b", 16, 119)}
    save_bindings(tmp_path / "x.json", bindings)
    assert load_bindings(tmp_path / "x.json") == bindings
    assert load_bindings(tmp_path / "absent.json") == {}


def test_a_failing_sink_never_raises_into_the_midi_thread(tmp_path: Path) -> None:
    def broken(changes: dict[str, float]) -> None:
        raise RuntimeError("sink broke")

    midi_in = MidiIn(cc_map=CCMap.default(), params_sink=broken, persist=False)
    midi_in._on_message(cc(71, 1))  # private: the port's callback
    assert midi_in.errors == 1 and "sink broke" in (midi_in.last_error or "")


def test_merging_sink_forwards_full_patches(rec: Recorder) -> None:
    forwarded: list[dict[str, float]] = []
    merge = MergingParamsSink(forwarded.append, {"VCF1: Frequency": 0.2})
    midi_in = MidiIn(params_sink=merge, persist=False)
    midi_in.handle(cc(71, 127))
    assert forwarded == [{"VCF1: Frequency": 0.2, "VCF1: Resonance": 1.0}]
    merge.reset({})
    assert merge.values == {}


def test_learn_needs_a_name() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        MidiIn(persist=False).learn("  ")
