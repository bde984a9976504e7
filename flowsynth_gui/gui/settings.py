"""The app's settings: one ``DEFAULTS`` dict in front of QSettings.

Every key the app reads or writes is in :data:`DEFAULTS`, whose value also fixes the key's type
(QSettings' INI files give strings back; :meth:`Settings.get` converts them). Lists are stored
as JSON text so that they read back the same on every platform.

The app keeps its settings in the user's INI file (``FlowSynth/FlowSynth.ini`` in the
platform's config folder); ``--settings FILE`` (tests, portable use) names another file, so a
test never touches the user's settings.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "s.ini")
>>> s = Settings.from_file(path)
>>> s.get("audio/blocksize")
256
>>> s.set("audio/blocksize", 512); s.sync()
>>> Settings.from_file(path).get("audio/blocksize")
512
"""

from __future__ import annotations

import json
import os
from typing import Any

from PySide6.QtCore import QSettings

__all__ = ["DEFAULTS", "Settings", "THEMES"]

THEMES = ("dark", "light")

DEFAULTS: dict[str, Any] = {
    # model: "" is the shipped default checkpoint
    "model/path": "",
    # audio: device names ("" is the system default); buffer size in frames
    "audio/output_device": "",
    "audio/input_device": "",
    "audio/blocksize": 256,
    "audio/auto_preview": True,
    "audio/normalise_preview": True,  # play previews at one loudness (audio/loudness.py)
    # MIDI: "" is no port; channel 1-16; API "" is the platform default (or FLOWSYNTH_MIDI_API)
    "midi/out_port": "",
    "midi/out_channel": 1,
    "midi/in_port": "",
    "midi/api": "",
    # the look
    "ui/theme": "dark",
    "ui/geometry": "",
    # the map: sketches sampled from the model, colouring, axes ("pca" or "i,j")
    "map/sketches": 160,
    "map/colour_by": 0,
    "map/axes": "pca",
    # presets: "" is the default library folder; imported .h2p folders are placed again
    "library/folder": "",
    "library/h2p_folders": [],
    "export/author": "",
    "export/folder": "",
    # explorer tools
    "match/budget_seconds": 2.0,  # how long a match searches (and "Search longer" adds)
    "match/imitate_recordings": True,  # a recording is matched by its shape (an imitation)
    "neighbours/count": 8,
    "neighbours/radius": 0.8,
    "interpolation/steps": 9,
    "macros/count": 6,
}


def _convert(key: str, raw: Any) -> Any:
    """A stored value → the type of its default (INI files hold strings)."""
    default = DEFAULTS[key]
    if isinstance(default, bool):
        if isinstance(raw, str):
            return raw.strip().lower() in ("true", "1", "yes", "on")
        return bool(raw)
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, list):
        value = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(value, list):
            raise ValueError(f"{key}: expected a list")
        return value
    return str(raw)


class Settings:
    """Typed access to a QSettings store; unknown keys are refused (typos fail loudly)."""

    def __init__(self, store: QSettings) -> None:
        self.store = store

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Settings:
        """Settings kept in the INI file ``path``."""
        return cls(QSettings(os.fspath(path), QSettings.Format.IniFormat))

    @classmethod
    def user(cls) -> Settings:
        """The user's own settings file."""
        return cls(QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                             "FlowSynth", "FlowSynth"))

    @property
    def path(self) -> str:
        return self.store.fileName()

    def get(self, key: str) -> Any:
        """The stored value, or the default when absent or unreadable."""
        if key not in DEFAULTS:
            raise KeyError(f"unknown setting {key!r}; add it to DEFAULTS first")
        raw = self.store.value(key)
        if raw is None:
            return _copy(DEFAULTS[key])
        try:
            return _convert(key, raw)
        except (TypeError, ValueError):  # a hand-edited or damaged file: fall back
            return _copy(DEFAULTS[key])

    def set(self, key: str, value: Any) -> None:
        if key not in DEFAULTS:
            raise KeyError(f"unknown setting {key!r}; add it to DEFAULTS first")
        if isinstance(DEFAULTS[key], list):
            value = json.dumps(list(value))
        self.store.setValue(key, value)

    def sync(self) -> None:
        """Write pending changes to disk now."""
        self.store.sync()


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value
