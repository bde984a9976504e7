"""FlowSynth's own preset format (JSON) and the preset library folder."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from flowsynth_gui.presets.h2p import read_h2p
from flowsynth_gui.presets.library import (
    FAVOURITES_FILE,
    PRESET_SUFFIX,
    Preset,
    PresetExistsError,
    PresetFormatError,
    PresetLibrary,
    PresetNotFoundError,
)
from flowsynth_gui.synth.params import spec_version

DATA = Path(__file__).parent / "data" / "h2p"


def _preset(name: str = "Warm pad", cutoff: float = 0.4) -> Preset:
    return Preset(name, {"VCF1: Frequency": cutoff, "ENV1: Attack": 0.0}, tags=["Soft"],
                  latent=[0.5, -1.25], author="Ann", description="soft",
                  created="2025-01-02T03:04:05+00:00")


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ------------------------------------------------------------------------------------ preset JSON

def test_preset_json_round_trip() -> None:
    preset = _preset()
    data = json.loads(preset.to_json())
    assert data == {"format": "flowsynth-preset", "format_version": 1, "name": "Warm pad",
                    "synth": spec_version(),
                    "parameters": {"VCF1: Frequency": 0.4, "ENV1: Attack": 0.0},
                    "tags": ["Soft"], "latent": [0.5, -1.25], "author": "Ann",
                    "description": "soft", "created": "2025-01-02T03:04:05+00:00"}
    assert Preset.from_json(preset.to_json()) == preset
    bare = Preset("Bare", {})
    assert Preset.from_json(bare.to_json()) == bare and bare.latent is None and bare.created


def _doc(**changes: object) -> str:
    data = json.loads(_preset().to_json())
    for key, value in changes.items():
        if value is KeyError:
            del data[key]
        else:
            data[key] = value
    return json.dumps(data)


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "one JSON object"),
    (_doc(parameters=KeyError), "missing 'parameters'"),
    (_doc(format="vital-preset"), "not a FlowSynth preset"),
    (_doc(format_version=2), "update FlowSynth"),
    (_doc(format_version="1"), "damaged file"),
    (_doc(synth="flowsynth-diva/0"), "its values would mean other sounds"),
    (_doc(parameters={"VCF1: Frequenz": 0.5}), "Did you mean 'VCF1: Frequency'"),
    (_doc(parameters={"VCF1: Frequency": 1.5}), "outside [0, 1]"),
    (_doc(parameters={"VCF1: Frequency": -0.1}), "outside [0, 1]"),
    (_doc(parameters={"VCF1: Frequency": math.nan}), "outside [0, 1]"),
    (_doc(parameters={"VCF1: Frequency": "0.5"}), "not a number"),
    (_doc(parameters={"VCF1: Frequency": True}), "not a number"),
    (_doc(parameters=[0.5]), "object of name -> value"),
    (_doc(latent=[0.0, math.inf]), "finite numbers"),
    (_doc(latent="0.5"), "finite numbers"),
    (_doc(tags="Soft"), "list of strings"),
    (_doc(tags=[""]), "non-empty string"),
    (_doc(name=""), "non-empty name"),
    (_doc(author=None), "'author' must be a string"),
])
def test_bad_preset_json_gives_an_actionable_error(text: str, message: str) -> None:
    with pytest.raises(PresetFormatError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Preset.from_json(text)


def test_bad_values_are_refused_in_code_too() -> None:
    with pytest.raises(PresetFormatError, match="outside"):
        Preset("x", {"VCF1: Frequency": 2.0})
    assert issubclass(PresetFormatError, ValueError)


def test_preset_from_a_diva_file() -> None:
    h2p = read_h2p(DATA / "diva_saved_arp.h2p")
    preset = Preset.from_h2p(h2p)
    assert preset.name == "diva_saved_arp" and preset.tags == ["Soft", "Modern"]
    assert preset.parameters == h2p.parameters() and preset.author == "Random Generator"


# ---------------------------------------------------------------------------------------- library

def test_save_list_load_delete(tmp_path: Path) -> None:
    lib = PresetLibrary(tmp_path / "presets")
    assert lib.list() == []
    path = lib.save(_preset("b pad"))
    lib.save(_preset("A lead"))
    assert path == tmp_path / "presets" / f"b pad{PRESET_SUFFIX}"
    assert lib.list() == ["A lead", "b pad"] and "B PAD" in lib
    assert lib.load("b pad") == _preset("b pad")
    lib.delete("b pad")
    assert lib.list() == ["A lead"]
    with pytest.raises(PresetNotFoundError):
        lib.load("b pad")


def test_names_are_sanitised_and_collisions_refused(tmp_path: Path) -> None:
    lib = PresetLibrary(tmp_path)
    assert lib.save(_preset("Bass/Sub: 1")).name == f"Bass-Sub- 1{PRESET_SUFFIX}"
    lib.save(_preset("Bass", 0.1))
    with pytest.raises(PresetExistsError, match="'Bass 2'"):
        lib.save(_preset("Bass", 0.9))
    with pytest.raises(PresetExistsError):
        lib.save(_preset("bass", 0.9))  # one file on case-insensitive disks: a collision too
    assert lib.load("Bass").parameters["VCF1: Frequency"] == 0.1
    lib.save(_preset("bass", 0.9), overwrite=True)
    assert lib.list() == ["bass", "Bass-Sub- 1"]
    assert lib.load("bass").parameters["VCF1: Frequency"] == 0.9
    assert lib.unique_name("Bass") == "Bass 2"


def test_save_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lib = PresetLibrary(tmp_path)
    path = lib.save(_preset("Keep", 0.25))
    before = path.read_bytes()

    def crash_midway(self: Path, data: bytes) -> int:
        with open(self, "wb") as handle:
            handle.write(data[: len(data) // 2])  # half the new preset reaches the disk...
        raise OSError("power cut")  # ...then the write dies

    monkeypatch.setattr(Path, "write_bytes", crash_midway)
    with pytest.raises(OSError, match="power cut"):
        lib.save(_preset("Keep", 0.75), overwrite=True)
    monkeypatch.undo()
    assert path.read_bytes() == before  # the old preset is intact
    assert _files(tmp_path) == [path.name]  # and no temporary file is left behind
    assert lib.load("Keep").parameters["VCF1: Frequency"] == 0.25


def test_favourites_persist(tmp_path: Path) -> None:
    lib = PresetLibrary(tmp_path)
    for name in ("One", "Two", "Three"):
        lib.save(_preset(name))
    lib.set_favourite("Two")
    lib.set_favourite("one")
    lib.set_favourite("Three")
    lib.set_favourite("Three", False)
    again = PresetLibrary(tmp_path)
    assert again.favourites() == ["Two", "One"] and again.is_favourite("TWO")
    assert not again.is_favourite("Three")
    assert FAVOURITES_FILE in _files(tmp_path) and "Two" in again.list()
    assert all(not n.endswith(".tmp") for n in _files(tmp_path))
    again.delete("Two")
    assert PresetLibrary(tmp_path).favourites() == ["One"]
    with pytest.raises(PresetNotFoundError):
        lib.set_favourite("Nope")


def test_damaged_favourites_file_does_not_lock_the_library(tmp_path: Path) -> None:
    lib = PresetLibrary(tmp_path)
    lib.save(_preset("One"))
    (tmp_path / FAVOURITES_FILE).write_text("{broken")
    assert lib.favourites() == []
    lib.set_favourite("One")
    assert lib.favourites() == ["One"]


def test_rename(tmp_path: Path) -> None:
    lib = PresetLibrary(tmp_path)
    lib.save(_preset("Old"))
    lib.save(_preset("Other"))
    lib.set_favourite("Old")
    assert lib.rename("Old", "New: v2") == "New- v2"
    assert lib.list() == ["New- v2", "Other"] and lib.favourites() == ["New- v2"]
    assert lib.load("New- v2").name == "New- v2"
    assert json.loads((tmp_path / f"New- v2{PRESET_SUFFIX}").read_text())["name"] == "New- v2"
    with pytest.raises(PresetExistsError):
        lib.rename("New- v2", "other")
    assert lib.rename("New- v2", "NEW- V2") == "NEW- V2"  # only the letter case changes
    assert lib.list() == ["NEW- V2", "Other"] and lib.favourites() == ["NEW- V2"]
    lib.rename("NEW- V2", "Other", overwrite=True)
    assert lib.list() == ["Other"] and lib.favourites() == ["Other"]


def test_load_reports_a_damaged_file_by_path(tmp_path: Path) -> None:
    lib = PresetLibrary(tmp_path)
    path = lib.save(_preset("Fine"))
    path.write_text(path.read_text().replace('"flowsynth-preset"', '"other"'))
    with pytest.raises(PresetFormatError, match=f"{path}: format is 'other'"):
        lib.load("Fine")
    (tmp_path / f"Renamed{PRESET_SUFFIX}").write_text(_preset("Old name").to_json())
    assert lib.load("renamed").name == "Renamed"  # the file name is the preset name
