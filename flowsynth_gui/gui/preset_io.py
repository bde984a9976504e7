"""Preset files and small preset computations for the session (Qt-free).

- :func:`export_h2p`, :func:`export_fspreset`, :func:`read_preset_file` — the file formats;
- :func:`suggest_tags` — tags the semantic sliders suggest for the current sound;
- :func:`blend_presets` — a preset on the way from A to B (interpolation's in-between steps).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from flowsynth_gui.fileio import atomic_write_text, first_free_path
from flowsynth_gui.presets.h2p import read_h2p, write_h2p
from flowsynth_gui.presets.h2p_writer import h2p_target_path
from flowsynth_gui.presets.library import PRESET_SUFFIX, Preset
from flowsynth_gui.presets.names import sanitise_preset_name
from flowsynth_gui.synth.params import spec_by_name

__all__ = ["blend_presets", "export_fspreset", "export_h2p", "read_preset_file",
           "suggest_tags"]

TAG_THRESHOLD = 0.7  # half of Flow_dis's tag_mu: a slider past it reads as tagged


def export_h2p(path: str | os.PathLike[str], values: Mapping[str, float], *, author: str = "",
               description: str = "", tags: Sequence[str] = ()) -> Path:
    """Write a Diva preset; returns where it went (the name sanitised, ``.h2p`` added, and
    numbered if a file of that name exists: an export never replaces one)."""
    return write_h2p(first_free_path(h2p_target_path(path)), values, author=author,
                     description=description, character=[t for t in tags if t])


def export_fspreset(path: str | os.PathLike[str], name: str, values: Mapping[str, float], *,
                    tags: Sequence[str] = (), latent: Sequence[float] | None = None,
                    author: str = "", description: str = "") -> Path:
    """Write FlowSynth's own preset format (JSON, ``.fspreset``) atomically (numbered if a
    file of that name exists)."""
    target = Path(path)
    if target.suffix != PRESET_SUFFIX:
        target = target.with_name(target.name + PRESET_SUFFIX)
    target = first_free_path(target)
    preset = Preset(sanitise_preset_name(name), dict(values), list(tags),
                    None if latent is None else [float(v) for v in latent], author, description)
    atomic_write_text(target, preset.to_json())
    return target


def read_preset_file(path: str | os.PathLike[str]) -> Preset:
    """A ``.h2p`` or ``.fspreset`` file as a Preset (H2pFormatError/PresetFormatError if bad)."""
    source = Path(path)
    if source.suffix.casefold() == ".h2p":
        return Preset.from_h2p(read_h2p(source))
    return Preset.from_json(source.read_bytes())


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


def blend_presets(a: Mapping[str, float], b: Mapping[str, float], model_values: np.ndarray,
                  names: Sequence[str], t: float) -> dict[str, float]:
    """The model's parameters from ``model_values``; every other parameter A or B set, blended
    straight (a parameter only one of them sets takes the synth default on the other side)."""
    others = (set(a) | set(b)) - set(names)
    blended = {}
    for name in sorted(others):
        default = spec_by_name(name).default_normalised
        va, vb = a.get(name, default), b.get(name, default)
        blended[name] = float(np.clip((1.0 - t) * va + t * vb, 0.0, 1.0))
    blended.update(zip(names, np.clip(model_values, 0.0, 1.0).tolist(), strict=True))
    return blended
