"""The shipped default index and parameter posterior, and opening them with a message
instead of a crash: matching works without either."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from flowsynth_gui.matching.index import SoundIndex, SoundIndexError, load_index
from flowsynth_gui.models.checkpoint import CheckpointError
from flowsynth_gui.models.param_posterior import LoadedPosterior, load_posterior
from flowsynth_gui.paths import CHECKPOINTS_DIR, DEFAULT_POSTERIOR

__all__ = ["DEFAULT_INDEX", "DEFAULT_POSTERIOR", "open_index", "open_posterior"]

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


def open_posterior(path: str | os.PathLike[str] | None, names: Sequence[str],
                   index: SoundIndex | None) -> tuple[LoadedPosterior | None, str | None]:
    """The parameter posterior at ``path`` (default: the shipped one) if it fits ``names``
    and ``index`` (it is conditioned on the index's embedding), else None and why."""
    file = Path(path) if path is not None else DEFAULT_POSTERIOR
    fallback = "matching goes on without the parameter posterior"
    if index is None:
        return None, f"the parameter posterior needs a sound index: {fallback}"
    if not file.exists():
        return None, f"no parameter posterior at {file}: {fallback}"
    try:
        return load_posterior(file, tuple(names), index.fingerprint), None
    except CheckpointError as err:
        return None, f"{err}; {fallback}"
