"""Learned macro-controls: latent dimensions ranked by how much they move the sound.

Each latent dimension ``d`` is traversed from ``-span`` to ``+span`` in ``steps`` values while
the other dimensions stay at an *anchor* point; every step is mapped to parameters and
rendered. A dimension's **audio motion** is the mean RMS difference (in log-mel units, about
nepers of amplitude) between consecutive steps, averaged over anchors and steps: how far the
sound travels per step. Its **parameter sensitivity** to parameter ``p`` is the total variation
of ``p`` along the traversal (normalised units), averaged over anchors. The top dimensions by
audio motion become the knobs "Macro 1", "Macro 2", ..., each listing the parameters it moves
most.

Each knob also gets a **label** saying what it measurably does: the sound descriptor that
changes most along its traversal (brightness: the mel centroid; loudness: the mean log-mel;
movement: the spread of the log-mel over time; each as a slope per unit of z, in units of its
spread over all renders), with the direction of turning it up, and the parameter it moves
most *where that parameter can be heard* (a knob of a silent oscillator moves nothing:
``synth/symmetry.py``). Labels are unique: a repeat takes the next parameter.

Anchors are drawn from the latent prior N(0, I) with a fixed seed and every render uses the
same noise seed, so a ranking is deterministic for a model and its settings. It costs
``latent_dim * anchors * steps`` renders (32 × 4 × 5 = 640, a few seconds on two cores), so
:class:`MacroCache` keeps rankings per model fingerprint, in memory and optionally as JSON
files in a folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from flowsynth_gui.data.renders import StopFlag, render_log_mels, stop_requested
from flowsynth_gui.fileio import atomic_write_text
from flowsynth_gui.latent.codec import LatentCodec
from flowsynth_gui.synth.symmetry import inert_mask

__all__ = [
    "KNOB_RANGE",
    "Macro",
    "MacroCache",
    "MacroRanking",
    "MacroSettings",
    "ParamSensitivity",
    "RankingCancelled",
    "rank_latent_dims",
]

_FORMAT = "flowsynth-macro-ranking/2"
# What a knob can be heard to do, in the order of the ranking's ``descriptors`` columns:
# (the descriptor, its word when the knob turns it down, when it turns it up).
DESCRIPTORS = (("brightness", "Darker", "Brighter"), ("loudness", "Softer", "Louder"),
               ("movement", "Steadier", "More moving"))
# A knob's latent range: the prior's ±3 standard deviations, as the semantic sliders (the
# ranking traverses the central ±2, where the trained sounds are).
KNOB_RANGE = (-3.0, 3.0)
_RENDER_CHUNK = 40  # renders between progress reports and cancellation checks


class RankingCancelled(RuntimeError):
    """The ranking was stopped before it finished (nothing is cached)."""


@dataclass(frozen=True)
class MacroSettings:
    """How dimensions are traversed; part of the cache key."""

    span: float = 2.0
    steps: int = 5
    anchors: int = 4
    seed: int = 0
    note: int = 60  # the reference pitch the models were trained at

    def __post_init__(self) -> None:
        if not (self.span > 0 and self.steps >= 2 and self.anchors >= 1):
            raise ValueError(f"MacroSettings: need span > 0, steps >= 2, anchors >= 1; got {self}")


@dataclass(frozen=True)
class ParamSensitivity:
    name: str
    sensitivity: float  # total variation of the normalised value along the traversal


@dataclass(frozen=True)
class Macro:
    """One knob: latent dimension ``dim``, the ``index``-th most audible one."""

    index: int
    dim: int
    name: str
    audio_motion: float
    param_motion: float
    top_params: tuple[ParamSensitivity, ...]
    label: str = ""  # what turning it up measurably does, e.g. "Brighter · VCF1: Frequency"

    @property
    def range(self) -> tuple[float, float]:
        return KNOB_RANGE


@dataclass(frozen=True)
class MacroRanking:
    """Per-dimension motion figures of one model; :meth:`macros` turns them into knobs."""

    fingerprint: str
    settings: MacroSettings
    names: tuple[str, ...]
    audio_motion: np.ndarray  # (L,)
    sensitivity: np.ndarray  # (L, P), counted only where the parameter is audible
    descriptors: np.ndarray  # (L, len(DESCRIPTORS)): slope per unit z, in spreads

    @property
    def param_motion(self) -> np.ndarray:
        """Mean parameter sensitivity of each dimension, ``(L,)``."""
        return self.sensitivity.mean(axis=1)

    def order(self, exclude: tuple[int, ...] = ()) -> list[int]:
        """Dimensions by decreasing audio motion (ties: parameter motion, then index)."""
        dims = [d for d in range(len(self.audio_motion)) if d not in set(exclude)]
        return sorted(dims, key=lambda d: (-self.audio_motion[d], -self.param_motion[d], d))

    def macros(self, k: int, exclude: tuple[int, ...] = (), top_params: int = 5) -> list[Macro]:
        """The ``k`` most audible dimensions (``exclude``: e.g. the semantic sliders)."""
        knobs, taken = [], set()
        for index, dim in enumerate(self.order(exclude)[:k]):
            ranked = np.argsort(-self.sensitivity[dim], kind="stable")
            label = self._label(dim, ranked, taken)
            taken.add(label)
            knobs.append(Macro(index, dim, f"Macro {index + 1}", float(self.audio_motion[dim]),
                               float(self.param_motion[dim]),
                               tuple(ParamSensitivity(self.names[p],
                                                      float(self.sensitivity[dim, p]))
                                     for p in ranked[:top_params]), label))
        return knobs

    def _label(self, dim: int, ranked: np.ndarray, taken: set[str]) -> str:
        """The descriptor it moves most and the first audible parameter not yet used."""
        slopes = self.descriptors[dim]
        which = int(np.argmax(np.abs(slopes)))
        word = DESCRIPTORS[which][2 if slopes[which] >= 0 else 1]
        for p in ranked:
            if self.sensitivity[dim, p] <= 0:
                break
            label = f"{word} · {self.names[p]}"
            if label not in taken:
                return label
        label, n = word, 2
        while label in taken:
            label, n = f"{word} {n}", n + 1
        return label

    def to_dict(self) -> dict[str, Any]:
        return {"format": _FORMAT, "fingerprint": self.fingerprint,
                "settings": asdict(self.settings), "names": list(self.names),
                "audio_motion": self.audio_motion.tolist(),
                "sensitivity": self.sensitivity.tolist(),
                "descriptors": self.descriptors.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MacroRanking:
        if data.get("format") != _FORMAT:
            raise ValueError(f"not a macro ranking (format {data.get('format')!r})")
        return cls(str(data["fingerprint"]), MacroSettings(**data["settings"]),
                   tuple(data["names"]), np.asarray(data["audio_motion"], dtype=np.float64),
                   np.asarray(data["sensitivity"], dtype=np.float64),
                   np.asarray(data["descriptors"], dtype=np.float64))


def _traversals(latent_dim: int, settings: MacroSettings) -> np.ndarray:
    """Latent points ``(L, anchors, steps, L)``: dimension d swept, the others at the anchor."""
    rng = np.random.default_rng(settings.seed)
    anchors = rng.standard_normal((settings.anchors, latent_dim))
    values = np.linspace(-settings.span, settings.span, settings.steps)
    points = np.broadcast_to(anchors[None, :, None, :],
                             (latent_dim, settings.anchors, settings.steps, latent_dim)).copy()
    for d in range(latent_dim):
        points[d, :, :, d] = values
    return points


def rank_latent_dims(codec: LatentCodec, settings: MacroSettings = MacroSettings(), *,
                     workers: int | None = None,
                     progress: Callable[[int, int], None] | None = None,
                     should_stop: StopFlag = None) -> MacroRanking:
    """Traverse every latent dimension, render, and measure the motion (see module doc).

    ``progress(done, total)`` counts renders; :class:`RankingCancelled` if stopped.
    """
    shape = (codec.latent_dim, settings.anchors, settings.steps)
    points = _traversals(codec.latent_dim, settings).reshape(-1, codec.latent_dim)
    params = codec.to_params(points)
    total = len(params)
    # Per-render distance to the next step only needs the log-mels of neighbouring rows, but
    # keeping them all (640 × 128 × 87 float32 = 28 MB at 32 dims) keeps the code simple.
    mels = np.empty((total, *_mel_shape(codec)), dtype=np.float32)
    for start in range(0, total, _RENDER_CHUNK):
        if stop_requested(should_stop):
            raise RankingCancelled("macro ranking cancelled")
        stop = min(total, start + _RENDER_CHUNK)
        mels[start:stop] = render_log_mels(params[start:stop], codec.names, settings.note, workers)
        if progress is not None:
            progress(stop, total)
    descriptors = _descriptor_slopes(mels.reshape(*shape, *mels.shape[1:]), settings)
    mels = mels.reshape(*shape, -1)
    steps_rms = np.sqrt(np.square(np.diff(mels, axis=2)).mean(axis=3))  # (L, anchors, steps-1)
    audio_motion = steps_rms.mean(axis=(1, 2))
    # A step of a parameter counts where it can be heard at both ends of the step.
    audible = ~inert_mask(params, codec.names).reshape(*shape, -1)
    steps = np.abs(np.diff(params.reshape(*shape, -1), axis=2)) * (audible[:, :, 1:]
                                                                   & audible[:, :, :-1])
    return MacroRanking(codec.fingerprint(), settings, codec.names, audio_motion,
                        steps.sum(axis=2).mean(axis=1), descriptors)


def _descriptor_slopes(log_mels: np.ndarray, settings: MacroSettings) -> np.ndarray:
    """``(L, anchors, steps, bands, frames)`` log-mels → per dimension the slope of each
    descriptor along z, averaged over anchors, in units of its spread over all renders."""
    energy = np.exp(log_mels).mean(axis=4)  # (L, A, S, bands)
    bands = np.arange(energy.shape[-1], dtype=np.float64)
    values = np.stack([(energy * bands).sum(-1) / np.maximum(energy.sum(-1), 1e-12),
                       log_mels.mean(axis=(3, 4)),
                       log_mels.std(axis=4).mean(axis=3)], axis=-1)  # (L, A, S, 3)
    z = np.linspace(-settings.span, settings.span, settings.steps)
    centred = z - z.mean()
    slopes = (values * centred[None, None, :, None]).sum(axis=2) / np.square(centred).sum()
    spread = values.reshape(-1, values.shape[-1]).std(axis=0)
    return slopes.mean(axis=1) / np.maximum(spread, 1e-12)


def _mel_shape(codec: LatentCodec) -> tuple[int, int]:
    return codec.model.config.n_mels, codec.model.config.n_frames


class MacroCache:
    """Rankings by (model fingerprint, settings), in memory and in ``folder`` if given."""

    def __init__(self, folder: str | os.PathLike[str] | None = None) -> None:
        self.folder = None if folder is None else Path(folder)
        self._memory: dict[tuple[str, MacroSettings], MacroRanking] = {}

    def _path(self, fingerprint: str, settings: MacroSettings) -> Path | None:
        if self.folder is None:
            return None
        s = settings
        tag = f"{s.span:g}_{s.steps}_{s.anchors}_{s.seed}_{s.note}"
        return self.folder / f"macros-{fingerprint[:20]}-{tag}.json"

    def get(self, fingerprint: str, settings: MacroSettings) -> MacroRanking | None:
        key = (fingerprint, settings)
        if key in self._memory:
            return self._memory[key]
        path = self._path(fingerprint, settings)
        if path is None or not path.is_file():
            return None
        try:
            ranking = MacroRanking.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a damaged cache file only costs a new ranking
        if ranking.fingerprint != fingerprint or ranking.settings != settings:
            return None
        self._memory[key] = ranking
        return ranking

    def put(self, ranking: MacroRanking) -> None:
        self._memory[(ranking.fingerprint, ranking.settings)] = ranking
        path = self._path(ranking.fingerprint, ranking.settings)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, json.dumps(ranking.to_dict()) + "\n")

    def ranking(self, codec: LatentCodec, settings: MacroSettings = MacroSettings(), *,
                workers: int | None = None,
                progress: Callable[[int, int], None] | None = None,
                should_stop: StopFlag = None) -> MacroRanking:
        """The cached ranking of ``codec``'s model, computing (and storing) it when missing."""
        cached = self.get(codec.fingerprint(), settings)
        if cached is not None:
            return cached
        ranking = rank_latent_dims(codec, settings, workers=workers, progress=progress,
                                   should_stop=should_stop)
        self.put(ranking)
        return ranking
