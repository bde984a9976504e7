"""Diva .h2p reading, writing and library import, against real Diva presets in tests/data/h2p."""

from __future__ import annotations

import doctest
import math
import re
from pathlib import Path

import numpy as np
import pytest

from flowsynth_gui.presets import diva_template, h2p, h2p_writer, library, names
from flowsynth_gui.presets.diva_template import load_diva_template
from flowsynth_gui.presets.h2p import (
    H2pFormatError,
    choose_fx_modules,
    format_h2p,
    import_h2p_folder,
    read_h2p,
    write_h2p,
)
from flowsynth_gui.presets.names import sanitise_preset_name
from flowsynth_gui.synth.params import ParameterError, all_specs, param_set, spec_by_name

DATA = Path(__file__).parent / "data" / "h2p"
DIVA_SAVED = sorted(DATA.glob("diva_saved_*.h2p"))
GENERATOR = DATA / "generator_written_no_tail.h2p"
ALL_SAMPLES = [*DIVA_SAVED, GENERATOR]
SPEC_SLOTS = {(s.section, s.key): s for s in all_specs()}


def _header_lines(text: str) -> list[str]:
    """The '#...' lines before the first module section."""
    lines = text.split("#cm=", 1)[0].splitlines()
    return [line for line in lines if line.startswith("#")]


def _layout(text: str) -> list[tuple[str, list[str]]]:
    """(section, [keys]) in file order, from a preset's text part."""
    layout: list[tuple[str, list[str]]] = []
    for line in text.split("$$$$", 1)[0].splitlines():
        if line.startswith("#cm="):
            layout.append((line[4:], []))
        elif layout and "=" in line:
            layout[-1][1].append(line.split("=", 1)[0])
    return layout


def _values(text: str) -> dict[tuple[str, str], str]:
    return {(section, key): value for section, keys in _parsed(text) for key, value in keys}


def _parsed(text: str) -> list[tuple[str, list[tuple[str, str]]]]:
    parsed: list[tuple[str, list[tuple[str, str]]]] = []
    for line in text.splitlines():
        if line.startswith("#cm="):
            parsed.append((line[4:], []))
        elif parsed and "=" in line:
            parsed[-1][1].append(tuple(line.split("=", 1)))  # type: ignore[arg-type]
    return parsed


def _sample_text(path: Path) -> str:
    return path.read_bytes().decode("latin-1")


def test_samples_are_present() -> None:
    assert len(DIVA_SAVED) == 3 and GENERATOR.is_file(), "tests/data/h2p is incomplete"


# ----------------------------------------------------------------------------------------- reading

@pytest.mark.parametrize("path", ALL_SAMPLES, ids=lambda p: p.stem)
def test_every_sample_reads(path: Path) -> None:
    preset = read_h2p(path)
    assert preset.name == path.stem and preset.path == path
    assert preset.header.am == "Diva" and preset.header.version == "10001"
    assert preset.header.endian == "little"
    assert preset.header.mod_sources == load_diva_template().mod_sources
    assert preset.header.mv == ("Gate", "Env1")
    values = preset.parameters()
    assert set(values) == {s.name for s in all_specs()}  # every synth slot exists in Diva's files
    assert all(0.0 <= v <= 1.0 for v in values.values())
    assert preset.missing_parameters() == []


def test_sample_layouts() -> None:
    """Diva-saved: 29 sections incl. MPE, binary tail; generator: 28 sections, no tail."""
    for path in DIVA_SAVED:
        preset = read_h2p(path)
        assert len(preset.sections) == 29 and "MPE" in preset.sections
        assert preset.has_binary_tail
    generator = read_h2p(GENERATOR)
    assert len(generator.sections) == 28 and "MPE" not in generator.sections
    assert not generator.has_binary_tail
    assert generator.value("Plate1", "Wet") == 11.9  # shortest number formatting


def test_sample_metadata_and_values() -> None:
    arp = read_h2p(DATA / "diva_saved_arp.h2p")
    assert arp.metadata["Bank"] == "Diva Generated Vol. 1"
    assert arp.meta_list("categories") == ["Keys:Bells", "Seq+Arp:Seq+Arp"]
    assert arp.meta_list("Features") == ["Percussive"]
    assert arp.character_tags() == ["Soft", "Modern"]
    assert arp.sections["FX1"]["Module"] == "'Delay1'" and arp.value("FX1", "Module") == "Delay1"
    assert arp.parameters()["VCF1: Frequency"] == pytest.approx((58.95 - 30) / 120)
    assert read_h2p(DATA / "diva_saved_bass.h2p").character_tags() == []
    assert read_h2p(GENERATOR).metadata.keys() == {"Bank", "Author", "Description"}


def test_uncovered_keys_in_file_order() -> None:
    uncovered = read_h2p(DATA / "diva_saved_keys.h2p").uncovered_keys()
    assert uncovered[:3] == [("main", "CcOp"), ("main", "#FX1"), ("main", "#FX2")]
    assert ("VCF1", "Freq") not in uncovered and ("VCF1", "Model") in uncovered
    assert len(uncovered) == 361 - len(SPEC_SLOTS)


def test_unknown_sections_and_keys_are_kept() -> None:
    text = _sample_text(GENERATOR).replace("#cm=HPF\n", "#cm=NewMod\nZap=1.50\nWho='x'\n#cm=HPF\n")
    text = text.replace("Freq=55\n", "Freq=55\nNewKey=7\n")
    preset = read_h2p(text.encode("latin-1"), name="unknown")
    order = list(preset.sections)
    assert order[order.index("NewMod") + 1] == "HPF"
    assert preset.sections["NewMod"] == {"Zap": "1.50", "Who": "'x'"}
    assert list(preset.sections["VCF1"])[2] == "NewKey"
    uncovered = preset.uncovered_keys()
    assert ("NewMod", "Zap") in uncovered and ("VCF1", "NewKey") in uncovered


def test_out_of_range_values_are_clipped_and_recorded() -> None:
    text = _sample_text(GENERATOR).replace("Tune1=0\n", "Tune1=30\n")
    preset = read_h2p(text.replace("Res=100\n", "Res=-5\n").encode("latin-1"))
    values = preset.parameters()
    assert values["OSC: Tune1"] == 1.0 and values["VCF1: Resonance"] == 0.0
    assert preset.out_of_range() == {"OSC: Tune1": 30.0, "VCF1: Resonance": -5.0}


def test_lower_case_meta_crlf_latin1_and_nul_padding() -> None:
    text = _sample_text(DATA / "diva_saved_keys.h2p").replace("/*@Meta", "/*@meta")
    text = text.replace("'Soft'", "'Caf\xe9, Soft'")
    data = text.replace("\n", "\r\n").encode("latin-1") + b"\x00" * 8
    preset = read_h2p(data, name="keys")
    assert preset.character_tags() == ["Caf\xe9", "Soft"]
    assert preset.parameters() == read_h2p(DATA / "diva_saved_keys.h2p").parameters()


def test_multi_line_and_empty_metadata_values() -> None:
    data = b"/*@Meta\nDescription:\n'first line\nsecond line'\nUsage:\n\nAuthor: 'me'\n*/\n" \
           b"#AM=Diva\n#cm=VCF1\nFreq=90\n"
    preset = read_h2p(data)
    assert preset.metadata == {"Description": "first line\nsecond line", "Usage": "",
                               "Author": "me"}


MALFORMED = [
    (b"", "no module sections"),
    (b"hello world\n", "expected a '#KEY=VALUE' header line"),
    (b"#AM=Zebra2\n#cm=VCF1\nFreq=1\n", "another synth"),
    (b"#Vers=10001\n#cm=VCF1\nFreq=1\n", "no '#AM=Diva'"),
    (b"/*@Meta\nBank:\n'x'\n", "never ends"),
    (b"/*@Meta\nBank:\n'x\n*/\n#AM=Diva\n", "no closing quote"),
    (b"#AM=Diva\n#nm=24\n#ms=none\n#ms=ModWhl\n#cm=VCF1\nFreq=1\n", "announces 24"),
    (b"#AM=Diva\n#nm=99999999999\n", "not a count"),
    (b"#AM=Diva\n#Endian=little\n", "no module sections"),
    (b"#AM=Diva\n#cm=VCF1\nFreq=abc\n", "neither a number"),
    (b"#AM=Diva\n#cm=VCF1\nFreq='abc'\n", "needs a number"),
    (b"#AM=Diva\n#cm=VCF1\nFreq=1e999\n", "not a finite number"),
    (b"#AM=Diva\n#cm=VCF1\nFreq=1\n#cm=VCF1\n", "appears twice"),
    (b"#AM=Diva\n#cm=VCF1\nFreq=1\nFreq=2\n", "appears twice"),
    (b"#AM=Diva\n#cm=VCF1\nFre", "expected 'Key=Value'"),
    (b"#AM=Diva\n#cm=VCF1\nFreq=1\x00\x01garbage\nRes=2\n", "binary data"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data"),
]


@pytest.mark.parametrize(("data", "problem"), MALFORMED)
def test_malformed_input_raises_one_clear_error(data: bytes, problem: str) -> None:
    with pytest.raises(H2pFormatError, match=re.escape(problem)) as caught:
        read_h2p(data, name="broken.h2p")
    assert str(caught.value).startswith("broken.h2p, line ")
    assert isinstance(caught.value, ValueError)


def test_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.h2p"
    lines = _sample_text(GENERATOR).split("\n")
    number = lines.index("Freq=55") + 1
    lines[number - 1] = "Freq=fifty"
    path.write_bytes("\n".join(lines).encode("latin-1"))
    with pytest.raises(H2pFormatError) as caught:
        read_h2p(path)
    assert caught.value.source == str(path) and caught.value.line == number
    assert f"{path}, line {number}: VCF1/Freq='fifty'" in str(caught.value)


def test_absurdly_large_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.h2p"
    with open(path, "wb") as handle:
        handle.truncate(h2p.MAX_FILE_BYTES + 1)  # sparse: cheap to make
    with pytest.raises(H2pFormatError, match="larger than"):
        read_h2p(path)


# ----------------------------------------------------------------------------------------- writing

def test_template_follows_the_diva_saved_samples() -> None:
    template = load_diva_template()
    expected = _layout(_sample_text(DIVA_SAVED[0]))
    assert [(name, [k.key for k in keys]) for name, keys in template.sections] == expected
    assert len(template.sections) == 29 and sum(len(k) for _, k in template.sections) == 361
    assert template.header_lines() == _header_lines(_sample_text(DIVA_SAVED[0]))


def test_written_file_has_diva_layout(tmp_path: Path) -> None:
    path = write_h2p(tmp_path / "layout.h2p", {})
    text = path.read_text(encoding="ascii")
    for sample in DIVA_SAVED:
        sample_text = _sample_text(sample)
        assert _header_lines(text) == _header_lines(sample_text)
        assert _layout(text) == _layout(sample_text)  # same sections, same keys, same order
    assert "$$$$" not in text and "\x00" not in text  # never a binary tail
    assert not read_h2p(path).has_binary_tail


def _random_sets() -> list[tuple[int, int]]:
    return [(size, seed) for size in (16, 32, 64) for seed in range(4)]


@pytest.mark.parametrize(("size", "seed"), _random_sets())
def test_write_read_round_trip(tmp_path: Path, size: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    names_ = param_set(size)
    values = dict(zip(names_, rng.random(len(names_)), strict=True))
    values[names_[0]], values[names_[1]] = 0.0, 1.0  # the range ends too
    back = read_h2p(write_h2p(tmp_path / f"set{size}.h2p", values)).parameters()
    for spec in all_specs():
        written = values.get(spec.name, spec.default_normalised)
        native = round(spec.to_native(written), 2)  # Diva's two decimals
        assert spec.to_native(back[spec.name]) == pytest.approx(native, abs=1e-9), spec.name
        assert abs(back[spec.name] - written) <= 0.005 / (spec.max - spec.min) + 1e-12


def _copy_range(template: diva_template.DivaTemplate, section: str, key: str):
    """The synth spec whose value a (possibly copied) slot holds, or None."""
    copies = {(s, k.key): k.copy_from for s, keys in template.sections for k in keys}
    slot: tuple[str, str] | None = (section, key)
    while slot is not None and slot not in SPEC_SLOTS:
        slot = copies.get(slot)
    return SPEC_SLOTS.get(slot) if slot else None


@pytest.mark.parametrize("fill", ["zeros", "ones", "random"])
def test_no_value_outside_native_ranges(fill: str) -> None:
    rng = np.random.default_rng(7)
    fills = {"zeros": lambda: 0.0, "ones": lambda: 1.0, "random": lambda: float(rng.random())}
    text = format_h2p({s.name: fills[fill]() for s in all_specs()})
    template = load_diva_template()
    for (section, key), raw in _values(text).items():
        kind = template.kind(section, key)
        if kind == "continuous":
            assert re.fullmatch(r"-?\d+\.\d\d", raw), (section, key, raw)
        elif kind == "switch":
            assert re.fullmatch(r"-?\d+", raw), (section, key, raw)
        else:
            assert re.fullmatch(r"'[A-Za-z0-9]+'", raw), (section, key, raw)
        spec = _copy_range(template, section, key)
        if spec is not None:
            assert spec.min <= float(raw) <= spec.max, (section, key, raw)


@pytest.mark.parametrize("bad", [{"VCF1: Frequenz": 0.5}, {"VCF1: Frequency": 1.5},
                                 {"VCF1: Frequency": math.nan}, {"VCF1: Frequency": "x"}])
def test_invalid_parameters_are_refused_and_nothing_written(tmp_path: Path, bad: dict) -> None:
    with pytest.raises(ParameterError):
        write_h2p(tmp_path / "bad.h2p", bad)
    assert list(tmp_path.iterdir()) == []


def test_metadata_round_trip(tmp_path: Path) -> None:
    path = write_h2p(tmp_path / "meta.h2p", {}, author="Ann", description="A soft pad.",
                     categories=["Pads:Warm", "Keys:Synth"], character=["Soft", "Dark", "Wide"],
                     bank="My Bank")
    preset = read_h2p(path)
    assert preset.metadata["Author"] == "Ann" and preset.metadata["Bank"] == "My Bank"
    assert preset.metadata["Description"] == "A soft pad."
    assert preset.meta_list("Categories") == ["Pads:Warm", "Keys:Synth"]
    assert preset.character_tags() == ["Soft", "Dark", "Wide"]
    assert "Character" not in read_h2p(write_h2p(tmp_path / "plain.h2p", {})).metadata


def test_metadata_is_made_safe_for_the_format() -> None:
    text = format_h2p({}, author="Zoë O'Neil", description="two\nlines \u2019quoted\u2019 \u4e2d")
    preset = read_h2p(text.encode("ascii"))
    assert preset.metadata["Author"] == "Zoe O`Neil"
    assert preset.metadata["Description"] == "two lines `quoted` ?"
    with pytest.raises(ValueError, match="comma"):
        format_h2p({}, character=["Soft, Dark"])
    with pytest.raises(TypeError, match="list of strings"):
        format_h2p({}, character="Soft")  # type: ignore[arg-type]


def test_preset_name_is_the_sanitised_file_name(tmp_path: Path) -> None:
    path = write_h2p(tmp_path / 'Bass: "deep"?.h2p', {})
    assert path == tmp_path / "Bass- -deep--.h2p" and path.is_file()
    assert read_h2p(path).name == "Bass- -deep--"
    assert write_h2p(tmp_path / "NoSuffix", {}).name == "NoSuffix.h2p"
    assert write_h2p(tmp_path / "Shout.H2P", {}).name == "Shout.h2p"


@pytest.mark.parametrize(("raw", "clean"), [
    ("a/b\\c", "a-b-c"), ("  spaced   out  ", "spaced out"), ("trailing. ", "trailing"),
    (".hidden", "hidden"), ("", "Untitled"), ("...", "Untitled"), ("nul", "nul_"),
    ("COM1.x", "COM1_.x"), ("tab\there", "tab-here"), ("Café Ü", "Café Ü"), ("x" * 300, "x" * 100),
])
def test_sanitise_preset_name(raw: str, clean: str) -> None:
    assert sanitise_preset_name(raw) == clean


@pytest.mark.parametrize(("wets", "fx1", "fx2", "dropped"), [
    ({}, "Chorus1", "Chorus2", ()),
    ({"Chrs1: Wet": 0.5}, "Chorus1", "Chorus2", ()),
    ({"Plate1: Wet": 0.5}, "Plate1", "Chorus2", ()),
    ({"Delay1: Wet": 0.5}, "Delay1", "Chorus2", ()),
    ({"Chrs1: Wet": 0.5, "Delay1: Wet": 0.2}, "Chorus1", "Delay2", ()),
    ({"Chrs1: Wet": 0.5, "Plate1: Wet": 0.2}, "Chorus1", "Plate2", ()),
    ({"Plate1: Wet": 0.5, "Delay1: Wet": 0.2}, "Plate1", "Delay2", ()),
    ({"Chrs1: Wet": 0.1, "Plate1: Wet": 0.5, "Delay1: Wet": 0.2}, "Chorus1", "Plate2", ("delay",)),
    ({"Chrs1: Wet": 0.1, "Plate1: Wet": 0.2, "Delay1: Wet": 0.5}, "Chorus1", "Delay2", ("plate",)),
])
def test_fx_modules_follow_the_synth(wets: dict, fx1: str, fx2: str, dropped: tuple) -> None:
    choice = choose_fx_modules(wets)
    assert (choice.fx1, choice.fx2, choice.dropped) == (fx1, fx2, dropped)
    values = _values(format_h2p(wets))
    assert values[("FX1", "Module")] == f"'{fx1}'" and values[("FX2", "Module")] == f"'{fx2}'"


def test_one_effect_fills_both_diva_slots() -> None:
    params = {"Plate1: Wet": 0.4, "Plate1: Decay": 0.7, "Plate1: Predelay": 0.2,
              "Plate2: Size": 0.3, "Plate2: Damp": 0.9, "Delay1: Time": 0.5, "Delay1: Wet": 0.3}
    values = _values(format_h2p(params))
    for key in ("Pre", "Decay", "Wet"):
        assert values[("Plate2", key)] == values[("Plate1", key)]
    for key in ("Damp", "Size"):
        assert values[("Plate1", key)] == values[("Plate2", key)]
    assert values[("Plate1", "Diff")] == "100.00"  # two synth parameters: never merged
    assert values[("Delay1", "LDel")] == values[("Delay1", "RDel")] == values[("Delay1", "CDel")]
    assert all(values[("Delay2", key)] == values[("Delay1", key)]
               for section, key in values if section == "Delay1")
    assert values[("Chrs2", "Wet")] == "0.00"  # FX2's silent filler


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_h2p(tmp_path / "keep.h2p", {"VCF1: Frequency": 0.25})
    before = path.read_bytes()

    def crash(self: Path, data: bytes) -> int:
        with open(self, "wb") as handle:
            handle.write(data[: len(data) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_bytes", crash)
    with pytest.raises(OSError, match="disk full"):
        write_h2p(path, {"VCF1: Frequency": 0.75})
    assert path.read_bytes() == before and list(tmp_path.iterdir()) == [path]


def test_spec_slot_value_needs_diva_units() -> None:
    """Diva's VCF1 cutoff of 90.00 is the middle of the synth's 30..150 range."""
    text = format_h2p({"VCF1: Frequency": 0.5, "LFO1: Rate": 0.0})
    values = _values(text)
    assert values[("VCF1", "Freq")] == "90.00" and values[("LFO1", "Rate")] == "-5.00"
    assert spec_by_name("VCF1: Frequency").to_native(0.5) == 90.0


# ------------------------------------------------------------------------------------------ import

def test_import_folder_reads_everything_and_reports_bad_files(tmp_path: Path) -> None:
    nested = tmp_path / "Bank A" / "Sub"
    nested.mkdir(parents=True)
    for sample in ALL_SAMPLES:
        (nested / sample.name).write_bytes(sample.read_bytes())
    (tmp_path / "LOUD.H2P").write_bytes(GENERATOR.read_bytes())
    (tmp_path / "broken.h2p").write_bytes(b"#AM=Diva\n#cm=VCF1\nFreq=oops\n")
    (tmp_path / "empty.h2p").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a preset")
    (tmp_path / "folder.h2p").mkdir()  # a folder with a preset's name is no preset
    (nested / "loop").symlink_to(tmp_path, target_is_directory=True)  # must not recurse forever
    report = import_h2p_folder(tmp_path)
    assert sorted(p.name for p in report.presets) == sorted(
        [s.stem for s in ALL_SAMPLES] + ["LOUD"])
    reasons = {path.name: reason for path, reason in report.skipped}
    assert set(reasons) == {"broken.h2p", "empty.h2p"}
    assert reasons["broken.h2p"].startswith("line 3: VCF1/Freq")
    assert "5 presets read, 2 skipped" in report.summary()


def test_import_of_a_missing_folder_reports_it(tmp_path: Path) -> None:
    report = import_h2p_folder(tmp_path / "nope")
    assert report.presets == [] and report.skipped == [(tmp_path / "nope", "not a folder")]


def test_docstring_examples() -> None:
    for module in (diva_template, h2p, h2p_writer, library, names):
        assert doctest.testmod(module).failed == 0, module.__name__
