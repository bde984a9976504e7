"""Parameter specs of the Diva-shaped synth, loaded from ``resources/synth_params.json``.

Every parameter has one spec: name, Diva section and key, native range and unit, curve and
default. Normalised values in [0, 1] map linearly to native units, as Diva's own automation does;
how the engine reads a native value is documented in each spec's ``dsp`` field.

>>> spec = spec_by_name("VCF1: Frequency")
>>> spec.to_native(0.5)
90.0
>>> round(spec.to_normalised(90.0), 6)
0.5
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from flowsynth_gui.paths import RESOURCES_DIR

__all__ = [
    "ParamSpec",
    "ParameterError",
    "SPEC_FILE",
    "all_specs",
    "param_names",
    "param_index",
    "param_set",
    "spec_by_name",
    "spec_version",
    "default_vector",
    "normalised_vector",
    "native_vector",
    "vector_to_mapping",
    "SET_SIZES",
]

SPEC_FILE = RESOURCES_DIR / "synth_params.json"
SET_SIZES = (16, 32, 64)


class ParameterError(ValueError):
    """A parameter name or value the synth cannot use; the message says what to do."""


@dataclass(frozen=True)
class ParamSpec:
    name: str
    section: str
    key: str
    min: float
    max: float
    default: float
    unit: str
    curve: str
    dsp: str
    substitute: str | None = None

    @property
    def default_normalised(self) -> float:
        return self.to_normalised(self.default)

    def to_native(self, x: float) -> float:
        """Normalised [0, 1] -> native units (linear, as Diva's automation)."""
        return self.min + float(x) * (self.max - self.min)

    def to_normalised(self, value: float) -> float:
        """Native units -> normalised [0, 1], clipped to the native range."""
        x = (float(value) - self.min) / (self.max - self.min)
        return min(1.0, max(0.0, x))


def _load_spec_file(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise RuntimeError(f"cannot read the synth parameter specs {path}: {err}") from err


@cache
def _spec_data() -> dict:
    data = _load_spec_file(SPEC_FILE)
    for entry in data["parameters"]:
        if entry["curve"] != "linear":
            raise RuntimeError(f"{SPEC_FILE}: unsupported curve {entry['curve']!r}")
    return data


@cache
def all_specs() -> tuple[ParamSpec, ...]:
    """Every parameter spec, in engine order (the order of the spec file)."""
    return tuple(ParamSpec(**entry) for entry in _spec_data()["parameters"])


@cache
def param_names() -> tuple[str, ...]:
    return tuple(spec.name for spec in all_specs())


@cache
def _index_by_name() -> dict[str, int]:
    return {name: i for i, name in enumerate(param_names())}


def spec_version() -> str:
    """Identifies the synth and its parameter specs; checkpoints and datasets record it."""
    data = _spec_data()
    return f"{data['synth']}/{data['spec_version']}"


def _unknown_name_error(name: str) -> ParameterError:
    close = difflib.get_close_matches(str(name), param_names(), n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return ParameterError(
        f"unknown synth parameter {name!r}.{hint} "
        f"Names look like 'VCF1: Frequency'; see {SPEC_FILE.name} for the full list."
    )


def param_index(name: str) -> int:
    try:
        return _index_by_name()[name]
    except KeyError:
        raise _unknown_name_error(name) from None


def spec_by_name(name: str) -> ParamSpec:
    return all_specs()[param_index(name)]


def param_set(size: int | str) -> tuple[str, ...]:
    """The paper's 16-, 32- or 64-parameter set, sorted alphabetically as in the reference code."""
    sets = _spec_data()["sets"]
    key = str(size)
    if key not in sets:
        raise ParameterError(
            f"no {size}-parameter set; choose one of {', '.join(sorted(sets, key=int))}"
        )
    return tuple(sets[key])


@cache
def _default_vector() -> np.ndarray:
    vector = np.array([spec.default_normalised for spec in all_specs()], dtype=np.float64)
    vector.setflags(write=False)
    return vector


def default_vector() -> np.ndarray:
    """Normalised values of the default patch, one per parameter in engine order (a copy)."""
    return _default_vector().copy()


def _checked_value(name: str, value: object) -> float:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ParameterError(f"parameter {name!r}: {value!r} is not a number") from None
    if math.isnan(x):
        raise ParameterError(f"parameter {name!r} is NaN; give a value in [0, 1]")
    if not 0.0 <= x <= 1.0:
        raise ParameterError(
            f"parameter {name!r} = {x:g} is outside [0, 1]; values are normalised "
            f"(convert native units with spec_by_name({name!r}).to_normalised)"
        )
    return x


def init_patch() -> dict[str, float]:
    """The neutral starting sound, as normalised values that differ from the defaults: a
    plain, steady saw through the open filter (the defaults modulate nothing, but their wave
    is halfway between triangle and saw)."""
    shape = spec_by_name("OSC: Shape1")
    return {"OSC: Shape1": (20.0 / 3.0 - shape.min) / (shape.max - shape.min)}


def normalised_vector(params: Mapping[str, float] | None = None) -> np.ndarray:
    """A full normalised vector in engine order: the given values, defaults for the rest."""
    vector = default_vector()
    for name, value in (params or {}).items():
        vector[param_index(name)] = _checked_value(name, value)
    return vector


def native_vector(normalised: np.ndarray) -> np.ndarray:
    """Full normalised vector(s) in spec order (last axis) -> native units, as the engine reads
    them."""
    specs = all_specs()
    lows = np.array([s.min for s in specs])
    highs = np.array([s.max for s in specs])
    return lows + np.asarray(normalised, dtype=np.float64) * (highs - lows)


def vector_to_mapping(values: Iterable[float], names: Iterable[str]) -> dict[str, float]:
    """Pair values with names (e.g. a model's output with its parameter set), validating both."""
    names = tuple(names)
    values = [float(v) for v in values]
    if len(values) != len(names):
        raise ParameterError(f"{len(values)} values for {len(names)} parameter names")
    mapping = {name: _checked_value(name, v) for name, v in zip(names, values, strict=True)}
    for name in mapping:
        param_index(name)
    return mapping
