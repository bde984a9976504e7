"""Semantic sliders: the disentangled dimensions of a Flow_dis model, named by their tags.

Flow_dis pushes latent dimension ``j < n_tags`` of a sound tagged on pair ``j`` towards
``-tag_mu`` for the negative tag and ``+tag_mu`` for the positive one (paper eq. 16;
``models/flow_models.py``). ``encode`` returns that disentangled space, so slider ``j`` is
simply coordinate ``j`` of the current z, running from the negative tag (left) to the positive
one (right). The range −3…3 covers the tagged clusters (±1.4 ± 0.5) with room beyond them.

:func:`tag_scores` measures what a slider is meant to move — the score behind each tag pair
(spectral centroid for Dark/Bright, modulation for Constant/Moving, flatness for Clean/Dirty,
the attack-and-bite score for Soft/Aggressive; ``features/tags.py``) — on rendered audio.

>>> SemanticSlider(0, "Dark", "Bright").label
'Dark ↔ Bright'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from flowsynth_gui.data.renders import render_presets
from flowsynth_gui.features.descriptors import compute_descriptors_batch
from flowsynth_gui.features.tags import SILENT_DB, TagRules
from flowsynth_gui.latent.codec import LatentCodec
from flowsynth_gui.synth.render import DEFAULT_SAMPLE_RATE, REFERENCE_NOTE

__all__ = ["SLIDER_RANGE", "TAG_THRESHOLD", "SemanticSlider", "SliderSweep", "semantic_sliders",
           "slider_rank_correlations", "suggest_tags", "sweep_slider", "tag_rules_of",
           "tag_scores"]

SLIDER_RANGE = (-3.0, 3.0)
TAG_THRESHOLD = 0.7  # half of Flow_dis's tag_mu: a slider past it reads as tagged
_SWEEP_CHUNK = 512  # renders held in memory at once (4 s each)

# Without fitted rules, the Soft/Aggressive score adds its two inputs unscaled (attack
# sharpness in log10(1/s), log10 of the high-band ratio): still rising with each of them.
_UNFITTED = dict(low=(0.0,) * 4, high=(1.0,) * 4, attack_mean=0.0, attack_std=1.0,
                 hf_mean=0.0, hf_std=1.0)


@dataclass(frozen=True)
class SemanticSlider:
    """Slider over latent dimension ``dim``, from the ``negative`` tag to the ``positive`` one."""

    dim: int
    negative: str
    positive: str

    @property
    def label(self) -> str:
        return f"{self.negative} ↔ {self.positive}"

    @property
    def range(self) -> tuple[float, float]:
        return SLIDER_RANGE

    def clamp(self, value: float) -> float:
        """``value`` limited to the slider's range; ValueError for NaN or inf."""
        if not np.isfinite(value):
            raise ValueError(f"{self.label}: slider value must be finite, got {value!r}")
        return float(min(SLIDER_RANGE[1], max(SLIDER_RANGE[0], value)))


@dataclass(frozen=True)
class SliderSweep:
    """One slider moved over K positions from each of S starts."""

    params: np.ndarray  # (S, K, P) what f gave at each position
    scores: np.ndarray  # (S, K, 4) tag scores of the rendered sounds, TAG_PAIRS order
    audible: np.ndarray  # (S, K) bool: loud enough for the scores to describe the sound


def semantic_sliders(codec: LatentCodec) -> list[SemanticSlider]:
    """One slider per disentangled dimension (none for models other than Flow_dis)."""
    pairs = codec.metadata.tag_pairs
    return [SemanticSlider(j, pairs[j][0], pairs[j][1]) for j in range(codec.n_semantic)]


def tag_rules_of(metadata_rules: Mapping[str, Any] | None) -> TagRules | None:
    """The checkpoint's fitted tag rules, or None when it has none (or they do not parse)."""
    if metadata_rules is None:
        return None
    try:
        return TagRules.from_dict(metadata_rules)
    except ValueError:
        return None


def tag_scores(audio: np.ndarray, sample_rate: int, rules: TagRules | None = None) -> np.ndarray:
    """Per-pair scores ``(N, 4)`` of sounds ``(N, samples)``, in ``TAG_PAIRS`` order.

    Higher means nearer the positive tag. ``rules`` (fitted on the training corpus) scale the
    Soft/Aggressive score as tagging does; without them its inputs are added unscaled.
    """
    descriptors = compute_descriptors_batch(np.asarray(audio, dtype=np.float32), sample_rate)
    return _scorer(rules).scores(descriptors)


def _scorer(rules: TagRules | None) -> TagRules:
    return rules if rules is not None else TagRules(**_UNFITTED)  # type: ignore[arg-type]


def sweep_slider(to_params: Callable[[np.ndarray], np.ndarray], names: Sequence[str],
                 starts: np.ndarray, dim: int, positions: np.ndarray,
                 rules: TagRules | None = None, workers: int | None = None) -> SliderSweep:
    """Move latent ``dim`` of each start over ``positions`` (the others fixed), render each
    point at the reference note and score it."""
    starts = np.asarray(starts, dtype=np.float64)
    latents = np.repeat(starts, len(positions), axis=0)
    latents[:, dim] = np.tile(positions, len(starts))
    params = np.clip(to_params(latents), 0.0, 1.0)
    scores, loudness = [], []
    for i in range(0, len(params), _SWEEP_CHUNK):
        audio = render_presets(params[i:i + _SWEEP_CHUNK], names, REFERENCE_NOTE, workers)
        descriptors = compute_descriptors_batch(audio, DEFAULT_SAMPLE_RATE)
        scores.append(_scorer(rules).scores(descriptors))
        loudness.append(descriptors["loudness_db"])
    silent_db = rules.silent_db if rules is not None else SILENT_DB
    shape = (len(starts), len(positions))
    return SliderSweep(params.reshape(*shape, -1), np.concatenate(scores).reshape(*shape, -1),
                       (np.concatenate(loudness) >= silent_db).reshape(shape))


def slider_rank_correlations(positions: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Spearman correlation of each sweep's scores ``(S, K)`` with the positions ``(K,)``; a
    sweep whose score never changes (a silent start) correlates with nothing: 0."""
    rhos = np.array([spearmanr(positions, row).statistic for row in scores], dtype=np.float64)
    return np.nan_to_num(rhos)


def suggest_tags(pairs: Sequence[tuple[str, str]], values: Sequence[float],
                 threshold: float = TAG_THRESHOLD) -> list[str]:
    """Tags of the semantic sliders' positions: the negative tag below ``-threshold``..."""
    tags = []
    for (negative, positive), value in zip(pairs, values, strict=False):
        if value <= -threshold:
            tags.append(negative)
        elif value >= threshold:
            tags.append(positive)
    return tags
