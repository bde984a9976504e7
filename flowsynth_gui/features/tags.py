"""Semantic tags from audio descriptors, in the style of u-he Diva's ``Character`` metadata.

Diva presets carry opposite tag pairs (Dark/Bright, Constant/Moving, ...). Our generated corpus
has no hand tags, so each pair gets a *score* computed from the descriptors of the rendered
sound (:mod:`flowsynth_gui.features.descriptors`), and only clear cases are tagged: a sound in the
bottom fifth of the corpus's scores gets the negative tag, one in the top fifth the positive
tag, the middle stays untagged (DESIGN.md section 4; about 70 % of the paper's presets had no
tag either). The thresholds are fitted once on the training corpus and saved with datasets and
model sidecars, so that new sounds are tagged against the same scale.

The rules, one per pair (``TAG_PAIRS`` order):

- **Dark / Bright** — spectral centroid (Hz): where the spectrum's mass sits.
- **Constant / Moving** — modulation: timbre and amplitude movement during the held note.
- **Clean / Dirty** — spectral flatness: how noise-like the spectrum is.
- **Soft / Aggressive** — the mean of two corpus z-scores: attack sharpness and
  ``log10(hf_ratio + 1e-3)``. An aggressive sound both hits hard and bites: a sharp pluck
  through a closed filter, or a slow pad that is merely bright, are not aggressive, so neither
  descriptor alone decides. Z-scores give the two equal weight whatever their units; the log
  (floored at -30 dB) keeps sounds with almost no high band from dominating the spread.

Near-silent sounds (held-part RMS below ``silent_db``) are never tagged and do not take part in
fitting: their descriptors describe noise, not character.

>>> character_string(["Bright", "Moving"])
'Bright, Moving'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from flowsynth_gui.features.descriptors import Descriptors

__all__ = [
    "DEFAULT_FRACTION",
    "SILENT_DB",
    "TAG_NAMES",
    "TAG_PAIRS",
    "TagRules",
    "character_string",
    "labels_to_tags",
    "parse_character",
]

TAG_PAIRS: tuple[tuple[str, str], ...] = (
    ("Dark", "Bright"),
    ("Constant", "Moving"),
    ("Clean", "Dirty"),
    ("Soft", "Aggressive"),
)
TAG_NAMES: tuple[str, ...] = tuple(tag for pair in TAG_PAIRS for tag in pair)

# Descriptor behind each pair's score; "aggression" is the combined score described above.
_PAIR_SCORES = ("spectral_centroid", "modulation", "spectral_flatness", "aggression")
_AGGRESSION_INPUTS = ("attack_sharpness", "hf_ratio")
_HF_FLOOR = 1e-3

DEFAULT_FRACTION = 0.2
SILENT_DB = -60.0
_MIN_CORPUS = 10
_FORMAT_VERSION = 1


@dataclass(frozen=True)
class TagRules:
    """Per-pair score thresholds fitted on a corpus; see the module docstring for the rules.

    ``low[i]`` / ``high[i]``: a score at or below ``low`` gets pair ``i``'s negative tag, at or
    above ``high`` its positive tag. ``attack_mean``/``attack_std`` and ``hf_mean``/``hf_std``
    standardise the two inputs of the Soft/Aggressive score.
    """

    low: tuple[float, float, float, float]
    high: tuple[float, float, float, float]
    attack_mean: float
    attack_std: float
    hf_mean: float
    hf_std: float
    fraction: float = DEFAULT_FRACTION
    silent_db: float = SILENT_DB

    def __post_init__(self) -> None:
        values = (
            *self.low,
            *self.high,
            self.attack_mean,
            self.attack_std,
            self.hf_mean,
            self.hf_std,
            self.fraction,
            self.silent_db,
        )
        if len(self.low) != len(TAG_PAIRS) or len(self.high) != len(TAG_PAIRS):
            raise ValueError(f"TagRules: need {len(TAG_PAIRS)} low and high thresholds")
        if not np.isfinite(values).all():
            raise ValueError("TagRules: thresholds and statistics must be finite")
        if self.attack_std <= 0 or self.hf_std <= 0 or not 0 < self.fraction < 0.5:
            raise ValueError("TagRules: stds must be > 0 and fraction in (0, 0.5)")

    # --- fitting ---------------------------------------------------------------------------

    @classmethod
    def fit(
        cls,
        descriptor_arrays: Mapping[str, np.ndarray],
        fraction: float = DEFAULT_FRACTION,
        silent_db: float = SILENT_DB,
    ) -> TagRules:
        """Fit thresholds on a corpus (name -> ``(n,)`` arrays, as ``compute_descriptors_batch``).

        Use the training corpus: the thresholds then travel with the model.
        """
        arrays = _as_arrays(descriptor_arrays)
        audible = arrays["loudness_db"] >= silent_db
        if audible.sum() < _MIN_CORPUS:
            raise ValueError(
                f"TagRules.fit: {int(audible.sum())} audible sounds (loudness >= {silent_db} dB);"
                f" need at least {_MIN_CORPUS} to place the thresholds"
            )
        corpus = {name: values[audible] for name, values in arrays.items()}
        log_hf = _log_hf(corpus["hf_ratio"])
        stats = dict(
            attack_mean=float(corpus["attack_sharpness"].mean()),
            attack_std=_positive_std(corpus["attack_sharpness"]),
            hf_mean=float(log_hf.mean()),
            hf_std=_positive_std(log_hf),
        )
        scores = _scores(corpus, **stats)
        low = np.quantile(scores, fraction, axis=0)
        high = np.quantile(scores, 1.0 - fraction, axis=0)
        return cls(
            low=_four(low),
            high=_four(high),
            fraction=float(fraction),
            silent_db=float(silent_db),
            **stats,
        )

    # --- applying --------------------------------------------------------------------------

    def scores(self, descriptor_arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        """Per-pair scores ``(n, 4)``, float64, in ``TAG_PAIRS`` order."""
        return _scores(
            _as_arrays(descriptor_arrays),
            self.attack_mean,
            self.attack_std,
            self.hf_mean,
            self.hf_std,
        )

    def labels(self, descriptor_arrays: Mapping[str, np.ndarray]) -> np.ndarray:
        """int8 ``(n, 4)``: -1 negative tag, +1 positive tag, 0 untagged, per pair.

        A pair whose thresholds coincide (a corpus without spread) tags nobody.
        """
        arrays = _as_arrays(descriptor_arrays)
        scores = self.scores(arrays)
        low, high = np.asarray(self.low), np.asarray(self.high)
        spread = high > low
        labels = np.zeros(scores.shape, dtype=np.int8)
        labels[(scores <= low) & spread] = -1
        labels[(scores >= high) & spread] = 1
        labels[arrays["loudness_db"] < self.silent_db] = 0
        return labels

    def tags_for(self, descriptors: Descriptors | Mapping[str, float]) -> list[str]:
        """Tags of one sound, in ``TAG_PAIRS`` order, e.g. ``['Bright', 'Moving']``."""
        if isinstance(descriptors, Descriptors):
            values = dict(zip(Descriptors.names(), descriptors.as_array(), strict=True))
        else:
            values = dict(descriptors)
        row = self.labels({name: np.array([value]) for name, value in values.items()})[0]
        return labels_to_tags(row)

    # --- saving ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        pairs = [
            {"negative": neg, "positive": pos, "score": score, "low": lo, "high": hi}
            for (neg, pos), score, lo, hi in zip(
                TAG_PAIRS, _PAIR_SCORES, self.low, self.high, strict=True
            )
        ]
        return {
            "format_version": _FORMAT_VERSION,
            "fraction": self.fraction,
            "silent_db": self.silent_db,
            "pairs": pairs,
            "aggression": {
                "attack_sharpness": {"mean": self.attack_mean, "std": self.attack_std},
                "log10_hf_ratio": {"mean": self.hf_mean, "std": self.hf_std, "floor": _HF_FLOOR},
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TagRules:
        try:
            if data["format_version"] != _FORMAT_VERSION:
                raise ValueError(
                    f"TagRules.from_dict: format_version {data['format_version']} is not "
                    f"{_FORMAT_VERSION}; refit the rules on the corpus"
                )
            pairs = data["pairs"]
            found = [(p["negative"], p["positive"]) for p in pairs]
            if tuple(found) != TAG_PAIRS:
                raise ValueError(f"TagRules.from_dict: pairs {found} differ from {TAG_PAIRS}")
            attack = data["aggression"]["attack_sharpness"]
            high_band = data["aggression"]["log10_hf_ratio"]
            return cls(
                low=_four([p["low"] for p in pairs]),
                high=_four([p["high"] for p in pairs]),
                attack_mean=float(attack["mean"]),
                attack_std=float(attack["std"]),
                hf_mean=float(high_band["mean"]),
                hf_std=float(high_band["std"]),
                fraction=float(data["fraction"]),
                silent_db=float(data["silent_db"]),
            )
        except (KeyError, TypeError) as err:
            raise ValueError(f"TagRules.from_dict: malformed rules ({err!r})") from None


# --- Diva's Character string -------------------------------------------------------------------


def labels_to_tags(row: Sequence[int] | np.ndarray) -> list[str]:
    """One row of :meth:`TagRules.labels` -> tag names in ``TAG_PAIRS`` order."""
    if len(row) != len(TAG_PAIRS):
        raise ValueError(f"labels_to_tags: need {len(TAG_PAIRS)} labels, got {len(row)}")
    return [
        pair[0] if label < 0 else pair[1]
        for pair, label in zip(TAG_PAIRS, row, strict=True)
        if label != 0
    ]


def character_string(tags: Iterable[str]) -> str:
    """Diva's ``Character`` value: tags joined by comma-space, duplicates dropped."""
    unique: list[str] = []
    for tag in tags:
        name = tag.strip()
        if not name or any(c in name for c in ",'\n"):
            raise ValueError(
                f"character_string: {tag!r} is not a valid tag (empty, or holds "
                "a comma, quote or newline)"
            )
        if name not in unique:
            unique.append(name)
    return ", ".join(unique)


def parse_character(text: str) -> list[str]:
    """Diva ``Character`` value -> tag names (``'Bright, Moving'`` -> ``['Bright', 'Moving']``)."""
    return [part.strip() for part in text.split(",") if part.strip()]


# --- internals -----------------------------------------------------------------------------


def _as_arrays(descriptor_arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    needed = (
        "spectral_centroid",
        "modulation",
        "spectral_flatness",
        *_AGGRESSION_INPUTS,
        "loudness_db",
    )
    missing = [name for name in needed if name not in descriptor_arrays]
    if missing:
        raise ValueError(f"tags: descriptor arrays lack {missing} (use compute_descriptors_batch)")
    arrays = {
        name: np.atleast_1d(np.asarray(descriptor_arrays[name], dtype=np.float64))
        for name in needed
    }
    lengths = {values.shape for values in arrays.values()}
    if len(lengths) != 1 or len(next(iter(lengths))) != 1:
        raise ValueError(f"tags: descriptor arrays must be 1-D and of equal length, got {lengths}")
    if not all(np.isfinite(values).all() for values in arrays.values()):
        raise ValueError("tags: descriptor arrays contain NaN or inf")
    return arrays


def _log_hf(hf_ratio: np.ndarray) -> np.ndarray:
    return np.log10(hf_ratio + _HF_FLOOR)


def _positive_std(values: np.ndarray) -> float:
    # A corpus where every sound has the same value still gives usable (if uninformative) scores.
    return float(values.std()) or 1.0


def _scores(
    arrays: Mapping[str, np.ndarray],
    attack_mean: float,
    attack_std: float,
    hf_mean: float,
    hf_std: float,
) -> np.ndarray:
    aggression = 0.5 * (
        (arrays["attack_sharpness"] - attack_mean) / attack_std
        + (_log_hf(arrays["hf_ratio"]) - hf_mean) / hf_std
    )
    columns = {**arrays, "aggression": aggression}
    return np.stack([columns[name] for name in _PAIR_SCORES], axis=1)


def _four(values: Sequence[float] | np.ndarray) -> tuple[float, float, float, float]:
    a, b, c, d = (float(v) for v in values)
    return a, b, c, d
