"""The Diva preset template: every section and key Diva writes, in order, with defaults.

The data lives in ``resources/diva_template.json`` (how each default was chosen is recorded there,
key by key). This module loads it once, checks it against the synth's parameter specs, and formats
values the way Diva does.

>>> template = load_diva_template()
>>> len(template.sections)
29
>>> format_value("continuous", -0.001), format_value("switch", 3), format_value("string", "Plate1")
('0.00', '3', "'Plate1'")
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from flowsynth_gui.paths import RESOURCES_DIR
from flowsynth_gui.synth.params import all_specs

__all__ = [
    "KINDS",
    "TEMPLATE_FILE",
    "DivaTemplate",
    "TemplateKey",
    "format_value",
    "load_diva_template",
]

TEMPLATE_FILE = RESOURCES_DIR / "diva_template.json"
KINDS = ("continuous", "switch", "string")

Value = float | int | str


@dataclass(frozen=True)
class TemplateKey:
    """One ``Key=Value`` line of a Diva section: its format type and default value."""

    key: str
    kind: str
    default: Value
    copy_from: tuple[str, str] | None = None


@dataclass(frozen=True)
class DivaTemplate:
    """Header values and the ordered sections of a complete Diva preset."""

    version: str
    endian: str
    mod_sources: tuple[str, ...]
    mv: tuple[str, ...]
    sections: tuple[tuple[str, tuple[TemplateKey, ...]], ...]

    def defaults(self) -> dict[str, dict[str, Value]]:
        """A fresh, mutable ``section -> key -> default`` mapping in Diva's order."""
        return {name: {k.key: k.default for k in keys} for name, keys in self.sections}

    def kind(self, section: str, key: str) -> str:
        for name, keys in self.sections:
            if name == section:
                for entry in keys:
                    if entry.key == key:
                        return entry.kind
        raise KeyError(f"{section}/{key} is not in the Diva template")

    def header_lines(self) -> list[str]:
        """The header lines exactly as Diva writes them."""
        lines = ["#AM=Diva", f"#Vers={self.version}", f"#Endian={self.endian}"]
        lines.append(f"#nm={len(self.mod_sources)}")
        lines += [f"#ms={source}" for source in self.mod_sources]
        lines.append(f"#nv={len(self.mv)}")
        lines += [f"#mv={entry}" for entry in self.mv]
        return lines


def format_value(kind: str, value: Value) -> str:
    """Format a value as Diva writes it: two decimals, an integer, or a single-quoted string."""
    if kind == "continuous":
        text = f"{float(value):.2f}"
        return "0.00" if text == "-0.00" else text  # Diva never writes a negative zero
    if kind == "switch":
        return str(int(value))
    if kind == "string":
        return f"'{value}'"
    raise ValueError(f"unknown value kind {kind!r}; expected one of {KINDS}")


class _TemplateError(RuntimeError):
    pass


def _checked_key(section: str, raw: dict) -> TemplateKey:
    key, kind, default = raw["key"], raw["type"], raw["default"]
    where = f"{TEMPLATE_FILE.name}: {section}/{key}"
    if kind not in KINDS:
        raise _TemplateError(f"{where}: unknown type {kind!r}")
    if kind == "continuous" and not (isinstance(default, float) and math.isfinite(default)):
        raise _TemplateError(f"{where}: a continuous default must be a finite float")
    if kind == "switch" and (isinstance(default, bool) or not isinstance(default, int)):
        raise _TemplateError(f"{where}: a switch default must be an integer")
    if kind == "string" and (not isinstance(default, str) or "'" in default or "\n" in default):
        raise _TemplateError(f"{where}: a string default must be text without quotes")
    copy = tuple(raw["copy_from"]) if "copy_from" in raw else None
    return TemplateKey(key, kind, default, copy)  # type: ignore[arg-type]


def _check_consistency(template: DivaTemplate) -> None:
    """Every synth parameter must have a continuous slot; copies must read earlier values."""
    seen: set[tuple[str, str]] = set()
    spec_slots = {(s.section, s.key) for s in all_specs()}
    for section, keys in template.sections:
        for entry in keys:
            copy = entry.copy_from
            # The writer resolves copies in file order: a source is final once written.
            if copy is not None and copy not in seen and copy not in spec_slots:
                raise _TemplateError(f"{section}/{entry.key} copies {copy}, not yet written")
            seen.add((section, entry.key))
    for slot in spec_slots:
        if slot not in seen:
            raise _TemplateError(f"synth parameter slot {slot[0]}/{slot[1]} missing from template")
        if template.kind(*slot) != "continuous":
            raise _TemplateError(f"synth parameter slot {slot[0]}/{slot[1]} is not continuous")


def _parse_template(path: Path) -> DivaTemplate:
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("format") != "flowsynth-diva-template" or data.get("format_version") != 1:
        raise _TemplateError(f"{path.name}: not a version-1 FlowSynth Diva template")
    sections = []
    for raw_section in data["sections"]:
        name = raw_section["section"]
        keys = tuple(_checked_key(name, raw) for raw in raw_section["keys"])
        if len({k.key for k in keys}) != len(keys):
            raise _TemplateError(f"{path.name}: duplicate key in section {name}")
        sections.append((name, keys))
    if len({name for name, _ in sections}) != len(sections):
        raise _TemplateError(f"{path.name}: duplicate section")
    header = data["header"]
    template = DivaTemplate(str(header["Vers"]), str(header["Endian"]), tuple(header["ms"]),
                            tuple(header["mv"]), tuple(sections))
    _check_consistency(template)
    return template


@cache
def load_diva_template() -> DivaTemplate:
    """The template from ``resources/diva_template.json``, checked against the synth specs."""
    try:
        return _parse_template(TEMPLATE_FILE)
    except (OSError, ValueError, KeyError, TypeError, _TemplateError) as err:
        raise RuntimeError(f"the Diva template {TEMPLATE_FILE} is broken: {err}") from err
