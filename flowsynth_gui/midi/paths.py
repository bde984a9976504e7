"""Where the MIDI services keep the user's files (CC map override, learned bindings): in the
user's configuration folder, :func:`flowsynth_gui.paths.config_dir`. Nothing here creates the
folder: writers do, atomically.
"""

from __future__ import annotations

import os
from pathlib import Path

from flowsynth_gui.paths import CONFIG_DIR_ENV, config_dir

__all__ = [
    "CONFIG_DIR_ENV",
    "LEARN_FILE_NAME",
    "USER_CC_MAP_NAME",
    "config_dir",
    "learn_file_path",
    "user_cc_map_path",
]

USER_CC_MAP_NAME = "midi_cc_map.json"
LEARN_FILE_NAME = "midi_learn.json"


def user_cc_map_path(folder: str | os.PathLike[str] | None = None) -> Path:
    """The user's copy of the CC map, which overrides the default one when it exists."""
    return (Path(folder) if folder is not None else config_dir()) / USER_CC_MAP_NAME


def learn_file_path(folder: str | os.PathLike[str] | None = None) -> Path:
    """The file that keeps MIDI-learn bindings (CC -> named control) between sessions."""
    return (Path(folder) if folder is not None else config_dir()) / LEARN_FILE_NAME
