"""Where FlowSynth's files live: its package data, the shipped checkpoints, the user's folders.

- ``RESOURCES_DIR``: the synth's parameter specs, the Diva template, the CC map and the
  training configs, read as package data (``importlib.resources``): the copy inside an
  installed wheel, or, in a source checkout, ``flowsynth_gui/resources``, which links to the
  repository's top-level ``resources/``.
- ``CHECKPOINTS_DIR``: the shipped model, posterior and sound index (a source checkout's).
- The user's folders, none created here (writers create them, atomically): ``config_dir()``
  (CC map override, MIDI learn), ``data_dir()`` (the preset library) and ``cache_dir()`` (macro
  rankings). Data and cache are the folders Qt's ``QStandardPaths`` gives the app
  (organisation and application "FlowSynth"), computed without Qt so the core can use them.
"""

from __future__ import annotations

import os
import sys
from importlib.resources import files
from pathlib import Path

__all__ = [
    "CHECKPOINTS_DIR",
    "CONFIG_DIR_ENV",
    "DEFAULT_MODEL",
    "DEFAULT_POSTERIOR",
    "PROJECT_ROOT",
    "RESOURCES_DIR",
    "cache_dir",
    "config_dir",
    "data_dir",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESOURCES_DIR = Path(str(files("flowsynth_gui") / "resources"))
CHECKPOINTS_DIR = PROJECT_ROOT / "checkpoints"
DEFAULT_MODEL = CHECKPOINTS_DIR / "flowsynth_flow_dis_32.pt"  # the shipped model
DEFAULT_POSTERIOR = CHECKPOINTS_DIR / "flowsynth_posterior_32.pt"  # p(parameters | sound)

CONFIG_DIR_ENV = "FLOWSYNTH_CONFIG_DIR"  # tests and portable installs put the config here
APP_FOLDER = Path("FlowSynth", "FlowSynth")  # organisation / application, as Qt nests them


def _env_path(name: str, fallback: Path) -> Path:
    value = os.environ.get(name)
    return Path(value) if value and Path(value).is_absolute() else fallback


def config_dir() -> Path:
    """The per-user configuration folder: ``$FLOWSYNTH_CONFIG_DIR`` when set, otherwise
    ``%APPDATA%\\FlowSynth`` on Windows, ``~/Library/Application Support/FlowSynth`` on macOS,
    ``$XDG_CONFIG_HOME/flowsynth`` (default ``~/.config/flowsynth``) elsewhere."""
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return Path(override).expanduser()
    if sys.platform == "win32":
        return _env_path("APPDATA", Path.home()) / "FlowSynth"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "FlowSynth"
    return _env_path("XDG_CONFIG_HOME", Path.home() / ".config") / "flowsynth"


def data_dir() -> Path:
    """The app's own data (the preset library lives in ``presets/`` under it)."""
    if sys.platform == "win32":
        return _env_path("APPDATA", Path.home() / "AppData" / "Roaming") / APP_FOLDER
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / APP_FOLDER
    return _env_path("XDG_DATA_HOME", Path.home() / ".local" / "share") / APP_FOLDER


def cache_dir() -> Path:
    """Files the app can rebuild at any time (macro rankings live in ``macros/`` under it)."""
    if sys.platform == "win32":
        return _env_path("LOCALAPPDATA", Path.home() / "AppData" / "Local") / APP_FOLDER / "cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / APP_FOLDER
    return _env_path("XDG_CACHE_HOME", Path.home() / ".cache") / APP_FOLDER
