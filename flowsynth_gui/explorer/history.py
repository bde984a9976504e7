"""Undo/redo history of the presets the user reached (parameters and latent).

A :class:`History` is a bounded list of :class:`HistoryEntry` with a cursor on the current
one. :meth:`History.push` drops the redo branch, appends, and forgets the oldest entries past
``max_depth``. Entries hold read-only copies of their arrays, so what undo returns is exactly
what was pushed, bit for bit.

>>> h = History(max_depth=2)
>>> for value in (0.1, 0.2, 0.3):
...     h.push(HistoryEntry(np.array([value]), None, "set"))
>>> h.undo().params.tolist(), h.can_undo
([0.2], False)
>>> h.redo().params.tolist()
[0.3]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

__all__ = ["History", "HistoryEntry"]


def _frozen(array: np.ndarray) -> np.ndarray:
    copy = np.array(array, dtype=np.float64, copy=True)
    copy.flags.writeable = False
    return copy


@dataclass(frozen=True)
class HistoryEntry:
    """One reached preset: the model's parameters, its latent (None if unknown), a label.

    ``extras`` holds the values of synth parameters outside the model's set (e.g. the effects
    of an imported ``.h2p``), which exploring leaves untouched.
    """

    params: np.ndarray
    z: np.ndarray | None
    label: str = ""
    extras: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", _frozen(self.params))
        if self.z is not None:
            object.__setattr__(self, "z", _frozen(self.z))
        object.__setattr__(self, "extras", MappingProxyType(dict(self.extras)))

    def same_preset(self, other: HistoryEntry) -> bool:
        """Equal parameters and extras (the latent follows from them)."""
        return (np.array_equal(self.params, other.params)
                and dict(self.extras) == dict(other.extras))


class History:
    """Bounded undo/redo over :class:`HistoryEntry` values."""

    def __init__(self, max_depth: int = 200) -> None:
        if max_depth < 1:
            raise ValueError(f"history depth must be at least 1, got {max_depth}")
        self.max_depth = max_depth
        self._entries: list[HistoryEntry] = []
        self._cursor = -1

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def entries(self) -> tuple[HistoryEntry, ...]:
        """Every entry, oldest first."""
        return tuple(self._entries)

    @property
    def current(self) -> HistoryEntry | None:
        return self._entries[self._cursor] if self._entries else None

    @property
    def position(self) -> int:
        """Index of the current entry in :attr:`entries` (-1 when empty)."""
        return self._cursor

    @property
    def can_undo(self) -> bool:
        return self._cursor > 0

    @property
    def can_redo(self) -> bool:
        return self._cursor < len(self._entries) - 1

    def push(self, entry: HistoryEntry) -> None:
        """Make ``entry`` current: the redo branch is dropped, the oldest past the depth too."""
        del self._entries[self._cursor + 1:]
        self._entries.append(entry)
        overflow = len(self._entries) - self.max_depth
        if overflow > 0:
            del self._entries[:overflow]
        self._cursor = len(self._entries) - 1

    def undo(self) -> HistoryEntry | None:
        """Step back; the entry now current, or None when there is nothing to undo."""
        if not self.can_undo:
            return None
        self._cursor -= 1
        return self._entries[self._cursor]

    def redo(self) -> HistoryEntry | None:
        """Step forward again; the entry now current, or None at the newest entry."""
        if not self.can_redo:
            return None
        self._cursor += 1
        return self._entries[self._cursor]

    def clear(self) -> None:
        self._entries.clear()
        self._cursor = -1
