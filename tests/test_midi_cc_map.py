"""The MIDI CC map: the shipped default, conversions, and errors on bad map files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowsynth_gui.midi.cc_map import (
    DEFAULT_MAP_FILE,
    CCBinding,
    CCDecoder,
    CCMap,
    CCMapError,
    join_14bit,
    load_cc_map,
    split_14bit,
)
from flowsynth_gui.midi.paths import user_cc_map_path
from flowsynth_gui.synth.params import ParameterError, param_set


def _doc(params: dict, **extra: object) -> dict:
    return {"format": "flowsynth-midi-cc-map", "format_version": 1, "channel": 1,
            "params": params, **extra}


def _write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "map.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_the_default_map_covers_the_64_parameter_set_on_channel_1() -> None:
    cc_map = CCMap.default()
    assert set(cc_map.params) == set(param_set(64))
    assert cc_map.channel == 1
    fine = {b.param for b in cc_map if b.bits == 14}
    assert {"VCF1: Frequency", "HPF: Frequency", "OSC: Tune1"} <= fine
    for binding in cc_map:
        assert binding.cc not in range(120, 128)
        if binding.bits == 14:
            assert binding.cc <= 31 and binding.lsb_cc == binding.cc + 32


def test_the_default_file_is_what_save_writes() -> None:
    # The shipped file is kept in save()'s one-entry-a-line layout, so user copies diff cleanly.
    assert CCMap.default().to_json() == DEFAULT_MAP_FILE.read_text(encoding="utf-8")


@pytest.mark.parametrize(("value", "expected"), [(0.0, 0), (1.0, 127), (0.5, 64), (0.25, 32),
                                                 (1 / 127, 1)])
def test_7bit_quantisation_rounds_to_nearest(value: float, expected: int) -> None:
    binding = CCBinding("VCF1: Resonance", 71)
    assert binding.quantise(value) == expected == round(value * 127)
    assert binding.encode(value) == ((71, expected),)


def test_14bit_encoding_splits_msb_then_lsb() -> None:
    binding = CCBinding("VCF1: Frequency", 16, bits=14)
    assert binding.encode(0.0) == ((16, 0), (48, 0))
    assert binding.encode(1.0) == ((16, 127), (48, 127))
    q = round(0.3 * 16383)
    assert binding.encode(0.3) == ((16, q >> 7), (48, q & 127))


@given(st.integers(0, 16383))
def test_14bit_split_and_join_round_trip(value: int) -> None:
    msb, lsb = split_14bit(value)
    assert 0 <= msb <= 127 and 0 <= lsb <= 127
    assert join_14bit(msb, lsb) == value


@given(st.floats(0.0, 1.0), st.sampled_from([7, 14]))
def test_decoding_what_was_encoded_gives_the_value_within_half_a_step(value: float,
                                                                      bits: int) -> None:
    cc_map = CCMap((CCBinding("VCF1: Frequency", 16, bits),))
    decoder = CCDecoder(cc_map)
    results = [decoder.feed(1, cc, data) for cc, data in cc_map.binding("VCF1: Frequency")
               .encode(value)]
    name, decoded = results[-1]
    steps = 127 if bits == 7 else 16383
    assert name == "VCF1: Frequency"
    assert abs(decoded - value) <= 0.5 / steps + 1e-12
    assert decoded == round(value * steps) / steps


def test_decoder_msb_alone_means_lsb_zero_and_lsb_alone_means_nothing() -> None:
    decoder = CCDecoder(CCMap.default())
    assert decoder.feed(1, 48, 5) is None  # LSB before any MSB
    assert decoder.feed(1, 16, 64) == ("VCF1: Frequency", 8192 / 16383)
    assert decoder.feed(1, 48, 1) == ("VCF1: Frequency", 8193 / 16383)
    assert decoder.feed(2, 48, 1) is None  # another channel has no MSB yet
    assert decoder.feed(1, 71, 127) == ("VCF1: Resonance", 1.0)
    assert decoder.feed(1, 1, 10) is None  # the mod wheel is no parameter


def test_values_outside_0_1_are_refused_with_the_parameter_name() -> None:
    binding = CCBinding("VCF1: Resonance", 71)
    for bad in (1.5, -0.1, float("nan"), "loud"):
        with pytest.raises(ParameterError, match="VCF1: Resonance"):
            binding.quantise(bad)  # type: ignore[arg-type]


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    edited = CCMap.default().with_binding("VCA1: Pan", 119).with_channel(5)
    path = tmp_path / "sub" / "map.json"
    edited.save(path)
    assert CCMap.load(path) == edited
    assert not [p for p in path.parent.iterdir() if p.name != "map.json"]  # no temp files


def test_editing_keeps_the_order_and_validates() -> None:
    cc_map = CCMap.default()
    moved = cc_map.with_binding("VCF1: Resonance", 119)
    assert moved.params == cc_map.params
    assert moved.binding("VCF1: Resonance") == CCBinding("VCF1: Resonance", 119)
    assert "VCF1: Resonance" not in moved.without("VCF1: Resonance")
    with pytest.raises(CCMapError, match="already used by 'VCF1: Frequency'"):
        cc_map.with_binding("VCA1: Pan", 48)  # the cutoff's LSB


def test_a_user_copy_overrides_the_default(tmp_path: Path) -> None:
    assert load_cc_map(tmp_path) == CCMap.default()
    user = CCMap((CCBinding("VCF1: Frequency", 1, 14),), channel=3)
    user.save(user_cc_map_path(tmp_path))
    assert load_cc_map(tmp_path) == user


def test_a_broken_user_copy_is_reported_not_ignored(tmp_path: Path) -> None:
    user_cc_map_path(tmp_path).write_text("{not json", encoding="utf-8")
    with pytest.raises(CCMapError, match="not valid JSON.*delete the file"):
        load_cc_map(tmp_path)


@pytest.mark.parametrize(("params", "message"), [
    ({"VCF1: Frequncy": {"cc": 16}}, r"entry 'VCF1: Frequncy'.*Did you mean 'VCF1: Frequency'"
                                     r".*Fix the name or remove the entry"),
    ({"VCF1: Frequency": {"cc": 128}}, r"entry 'VCF1: Frequency'.*128 is not an integer in "
                                       r"0\.\.127"),
    ({"VCF1: Frequency": {"cc": -1}}, r"-1 is not an integer"),
    ({"VCF1: Frequency": {"cc": 16.5}}, r"16\.5 is not an integer"),
    ({"VCF1: Frequency": {"cc": 123}}, r"CC 123 is a channel mode message"),
    ({"VCF1: Frequency": {"cc": 40, "bits": 14}}, r"MSB on CC 0\.\.31"),
    ({"VCF1: Frequency": {"cc": 16, "bits": 8}}, r"'bits' is 8; use 7.*or 14"),
    ({"VCF1: Frequency": {"cc": 16, "bit": 14}}, r"unknown key\(s\) 'bit'"),
    ({"VCF1: Frequency": 16}, r"expected \{\"cc\""),
    ({"VCF1: Frequency": {"cc": 16}, "VCF1: Resonance": {"cc": 16}},
     r"entry 'VCF1: Resonance': CC 16 is already used by 'VCF1: Frequency'.*free: "),
    ({"VCF1: Frequency": {"cc": 16, "bits": 14}, "VCF1: Resonance": {"cc": 48}},
     r"CC 48 is already used by 'VCF1: Frequency' \(as the LSB of its 14-bit pair\)"),
    ({"VCF1: Resonance": {"cc": 48}, "VCF1: Frequency": {"cc": 16, "bits": 14}},
     r"entry 'VCF1: Frequency': CC 48 as the LSB of its 14-bit pair is already used by "
     r"'VCF1: Resonance'"),
])
def test_bad_entries_name_the_entry_and_the_fix(tmp_path: Path, params: dict,
                                                message: str) -> None:
    path = _write(tmp_path, _doc(params))
    with pytest.raises(CCMapError, match=message) as caught:
        CCMap.load(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(("document", "message"), [
    (_doc({}, channel=17), r"'channel' is 17; MIDI channels are 1\.\.16"),
    (_doc({}, channel=0), r"'channel' is 0"),
    ({**_doc({}), "format": "something"}, r"is this a FlowSynth MIDI CC map"),
    ({**_doc({}), "format_version": 9}, r"format_version 9 is not supported"),
    (_doc([]), r"'params' must be an object"),
    ([1, 2], r"expected a JSON object"),
])
def test_bad_documents_say_what_is_wrong(tmp_path: Path, document: object, message: str) -> None:
    with pytest.raises(CCMapError, match=message):
        CCMap.load(_write(tmp_path, document))


def test_a_parameter_listed_twice_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "map.json"
    path.write_text('{"format": "flowsynth-midi-cc-map", "format_version": 1, "params": '
                    '{"VCF1: Frequency": {"cc": 16}, "VCF1: Frequency": {"cc": 17}}}')
    with pytest.raises(CCMapError, match="'VCF1: Frequency' appears twice"):
        CCMap.load(path)


def test_a_missing_file_is_a_map_error(tmp_path: Path) -> None:
    with pytest.raises(CCMapError, match="cannot read the MIDI CC map"):
        CCMap.load(tmp_path / "absent.json")
