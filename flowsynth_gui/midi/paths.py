"""Where the MIDI services keep the user's files (CC map override, learned bindings).

The folder is ``$FLOWSYNTH_CONFIG_DIR`` when set (tests, portable installs), otherwise the
platform's per-user configuration folder: ``%APPDATA%\\FlowSynth`` on Windows,
``~/Library/Application Support/FlowSynth`` on macOS, ``$XDG_CONFIG_HOME/flowsynth`` (default
``~/.config/flowsynth``) elsewhere. Nothing here creates the folder: writers do, atomically.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = [
    "CONFIG_DIR_ENV",
    "LEARN_FILE_NAME",
    "USER_CC_MAP_NAME",
    "config_dir",
    "learn_file_path",
    "user_cc_map_path",
]

CONFIG_DIR_ENV = "FLOWSYNTH_CONFIG_DIR"
USER_CC_MAP_NAME = "midi_cc_map.json"
LEARN_FILE_NAME = "midi_learn.json"


def config_dir() -> Path:
    """The per-user configuration folder (it may not exist yet)."""
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("APPDATA")
        return Path(base) / "FlowSynth" if base else Path.home() / "FlowSynth"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "FlowSynth"
    base = os.environ.get("XDG_CONFIG_HOME")
    return (Path(base) if base else Path.home() / ".config") / "flowsynth"


def user_cc_map_path(folder: str | os.PathLike[str] | None = None) -> Path:
    """The user's copy of the CC map, which overrides the default one when it exists."""
    return (Path(folder) if folder is not None else config_dir()) / USER_CC_MAP_NAME


def learn_file_path(folder: str | os.PathLike[str] | None = None) -> Path:
    """The file that keeps MIDI-learn bindings (CC -> named control) between sessions."""
    return (Path(folder) if folder is not None else config_dir()) / LEARN_FILE_NAME
