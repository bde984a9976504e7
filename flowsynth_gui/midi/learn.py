"""MIDI-learn bindings (a controller's CC -> a named control) and the file that keeps them.

The file is JSON, written atomically (by a saver thread when bindings change on the MIDI thread)::

    {"format": "flowsynth-midi-learn", "format_version": 1,
     "bindings": [{"control": "Macro 1", "channel": 1, "cc": 21}]}

>>> LearnedBinding("Macro 1", channel=1, cc=21)
LearnedBinding(control='Macro 1', channel=1, cc=21)
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowsynth_gui.fileio import atomic_write_text

__all__ = [
    "BindingsSaver",
    "LEARN_FORMAT",
    "LEARN_FORMAT_VERSION",
    "LearnFileError",
    "LearnedBinding",
    "load_bindings",
    "save_bindings",
]

LEARN_FORMAT = "flowsynth-midi-learn"
LEARN_FORMAT_VERSION = 1

log = logging.getLogger(__name__)


class LearnFileError(ValueError):
    """A learn file FlowSynth cannot read; the message says what to fix."""


@dataclass(frozen=True)
class LearnedBinding:
    """A controller's CC (channel 1..16, CC 0..119) bound to a named control."""

    control: str
    channel: int
    cc: int

    def __post_init__(self) -> None:
        if not isinstance(self.control, str) or not self.control.strip():
            raise ValueError(f"control name {self.control!r}: give a non-empty name")
        for what, value, top in (("channel", self.channel, 16), ("CC", self.cc, 119)):
            low = 1 if what == "channel" else 0
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= top:
                raise ValueError(f"{what} {value!r} for {self.control!r}: use {low}..{top}")


def load_bindings(path: str | os.PathLike[str]) -> dict[str, LearnedBinding]:
    """Bindings by control name; {} when the file does not exist, LearnFileError when broken."""
    path = Path(path)
    if not path.exists():
        return {}
    hint = "fix it or delete it (MIDI-learn bindings are then forgotten)"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise LearnFileError(f"cannot read the MIDI-learn file {path}: {err}; {hint}") from None
    if not isinstance(data, dict) or data.get("format") != LEARN_FORMAT \
            or data.get("format_version") != LEARN_FORMAT_VERSION \
            or not isinstance(data.get("bindings"), list):
        raise LearnFileError(f"{path} is not a version-{LEARN_FORMAT_VERSION} {LEARN_FORMAT!r} "
                             f"file; {hint}")
    bindings: dict[str, LearnedBinding] = {}
    used: dict[tuple[int, int], str] = {}
    for i, entry in enumerate(data["bindings"]):
        binding = _binding_from_entry(entry, f"{path}: binding {i + 1}", hint)
        key = (binding.channel, binding.cc)
        if binding.control in bindings or key in used:
            raise LearnFileError(f"{path}: binding {i + 1} repeats control {binding.control!r} "
                                 f"or channel {key[0]} CC {key[1]}; {hint}")
        bindings[binding.control] = binding
        used[key] = binding.control
    return bindings


def _binding_from_entry(entry: Any, where: str, hint: str) -> LearnedBinding:
    if not isinstance(entry, dict) or set(entry) != {"control", "channel", "cc"}:
        raise LearnFileError(f'{where}: expected {{"control": ..., "channel": 1..16, '
                             f'"cc": 0..119}}; {hint}')
    try:
        return LearnedBinding(entry["control"], entry["channel"], entry["cc"])
    except ValueError as err:
        raise LearnFileError(f"{where}: {err}; {hint}") from None


def save_bindings(path: str | os.PathLike[str], bindings: Mapping[str, LearnedBinding]) -> None:
    """Write the bindings atomically (a crash mid-write keeps the previous file)."""
    entries = [{"control": b.control, "channel": b.channel, "cc": b.cc}
               for b in bindings.values()]
    document = {"format": LEARN_FORMAT, "format_version": LEARN_FORMAT_VERSION,
                "bindings": entries}
    atomic_write_text(path, json.dumps(document, indent=2) + "\n")


class BindingsSaver:
    """Writes the latest snapshot of the bindings on its own thread (never the MIDI thread)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.last_error: str | None = None
        self._cond = threading.Condition()
        self._snapshot: dict[str, LearnedBinding] | None = None
        self._closing = False
        self._thread: threading.Thread | None = None

    def request(self, snapshot: dict[str, LearnedBinding]) -> None:
        with self._cond:
            self._snapshot = snapshot  # only the newest matters
            if self._thread is None and not self._closing:
                self._thread = threading.Thread(target=self._run, name="midi-learn-saver",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._snapshot is None and not self._closing:
                    self._cond.wait()
                snapshot, self._snapshot = self._snapshot, None
                closing = self._closing
            if snapshot is not None:
                self._write(snapshot)
            if closing and snapshot is None:
                return

    def _write(self, snapshot: dict[str, LearnedBinding]) -> None:
        try:
            save_bindings(self.path, snapshot)
            self.last_error = None
        except OSError as err:
            self.last_error = f"cannot save MIDI-learn bindings to {self.path}: {err}"
            log.error("%s", self.last_error)

    def close(self) -> None:
        """Write what is pending and stop the thread (a later request starts a new one)."""
        with self._cond:
            self._closing = True
            thread = self._thread
            self._cond.notify()
        if thread is not None:
            thread.join()
        with self._cond:
            self._closing, self._thread = False, None
