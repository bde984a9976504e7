"""Write complete u-he Diva presets from FlowSynth's synth parameters.

Every section and key Diva writes comes from the template (``resources/diva_template.json``);
the synth parameters overwrite it at their (section, key), in native units, rounded to Diva's
two decimals and clipped to the synth's ranges. No binary tail is ever written: Diva loads files
without it, and a tail copied from another preset can crash it.

Effects. The synth has one chorus, one delay and one plate reverb; Diva has two effect slots (FX1,
FX2), each loading one module that reads its own section (Chorus1 -> Chrs1, Delay2 -> Delay2, ...).
The template copies the delay into both delay sections and completes both plate sections with
the other's values (the synth's plate spans Plate1 and Plate2), so either slot plays the whole
effect. :func:`choose_fx_modules` then loads the active effects (wet > 0) in the engine's chain
order (``synth/fx_kernel.py``: drive -> chorus -> plate -> delay): the chorus always goes to FX1
when active (its parameters live in Chrs1, which only FX1 reads); with all three active, the
weaker of plate and delay is dropped (Diva has no third slot). The engine's drive (Rtary1: Drive,
a substitute) has no Diva slot of its own and is not loaded.
An empty slot loads a chorus at Wet 0 (Chrs1's wet is the synth's, 0 when inactive; Chrs2's is 0
in the template), which passes the sound through unchanged.

>>> choose_fx_modules({"Chrs1: Wet": 0.3, "Plate1: Wet": 0.2})
FxChoice(fx1='Chorus1', fx2='Plate2', dropped=())
>>> choose_fx_modules({"Plate1: Wet": 0.2, "Delay1: Wet": 0.4})
FxChoice(fx1='Plate1', fx2='Delay2', dropped=())
>>> choose_fx_modules({})
FxChoice(fx1='Chorus1', fx2='Chorus2', dropped=())
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from flowsynth_gui.fileio import atomic_write_bytes
from flowsynth_gui.presets.diva_template import DivaTemplate, format_value, load_diva_template
from flowsynth_gui.presets.names import sanitise_preset_name
from flowsynth_gui.synth.params import ParamSpec, all_specs, normalised_vector, param_index

__all__ = ["FxChoice", "choose_fx_modules", "format_h2p", "h2p_target_path", "write_h2p"]

_WET = {"chorus": "Chrs1: Wet", "delay": "Delay1: Wet", "plate": "Plate1: Wet"}
_CHAIN = ("chorus", "plate", "delay")  # the engine's order, synth/fx_kernel.py
_MODULES = {"chorus": ("Chorus1", "Chorus2"), "delay": ("Delay1", "Delay2"),
            "plate": ("Plate1", "Plate2")}
# Typographic quotes have no ASCII decomposition; map them before '?' replaces them.
_QUOTES = str.maketrans({"\u2018": "`", "\u2019": "`", "\u201a": "`", "\u2032": "`",
                         "\u201c": '"', "\u201d": '"', "\u201e": '"'})
_TAIL_COMMENT = ["", "", "// Section for ugly compressed binary Data", "// DON'T TOUCH THIS", ""]

Values = dict[str, dict[str, float | int | str]]


@dataclass(frozen=True)
class FxChoice:
    """The Diva modules loaded in FX1 and FX2, and the active effects that did not fit."""

    fx1: str
    fx2: str
    dropped: tuple[str, ...] = ()


def choose_fx_modules(parameters: Mapping[str, float]) -> FxChoice:
    """Pick Diva's FX1/FX2 modules for normalised synth parameters (see the module docstring)."""
    vector = normalised_vector(parameters)
    wet = {fx: float(vector[param_index(name)]) for fx, name in _WET.items()}
    active = [fx for fx in _CHAIN if wet[fx] > 0.0]
    dropped: tuple[str, ...] = ()
    if len(active) > 2:
        weaker = min(("delay", "plate"), key=wet.__getitem__)  # a tie drops the delay (last)
        active.remove(weaker)
        dropped = (weaker,)
    fx1 = _MODULES[active[0]][0] if active else "Chorus1"
    fx2 = _MODULES[active[1]][1] if len(active) > 1 else "Chorus2"
    return FxChoice(fx1, fx2, dropped)


def _native(spec: ParamSpec, x: float) -> float:
    """Normalised -> native, rounded as Diva writes it, never outside the synth's range."""
    return min(spec.max, max(spec.min, round(spec.to_native(x), 2)))


def _preset_values(template: DivaTemplate, parameters: Mapping[str, float]) -> Values:
    values: Values = template.defaults()
    for spec, x in zip(all_specs(), normalised_vector(parameters), strict=True):
        values[spec.section][spec.key] = _native(spec, float(x))
    # Copies are resolved in file order; the template guarantees each source is final by then.
    for section, keys in template.sections:
        for entry in keys:
            if entry.copy_from is not None:
                source_section, source_key = entry.copy_from
                values[section][entry.key] = values[source_section][source_key]
    fx = choose_fx_modules(parameters)
    values["FX1"]["Module"], values["FX2"]["Module"] = fx.fx1, fx.fx2
    return values


def _check_ranges(values: Values) -> None:
    """Last line of defence: a synth value outside its native range is a bug, never written."""
    for spec in all_specs():
        value = float(values[spec.section][spec.key])
        if not spec.min <= value <= spec.max:
            raise RuntimeError(f"{spec.name} = {value} outside [{spec.min}, {spec.max}]")


def _meta_text(value: object) -> str:
    """Metadata as plain ASCII on one line without single quotes, which would end the value
    (the format has no escapes, and ASCII reads the same whether Diva assumes Latin-1 or UTF-8)."""
    text = unicodedata.normalize("NFKD", str(value).translate(_QUOTES))
    text = "".join(c for c in text if not unicodedata.combining(c)).replace("'", "`")
    text = " ".join(text.split())
    return text.encode("ascii", errors="replace").decode("ascii")


def _meta_list(items: Iterable[str], what: str) -> str:
    if isinstance(items, str):
        raise TypeError(f"{what} must be a list of strings, not one string: {items!r}")
    cleaned = [_meta_text(item) for item in items]
    for item in cleaned:
        if "," in item:
            raise ValueError(f"{what} entry {item!r} contains a comma; Diva separates entries "
                             "with commas, so pass each entry separately")
    return ", ".join(item for item in cleaned if item)


def _meta_lines(entries: list[tuple[str, str]]) -> list[str]:
    lines = ["/*@Meta", ""]
    for key, text in entries:
        lines += [f"{key}:", f"'{text}'", ""]
    return lines + ["*/", ""]


def format_h2p(parameters: Mapping[str, float], *, author: str = "", description: str = "",
               categories: Iterable[str] = (), character: Iterable[str] = (),
               bank: str = "FlowSynth") -> str:
    """The text of a complete Diva preset (see :func:`write_h2p`)."""
    template = load_diva_template()
    values = _preset_values(template, parameters)
    _check_ranges(values)
    meta = [("Bank", _meta_text(bank)), ("Author", _meta_text(author)),
            ("Description", _meta_text(description))]
    # Diva omits empty list entries (see diva_saved_bass.h2p), so do we.
    for key, items in (("Categories", categories), ("Character", character)):
        if text := _meta_list(items, key):
            meta.append((key, text))
    lines = _meta_lines(meta) + template.header_lines()
    for section, keys in template.sections:
        lines.append(f"#cm={section}")
        lines += [f"{k.key}={format_value(k.kind, values[section][k.key])}" for k in keys]
    return "\n".join(lines + _TAIL_COMMENT) + "\n"


def h2p_target_path(path: str | os.PathLike[str]) -> Path:
    """Where :func:`write_h2p` writes: same folder, sanitised stem, ``.h2p`` extension."""
    path = Path(path)
    stem = path.name[:-4] if path.name.casefold().endswith(".h2p") else path.name
    return path.parent / f"{sanitise_preset_name(stem)}.h2p"


def write_h2p(path: str | os.PathLike[str], parameters: Mapping[str, float], *,
              author: str = "", description: str = "", categories: Iterable[str] = (),
              character: Iterable[str] = (), bank: str = "FlowSynth") -> Path:
    """Write a complete Diva preset atomically and return its path.

    ``parameters`` are normalised synth values by name (any subset: the 16/32/64 sets or more;
    the rest sit at their defaults); invalid names or values raise ``ParameterError``. The
    preset name is the file name, sanitised for every OS (see :func:`h2p_target_path`).
    """
    target = h2p_target_path(path)
    text = format_h2p(parameters, author=author, description=description,
                      categories=categories, character=character, bank=bank)
    atomic_write_bytes(target, text.encode("ascii"))
    return target
