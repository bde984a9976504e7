"""FlowSynth's own presets (JSON) and the folder that holds them.

A preset file ``<name>.fspreset`` holds::

    {"format": "flowsynth-preset", "format_version": 1, "name": ..., "synth": spec_version(),
     "parameters": {name: normalised value in [0, 1]}, "tags": [...], "latent": [floats] | null,
     "author": ..., "description": ..., "created": ISO 8601}

Every write is atomic (a crash mid-save leaves the previous file intact), and saving never
overwrites another preset unless asked.

>>> preset = Preset("Warm pad", {"VCF1: Frequency": 0.4}, tags=["Soft"])
>>> Preset.from_json(preset.to_json()).parameters
{'VCF1: Frequency': 0.4}
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from flowsynth_gui.fileio import atomic_write_text
from flowsynth_gui.presets.h2p import H2pPreset
from flowsynth_gui.presets.names import sanitise_preset_name
from flowsynth_gui.synth.params import ParameterError, param_index, spec_version

__all__ = [
    "FAVOURITES_FILE",
    "FORMAT",
    "FORMAT_VERSION",
    "PRESET_SUFFIX",
    "Preset",
    "PresetExistsError",
    "PresetFormatError",
    "PresetLibrary",
    "PresetNotFoundError",
]

FORMAT = "flowsynth-preset"
FORMAT_VERSION = 1
PRESET_SUFFIX = ".fspreset"
FAVOURITES_FILE = ".favourites.json"  # a leading dot: never a sanitised preset name
_REQUIRED = ("format", "format_version", "name", "synth", "parameters")


class PresetFormatError(ValueError):
    """A preset that FlowSynth cannot use; the message says what is wrong and what to do."""


class PresetExistsError(FileExistsError):
    """Saving or renaming would overwrite another preset."""


class PresetNotFoundError(FileNotFoundError):
    """No preset of that name in the library."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _checked_parameters(parameters: Mapping[str, object]) -> dict[str, float]:
    if not isinstance(parameters, Mapping):
        raise PresetFormatError("'parameters' must be an object of name -> value")
    checked = {}
    for name, value in parameters.items():
        try:
            param_index(name)
        except ParameterError as err:
            raise PresetFormatError(str(err)) from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PresetFormatError(f"parameter {name!r}: {value!r} is not a number")
        if not 0.0 <= value <= 1.0:  # also rejects NaN
            raise PresetFormatError(f"parameter {name!r} = {value} is outside [0, 1]: preset "
                                    "values are normalised; re-save the preset from FlowSynth")
        checked[name] = float(value)
    return checked


def _checked_strings(items: object, what: str) -> list[str]:
    if isinstance(items, str) or not isinstance(items, list | tuple):
        raise PresetFormatError(f"'{what}' must be a list of strings")
    if not all(isinstance(item, str) and item for item in items):
        raise PresetFormatError(f"every entry of '{what}' must be a non-empty string")
    return list(items)


def _checked_latent(latent: object) -> list[float] | None:
    if latent is None:
        return None
    if not isinstance(latent, list | tuple) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in latent):
        raise PresetFormatError("'latent' must be a list of finite numbers or null")
    return [float(v) for v in latent]


@dataclass
class Preset:
    """A FlowSynth preset: normalised synth parameters by name (the rest at their defaults)."""

    name: str
    parameters: dict[str, float]
    tags: list[str] = field(default_factory=list)
    latent: list[float] | None = None
    author: str = ""
    description: str = ""
    created: str = field(default_factory=_now)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise PresetFormatError("a preset needs a non-empty name")
        for what in ("author", "description", "created"):
            if not isinstance(getattr(self, what), str):
                raise PresetFormatError(f"'{what}' must be a string")
        self.parameters = _checked_parameters(self.parameters)
        self.tags = _checked_strings(self.tags, "tags")
        self.latent = _checked_latent(self.latent)

    def to_dict(self) -> dict[str, object]:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "name": self.name,
                "synth": spec_version(), "parameters": dict(self.parameters),
                "tags": list(self.tags), "latent": self.latent, "author": self.author,
                "description": self.description, "created": self.created}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: object) -> Preset:
        """Validate a decoded preset; unknown top-level keys are ignored (forward compatible)."""
        if not isinstance(data, dict):
            raise PresetFormatError("a preset file holds one JSON object")
        _check_envelope(data)
        return cls(data["name"], data["parameters"], data.get("tags", []), data.get("latent"),
                   data.get("author", ""), data.get("description", ""),
                   data.get("created", ""))

    @classmethod
    def from_json(cls, text: str | bytes) -> Preset:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise PresetFormatError(f"not valid JSON: {err}") from None
        return cls.from_dict(data)

    @classmethod
    def from_h2p(cls, h2p: H2pPreset) -> Preset:
        """A FlowSynth preset from an imported Diva preset (its synth parameters and tags)."""
        return cls(h2p.name, h2p.parameters(), h2p.character_tags(),
                   author=h2p.metadata.get("Author", ""),
                   description=h2p.metadata.get("Description", ""))


def _check_envelope(data: dict) -> None:
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise PresetFormatError(f"missing {', '.join(repr(k) for k in missing)}: not a "
                                "FlowSynth preset, or a damaged one")
    if data["format"] != FORMAT:
        raise PresetFormatError(f"format is {data['format']!r}, expected {FORMAT!r}: "
                                "not a FlowSynth preset (import Diva presets as .h2p)")
    version = data["format_version"]
    if version != FORMAT_VERSION:
        hint = "update FlowSynth" if isinstance(version, int) and version > 1 else "damaged file"
        raise PresetFormatError(f"format_version {version!r} is not {FORMAT_VERSION}: {hint}")
    if data["synth"] != spec_version():
        raise PresetFormatError(f"made for synth {data['synth']!r}, this FlowSynth runs "
                                f"{spec_version()!r}: its values would mean other sounds")


class PresetLibrary:
    """A folder of FlowSynth presets, one ``<name>.fspreset`` file each, plus favourites."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)

    # -- names and paths
    def path_for(self, name: str) -> Path:
        return self.folder / f"{sanitise_preset_name(name)}{PRESET_SUFFIX}"

    def _files(self) -> Iterator[Path]:
        if self.folder.is_dir():
            yield from (p for p in self.folder.iterdir()
                        if p.suffix == PRESET_SUFFIX and p.is_file() and not p.name.startswith("."))

    def list(self) -> list[str]:
        """Preset names, sorted case-insensitively."""
        return sorted((p.stem for p in self._files()), key=str.casefold)

    def _existing(self, name: str) -> str | None:
        """The stored name matching ``name`` ignoring case (macOS and Windows ignore it too)."""
        wanted = sanitise_preset_name(name).casefold()
        return next((n for n in self.list() if n.casefold() == wanted), None)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._existing(name) is not None

    def unique_name(self, name: str) -> str:
        """``name``, or ``name 2``, ``name 3``... whichever is free."""
        base = sanitise_preset_name(name)
        candidate, number = base, 2
        while candidate in self:
            candidate, number = f"{base} {number}", number + 1
        return candidate

    # -- presets
    def save(self, preset: Preset, *, overwrite: bool = False) -> Path:
        """Store ``preset`` under its (sanitised) name, atomically; returns the file.

        Raises :class:`PresetExistsError` if another preset has that name, unless ``overwrite``.
        """
        name = sanitise_preset_name(preset.name)
        existing = self._existing(name)
        if existing is not None and not overwrite:
            raise PresetExistsError(f"a preset named {existing!r} exists; save with "
                                    f"overwrite=True or as {self.unique_name(name)!r}")
        path = self.path_for(name)
        if existing is not None and existing != name:
            # Only the letter case differs: rename first (deleting the old name would delete
            # the file itself on a case-insensitive disk), then write the new content.
            os.replace(self.path_for(existing), path)
        atomic_write_text(path, replace(preset, name=name).to_json())
        return path

    def load(self, name: str) -> Preset:
        """The preset called ``name``; its name is the file's (the user may have renamed it)."""
        existing = self._existing(name)
        if existing is None:
            raise PresetNotFoundError(f"no preset named {name!r} in {self.folder}")
        path = self.path_for(existing)
        try:
            preset = Preset.from_json(path.read_bytes())
        except PresetFormatError as err:
            raise PresetFormatError(f"{path}: {err}") from None
        return replace(preset, name=existing)

    def delete(self, name: str) -> None:
        existing = self._existing(name)
        if existing is None:
            raise PresetNotFoundError(f"no preset named {name!r} in {self.folder}")
        self.path_for(existing).unlink()
        self._write_favourites([f for f in self._read_favourites() if f != existing])

    def rename(self, old: str, new: str, *, overwrite: bool = False) -> str:
        """Rename a preset (file and stored name) and keep it a favourite; returns the new name."""
        preset = self.load(old)
        new_name = sanitise_preset_name(new)
        same = preset.name.casefold() == new_name.casefold()
        if not same and new_name in self and not overwrite:
            raise PresetExistsError(f"a preset named {new_name!r} exists; rename with "
                                    "overwrite=True or choose another name")
        self.save(replace(preset, name=new_name), overwrite=True)  # new file complete first
        if not same:
            self.path_for(preset.name).unlink()
        favourites = self._read_favourites()
        if preset.name in favourites:
            self._write_favourites([new_name if f == preset.name else f for f in favourites])
        return new_name

    # -- favourites
    @property
    def _favourites_path(self) -> Path:
        return self.folder / FAVOURITES_FILE

    def _read_favourites(self) -> list[str]:
        # A damaged favourites file must not lock the user out of the library: start afresh.
        try:
            data = json.loads(self._favourites_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        names = data.get("favourites") if isinstance(data, dict) else None
        return [n for n in names if isinstance(n, str)] if isinstance(names, list) else []

    def _write_favourites(self, names: list[str]) -> None:
        unique = list(dict.fromkeys(names))
        data = {"format": "flowsynth-favourites", "format_version": 1, "favourites": unique}
        atomic_write_text(self._favourites_path, json.dumps(data, indent=1) + "\n")

    def favourites(self) -> list[str]:
        """Favourite presets that still exist, in the order they were marked."""
        stored = set(self.list())
        return [name for name in self._read_favourites() if name in stored]

    def is_favourite(self, name: str) -> bool:
        existing = self._existing(name)
        return existing is not None and existing in self._read_favourites()

    def set_favourite(self, name: str, favourite: bool = True) -> None:
        existing = self._existing(name)
        if existing is None:
            raise PresetNotFoundError(f"no preset named {name!r} in {self.folder}")
        names = [n for n in self._read_favourites() if n != existing]
        self._write_favourites(names + [existing] if favourite else names)
