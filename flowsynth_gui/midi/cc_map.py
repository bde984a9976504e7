"""Which MIDI control change (CC) carries each synth parameter, and the value conversions.

A map is data: the default is ``resources/midi_cc_map.json`` (the 64-parameter set); a user copy
in the config folder (see :mod:`flowsynth_gui.midi.paths`) replaces it when present. Every
parameter is sent as a 7-bit CC (``round(v * 127)``) or, where 128 steps would be audible (cutoff,
tuning), as a 14-bit pair: MSB on CC ``n`` (0..31), LSB on CC ``n + 32``, value
``round(v * 16383)``, as the MIDI 1.0 specification pairs them.

>>> cc_map = CCMap.default()
>>> cutoff = cc_map.binding("VCF1: Frequency")
>>> (cutoff.cc, cutoff.bits, cutoff.lsb_cc)
(16, 14, 48)
>>> cutoff.encode(0.5)
((16, 64), (48, 0))
>>> cc_map.binding("VCF1: Resonance").encode(1.0)
((71, 127),)
>>> split_14bit(join_14bit(100, 27))
(100, 27)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowsynth_gui.fileio import atomic_write_text
from flowsynth_gui.midi.paths import user_cc_map_path
from flowsynth_gui.paths import RESOURCES_DIR
from flowsynth_gui.synth.params import ParameterError, param_index

__all__ = [
    "CCBinding",
    "CCDecoder",
    "CCMap",
    "CCMapError",
    "CHANNEL_MODE_CCS",
    "DEFAULT_MAP_FILE",
    "FINE_MSB_MAX",
    "FORMAT",
    "FORMAT_VERSION",
    "LSB_OFFSET",
    "check_normalised",
    "check_params",
    "join_14bit",
    "load_cc_map",
    "split_14bit",
]

FORMAT = "flowsynth-midi-cc-map"
FORMAT_VERSION = 1
DEFAULT_MAP_FILE = RESOURCES_DIR / "midi_cc_map.json"
LSB_OFFSET = 32
FINE_MSB_MAX = 31  # MIDI 1.0 pairs CC 0..31 (MSB) with CC 32..63 (LSB)
# 120..127 are channel mode messages (all sound off, reset, local, all notes off, omni/mono/poly):
# a parameter there would silence or reconfigure the receiving synth.
CHANNEL_MODE_CCS = range(120, 128)
_STEPS = {7: 127, 14: 16383}


class CCMapError(ValueError):
    """A CC map that cannot be used; the message names the entry and says how to fix it."""


def check_normalised(name: str, value: object) -> float:
    """``value`` as a float in [0, 1], or a :class:`ParameterError` naming the parameter."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ParameterError(f"parameter {name!r}: {value!r} is not a number") from None
    if not 0.0 <= x <= 1.0:  # also rejects NaN
        raise ParameterError(f"parameter {name!r} = {x:g} is outside [0, 1]; values are "
                             "normalised (see flowsynth_gui.synth.params)")
    return x


def split_14bit(value: int) -> tuple[int, int]:
    """A 14-bit value 0..16383 -> (MSB, LSB), each 0..127."""
    if not 0 <= value <= 16383:
        raise ValueError(f"14-bit value {value} is outside 0..16383")
    return value >> 7, value & 0x7F


def join_14bit(msb: int, lsb: int) -> int:
    """(MSB, LSB), each 0..127 -> the 14-bit value 0..16383."""
    if not (0 <= msb <= 127 and 0 <= lsb <= 127):
        raise ValueError(f"MSB {msb} / LSB {lsb}: each must be in 0..127")
    return (msb << 7) | lsb


@dataclass(frozen=True)
class CCBinding:
    """One parameter on one CC (7-bit) or on the pair CC / CC + 32 (14-bit)."""

    param: str
    cc: int
    bits: int = 7

    @property
    def steps(self) -> int:
        """The largest quantised value: 127 (7-bit) or 16383 (14-bit)."""
        return _STEPS[self.bits]

    @property
    def lsb_cc(self) -> int | None:
        """The CC carrying the low 7 bits of a 14-bit pair; None for a 7-bit binding."""
        return self.cc + LSB_OFFSET if self.bits == 14 else None

    @property
    def ccs(self) -> tuple[int, ...]:
        """Every CC number the binding uses, MSB first."""
        return (self.cc,) if self.bits == 7 else (self.cc, self.cc + LSB_OFFSET)

    def quantise(self, value: float) -> int:
        """Normalised value -> 0..127 (7-bit) or 0..16383 (14-bit), rounded to nearest."""
        return round(check_normalised(self.param, value) * self.steps)

    def normalise(self, quantised: int) -> float:
        """Quantised value -> normalised [0, 1] (exactly 0 and 1 at the ends)."""
        return quantised / self.steps

    def cc_values(self, quantised: int) -> tuple[tuple[int, int], ...]:
        """Quantised value -> ((cc, data), ...) in sending order (MSB before LSB)."""
        if self.bits == 7:
            return ((self.cc, quantised),)
        msb, lsb = split_14bit(quantised)
        return (self.cc, msb), (self.cc + LSB_OFFSET, lsb)

    def encode(self, value: float) -> tuple[tuple[int, int], ...]:
        """Normalised value -> ((cc, data), ...), the CC messages' contents."""
        return self.cc_values(self.quantise(value))

    def describe(self) -> str:
        if self.bits == 7:
            return f"CC {self.cc}"
        return f"CC {self.cc}/{self.cc + LSB_OFFSET} (14-bit)"


def _free_ccs(used: set[int], limit: int = 8) -> str:
    free = [cc for cc in range(1, 120) if cc not in used][:limit]
    return ", ".join(map(str, free)) if free else "none"


def _check_binding(binding: CCBinding, where: str) -> None:
    """Raise CCMapError for a binding that is wrong on its own (name, range, resolution)."""
    try:
        param_index(binding.param)
    except ParameterError as err:
        raise CCMapError(f"{where}: {err} Fix the name or remove the entry.") from None
    if binding.bits not in _STEPS:
        raise CCMapError(f"{where}: 'bits' is {binding.bits!r}; use 7 (one CC) or 14 (CC pair)")
    if isinstance(binding.cc, bool) or not isinstance(binding.cc, int) \
            or not 0 <= binding.cc <= 127:
        raise CCMapError(f"{where}: CC number {binding.cc!r} is not an integer in 0..127; "
                         "pick a CC number in 0..119")
    if binding.cc in CHANNEL_MODE_CCS:
        raise CCMapError(f"{where}: CC {binding.cc} is a channel mode message (120..127: all "
                         "notes off, reset, ...); pick a CC number in 0..119")
    if binding.bits == 14 and binding.cc > FINE_MSB_MAX:
        raise CCMapError(f"{where}: a 14-bit parameter needs its MSB on CC 0..{FINE_MSB_MAX} "
                         f"(the LSB goes on CC + {LSB_OFFSET}); CC {binding.cc} is outside. "
                         "Pick an MSB in 0..31 or make it 7-bit (\"bits\": 7)")


@dataclass(frozen=True)
class CCMap:
    """An immutable, validated parameter -> CC map for one MIDI channel (1..16).

    Edit with :meth:`with_binding`, :meth:`without` and :meth:`with_channel`, which return a
    new map (so a sender thread can keep reading the old one safely).
    """

    bindings: tuple[CCBinding, ...]
    channel: int = 1
    description: str = ""
    _by_param: dict[str, CCBinding] = field(init=False, repr=False, compare=False)
    _by_cc: dict[int, tuple[CCBinding, bool]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.channel, bool) or not isinstance(self.channel, int) \
                or not 1 <= self.channel <= 16:
            raise CCMapError(f"'channel' is {self.channel!r}; MIDI channels are 1..16")
        by_param: dict[str, CCBinding] = {}
        by_cc: dict[int, tuple[CCBinding, bool]] = {}
        for binding in self.bindings:
            where = f"entry {binding.param!r}"
            _check_binding(binding, where)
            if binding.param in by_param:
                raise CCMapError(f"{where} appears twice; keep one of them")
            by_param[binding.param] = binding
            for cc in binding.ccs:
                if cc in by_cc:
                    raise CCMapError(self._collision(binding, cc, by_cc))
                by_cc[cc] = (binding, cc != binding.cc)
        object.__setattr__(self, "_by_param", by_param)
        object.__setattr__(self, "_by_cc", by_cc)

    @staticmethod
    def _collision(binding: CCBinding, cc: int, by_cc: dict[int, tuple[CCBinding, bool]]) -> str:
        other, other_is_lsb = by_cc[cc]
        role = " (as the LSB of its 14-bit pair)" if other_is_lsb else ""
        mine = " as the LSB of its 14-bit pair" if cc != binding.cc else ""
        return (f"entry {binding.param!r}: CC {cc}{mine} is already used by {other.param!r}"
                f"{role}; give one of them another CC (free: {_free_ccs(set(by_cc))})")

    # -- lookups ----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.bindings)

    def __iter__(self) -> Iterator[CCBinding]:
        return iter(self.bindings)

    def __contains__(self, param: object) -> bool:
        return param in self._by_param

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(b.param for b in self.bindings)

    def binding(self, param: str) -> CCBinding | None:
        """The binding of ``param``, or None when the map does not carry it."""
        return self._by_param.get(param)

    def by_cc(self, cc: int) -> tuple[CCBinding, bool] | None:
        """(binding, is_lsb) for an incoming CC number, or None when the map does not use it."""
        return self._by_cc.get(cc)

    @property
    def used_ccs(self) -> frozenset[int]:
        return frozenset(self._by_cc)

    # -- editing ----------------------------------------------------------------------------
    def with_binding(self, param: str, cc: int, bits: int = 7) -> CCMap:
        """A copy with ``param`` on ``cc`` (replacing its old binding); CCMapError on clashes."""
        new = CCBinding(param, cc, bits)
        if param in self:  # keep the entry's place in the file
            bindings = tuple(new if b.param == param else b for b in self.bindings)
        else:
            bindings = (*self.bindings, new)
        return CCMap(bindings, self.channel, self.description)

    def without(self, param: str) -> CCMap:
        """A copy that no longer sends ``param``."""
        return CCMap(tuple(b for b in self.bindings if b.param != param), self.channel,
                     self.description)

    def with_channel(self, channel: int) -> CCMap:
        return CCMap(self.bindings, channel, self.description)

    # -- files ------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: object, source: str = "CC map") -> CCMap:
        """Build and validate a map from its JSON document; CCMapError says what to fix."""
        if not isinstance(data, dict):
            raise CCMapError(f"{source}: expected a JSON object with 'format' and 'params'")
        if data.get("format") != FORMAT:
            raise CCMapError(f"{source}: 'format' is {data.get('format')!r}, expected {FORMAT!r};"
                             " is this a FlowSynth MIDI CC map?")
        if data.get("format_version") != FORMAT_VERSION:
            raise CCMapError(f"{source}: format_version {data.get('format_version')!r} is not "
                             f"supported (this FlowSynth reads version {FORMAT_VERSION})")
        entries = data.get("params")
        if not isinstance(entries, dict):
            raise CCMapError(f"{source}: 'params' must be an object "
                             '{"VCF1: Frequency": {"cc": 16, "bits": 14}, ...}')
        bindings = tuple(_binding_from_entry(name, entry, source)
                         for name, entry in entries.items())
        description = data.get("description", "")
        try:
            return cls(bindings, data.get("channel", 1), str(description))
        except CCMapError as err:
            raise CCMapError(f"{source}: {err}") from None

    def to_dict(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for b in self.bindings:
            params[b.param] = {"cc": b.cc} if b.bits == 7 else {"cc": b.cc, "bits": 14}
        return {"format": FORMAT, "format_version": FORMAT_VERSION,
                "description": self.description, "channel": self.channel, "params": params}

    def to_json(self) -> str:
        """The map as JSON text, one parameter a line (easy to edit and to diff)."""
        head = {k: v for k, v in self.to_dict().items() if k != "params"}
        lines = [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
        entries = [f"    {json.dumps(name)}: {json.dumps(entry)}"
                   for name, entry in self.to_dict()["params"].items()]
        body = ",\n".join(entries)
        return "{\n" + "\n".join(lines) + '\n  "params": {\n' + body + "\n  }\n}\n"

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CCMap:
        """Read and validate a map file; CCMapError (naming the file) when it is unusable."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise CCMapError(f"cannot read the MIDI CC map {path}: {err.strerror or err}") from None
        try:
            data = json.loads(text, object_pairs_hook=_no_duplicate_keys)
        except json.JSONDecodeError as err:
            raise CCMapError(f"{path}: not valid JSON ({err}); fix it, or delete the file to "
                             "use the default map") from None
        except CCMapError as err:
            raise CCMapError(f"{path}: {err}") from None
        return cls.from_dict(data, source=str(path))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the map atomically (a crash mid-save keeps the previous file)."""
        atomic_write_text(path, self.to_json())

    @classmethod
    def default(cls) -> CCMap:
        """The shipped map for the 64-parameter set."""
        return cls.load(DEFAULT_MAP_FILE)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys silently; a map listing a parameter twice is a
    # mistake the user should hear about.
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise CCMapError(f"entry {key!r} appears twice; keep one of them")
        seen[key] = value
    return seen


def _binding_from_entry(name: object, entry: object, source: str) -> CCBinding:
    where = f"{source}: entry {name!r}"
    if not isinstance(entry, dict) or "cc" not in entry:
        raise CCMapError(f'{where}: expected {{"cc": <0..119>}} or {{"cc": <0..31>, "bits": 14}}')
    unknown = sorted(set(entry) - {"cc", "bits"})
    if unknown:
        raise CCMapError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
                         "an entry has 'cc' and optionally 'bits'")
    binding = CCBinding(str(name), entry["cc"], entry.get("bits", 7))
    _check_binding(binding, where)
    return binding


def load_cc_map(folder: str | os.PathLike[str] | None = None) -> CCMap:
    """The user's map from the config folder when it exists, otherwise the default map.

    A broken user copy raises :class:`CCMapError` (naming the file) rather than being ignored:
    silently falling back would send the user's synth CCs they did not choose.
    """
    user = user_cc_map_path(folder)
    return CCMap.load(user) if user.is_file() else CCMap.default()


class CCDecoder:
    """Incoming CC messages -> normalised parameter values, for MIDI in.

    14-bit pairs follow MIDI 1.0: an MSB sets the value with LSB 0 (a controller that sends only
    the MSB still works), a following LSB refines it. Not thread-safe: feed it from one thread.
    """

    def __init__(self, cc_map: CCMap) -> None:
        self.cc_map = cc_map
        self._msb: dict[tuple[int, str], int] = {}

    def feed(self, channel: int, cc: int, data: int) -> tuple[str, float] | None:
        """One CC (channel 1..16) -> (parameter, value in [0, 1]), or None if not a parameter."""
        found = self.cc_map.by_cc(cc)
        if found is None:
            return None
        binding, is_lsb = found
        if binding.bits == 7:
            return binding.param, binding.normalise(data)
        key = (channel, binding.param)
        if not is_lsb:
            self._msb[key] = data
            return binding.param, binding.normalise(join_14bit(data, 0))
        msb = self._msb.get(key)
        if msb is None:  # an LSB without its MSB means nothing yet
            return None
        return binding.param, binding.normalise(join_14bit(msb, data))


def check_params(values: Mapping[str, float]) -> dict[str, float]:
    """Validate a parameter mapping: known synth parameter names, values in [0, 1]."""
    checked = {}
    for name, value in values.items():
        param_index(name)
        checked[name] = check_normalised(name, value)
    return checked
