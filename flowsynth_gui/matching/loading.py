"""The shipped default index, and opening an index with a message instead of a crash."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from flowsynth_gui.matching.index import SoundIndex, SoundIndexError, load_index
from flowsynth_gui.paths import CHECKPOINTS_DIR

__all__ = ["DEFAULT_INDEX", "open_index"]

DEFAULT_INDEX = CHECKPOINTS_DIR / "flowsynth_index_32"


def open_index(path: str | os.PathLike[str] | None, names: Sequence[str],
               ) -> tuple[SoundIndex | None, str | None]:
    """The index at ``path`` (default: the shipped one) if it is usable for ``names``, else
    None and a sentence saying why and what matching falls back to."""
    folder = Path(path) if path is not None else DEFAULT_INDEX
    fallback = "matching uses the model alone"
    if not folder.exists():
        return None, f"no sound index at {folder}: {fallback}"
    try:
        index = load_index(folder)
    except SoundIndexError as err:
        return None, f"{err}; until then {fallback}"
    if index.names != tuple(names):
        return None, (f"the sound index at {folder} covers other parameters than the model "
                      f"({len(index.names)} vs {len(names)}): {fallback}")
    return index, None
