"""Plain data the session sends to the panels (Qt-free, immutable).

Panels never see the explorer, the model or a service: they get these snapshots through the
session's signals and show them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "EDITED",
    "CandidateInfo",
    "InterpolationInfo",
    "LibraryListing",
    "MacroInfo",
    "MapOverlays",
    "MapSnapshot",
    "MatchReport",
    "ModelInfo",
    "NeighbourInfo",
    "ParamInfo",
    "Rendered",
    "SliderInfo",
    "SoundState",
]


EDITED = " (edited)"  # a sound moved away from the preset it is named after


@dataclass(frozen=True)
class ParamInfo:
    """One synth parameter as the parameter panel shows it (native range and unit)."""

    name: str
    section: str
    minimum: float
    maximum: float
    unit: str
    default: float  # normalised
    meaning: str = ""  # what the value does to the sound ("attack time 2 ms ... 10 s")

    def native(self, x: float) -> float:
        return self.minimum + float(x) * (self.maximum - self.minimum)

    def format(self, x: float) -> str:
        """``x`` (normalised) in native units: ``'-12.0 semitones'``, ``'250 ms'``; cutoffs,
        which Diva gives as MIDI note numbers, also in Hz: ``'note 90.0 · 1.40 kHz'``."""
        value = self.native(x)
        if self.unit == "note":
            hz = 440.0 * 2.0 ** ((value - 69.0) / 12.0)
            frequency = f"{hz / 1000:.2f} kHz" if hz >= 1000 else f"{hz:.0f} Hz"
            return f"note {value:.1f} · {frequency}"
        if self.unit == "semitones":
            decimals = 1  # pitches: tenths of a semitone
        else:
            decimals = 0 if abs(self.maximum - self.minimum) >= 100 else 2
        return f"{value:.{decimals}f} {self.unit}".strip()


@dataclass(frozen=True)
class SliderInfo:
    """A semantic slider over latent dimension ``dim``, from ``negative`` to ``positive``."""

    dim: int
    negative: str
    positive: str
    low: float = -3.0
    high: float = 3.0

    @property
    def label(self) -> str:
        return f"{self.negative} ↔ {self.positive}"


@dataclass(frozen=True)
class MacroInfo:
    """A macro knob over latent dimension ``dim``; ``top_params``: what it moves most."""

    index: int
    dim: int
    name: str
    top_params: tuple[str, ...]
    low: float = -3.0
    high: float = 3.0
    label: str = ""  # what it measurably does (``explorer.macros``), unique among the knobs


@dataclass(frozen=True)
class ModelInfo:
    """The loaded model: what the status bar and the panels need to know."""

    path: str
    name: str
    kind: str
    latent_dim: int
    active: tuple[str, ...]  # the model's parameter set, its order
    params: tuple[ParamInfo, ...]  # every synth parameter, spec order
    sliders: tuple[SliderInfo, ...]
    tag_pairs: tuple[tuple[str, str], ...]
    summary: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} ({self.kind}, {len(self.active)} parameters)"


@dataclass(frozen=True)
class SoundState:
    """The current sound after a change: parameters, latent, map position, control values."""

    seq: int
    name: str  # the preset it came from, e.g. 'diva_saved_bass' or 'Sketch 12 (edited)'
    label: str  # what changed it: 'map', 'Dark ↔ Bright', 'undo', ...
    values: Mapping[str, float]  # every parameter the sound sets, normalised
    z: np.ndarray
    position: tuple[float, float]
    semantic: tuple[float, ...]
    macros: tuple[float, ...]
    note: int
    tags: tuple[str, ...]  # tags of the loaded preset, or suggested by the semantic sliders
    continuous: bool = False  # part of a gesture: the preview waits for it to pause
    can_undo: bool = False
    can_redo: bool = False


@dataclass(frozen=True)
class MapSnapshot:
    """Every point on the map in the current axes, with what hovering shows."""

    coords: np.ndarray  # (N, 2)
    names: tuple[str, ...]
    sources: tuple[str, ...]
    tags: tuple[tuple[str, ...], ...]
    labels: np.ndarray  # (N, n_pairs) int8: -1, 0, +1
    axes: tuple[str, str]
    axes_key: str  # 'pca' or 'i,j'
    tag_pairs: tuple[tuple[str, str], ...]

    def __len__(self) -> int:
        return len(self.names)

    def describe(self, index: int) -> str:
        tags = ", ".join(self.tags[index]) or "no tags"
        return f"{self.names[index]} — {tags} ({self.sources[index]})"


def _empty() -> np.ndarray:
    return np.zeros((0, 2))


@dataclass(frozen=True)
class MapOverlays:
    """Markers over the points: the match and its candidates, neighbours, interpolation path."""

    match: np.ndarray = field(default_factory=_empty)
    candidates: np.ndarray = field(default_factory=_empty)
    neighbours: np.ndarray = field(default_factory=_empty)
    path: np.ndarray = field(default_factory=_empty)


@dataclass(frozen=True)
class Rendered:
    """A sound to show (waveform, log-mel) and maybe play."""

    audio: np.ndarray
    sample_rate: int
    log_mel: np.ndarray  # (n_mels, frames)
    title: str
    seq: int = 0

    @property
    def level(self) -> str:
        """The sound's own level, e.g. "peak −23.4 dBFS · RMS −35.0 dBFS"."""
        from flowsynth_gui.audio.loudness import describe_level

        return describe_level(self.audio)


@dataclass(frozen=True)
class CandidateInfo:
    label: str
    distance: float  # SC (or, for an imitation, shape distance) to the target: lower is closer
    source: str = ""  # where it came from: "sound index", "model's answer", "polished", ...


@dataclass(frozen=True)
class MatchReport:
    source: str
    note: int
    detected_hz: float | None
    distance: float
    notes: tuple[str, ...]
    candidates: tuple[CandidateInfo, ...] = ()
    refined: bool = False  # the search is over (its budget spent, or cancelled)
    cancelled: bool = False
    searching: bool = False  # a live update: the search goes on
    imitation: bool = False  # matched by shape (an imitation), not by spectrum
    feedback_rounds: int = 0  # closer / further marks that can be undone

    @property
    def measure(self) -> str:
        return "shape distance" if self.imitation else "spectral distance"


@dataclass(frozen=True)
class NeighbourInfo:
    """Variations around the current sound: names and distances (prior units)."""

    names: tuple[str, ...]
    radius: float


@dataclass(frozen=True)
class InterpolationInfo:
    a: str
    b: str
    steps: int
    straight: bool


@dataclass(frozen=True)
class LibraryListing:
    folder: str
    names: tuple[str, ...]
    favourites: tuple[str, ...]
    h2p_folders: tuple[str, ...] = ()
