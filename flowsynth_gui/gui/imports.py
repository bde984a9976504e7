"""FlowSynth's service modules, imported on worker threads one thread at a time.

The window shows before torch, numba and scipy are loaded: workers import them. Python's own
import locks would let two workers import at once, but scipy's lazily loaded submodules do not
survive that ("Module 'scipy' has no attribute '_lib'", seen when the audio and the model
workers started together). So every worker job first calls :func:`require` for what it uses;
one lock makes the imports happen in a fixed order, once.
"""

from __future__ import annotations

import importlib
import threading

__all__ = ["GROUPS", "require", "services"]

# In dependency order: scipy (features) before numba (synth) before torch (models).
GROUPS: dict[str, tuple[str, ...]] = {
    "audio": ("flowsynth_gui.features", "flowsynth_gui.synth", "flowsynth_gui.audio"),
    "midi": ("flowsynth_gui.features", "flowsynth_gui.synth", "flowsynth_gui.midi"),
    "model": ("flowsynth_gui.features", "flowsynth_gui.synth", "flowsynth_gui.presets",
              "flowsynth_gui.presets.library", "flowsynth_gui.models",
              "flowsynth_gui.presets.files", "flowsynth_gui.explorer",
              "flowsynth_gui.explorer.sketches"),
}
_lock = threading.Lock()
_done: set[str] = set()


def require(group: str) -> None:
    """Import the modules of ``group`` (see :data:`GROUPS`) unless done; safe from any thread."""
    if group in _done:
        return
    with _lock:
        if group in _done:
            return
        for name in GROUPS[group]:
            importlib.import_module(name)
        _done.add(group)


def services() -> None:
    """What the session's workers use (the model group)."""
    require("model")
