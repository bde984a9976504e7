"""Preset files: read a Diva ``.h2p`` or a FlowSynth ``.fspreset``, export either atomically.

An export never replaces a file: a taken name is numbered ("Name 2").
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from flowsynth_gui.fileio import atomic_write_text, first_free_path
from flowsynth_gui.presets.h2p import read_h2p, write_h2p
from flowsynth_gui.presets.h2p_writer import h2p_target_path
from flowsynth_gui.presets.library import PRESET_SUFFIX, Preset
from flowsynth_gui.presets.names import sanitise_preset_name

__all__ = ["export_fspreset", "export_h2p", "matched_note", "read_preset_file"]


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


def matched_note(path: str | os.PathLike[str]) -> int | None:
    """The MIDI note a ``flowsynth match`` JSON preset was matched at (it sounds like its input
    played there), or None for any other preset file."""
    source = Path(path)
    if source.suffix.casefold() == ".h2p":
        return None
    try:
        note = json.loads(source.read_bytes()).get("note")
    except (ValueError, AttributeError):
        return None
    return note if isinstance(note, int) and 0 <= note <= 127 else None
