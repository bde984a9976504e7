"""A guard against a reference-count bug of PySide6 6.12.0 on Python 3.11.

PySide6 6.12.0's ``SignalInstance.emit`` returns ``True`` without taking a reference to it:
every ``signal.emit(...)`` from Python code (ours, and pyqtgraph's many internal signals)
takes one reference away from ``True``. On Python 3.12+ ``True``, ``False`` and ``None`` are
immortal and nothing happens; on 3.11 the count reaches zero after a few thousand emits and the
interpreter aborts ("bool_dealloc: deallocating True or False"). A map drag emits hundreds of
signals a second, so the app would crash within a minute.

:func:`shield_singletons` detects the bug (one emit, count before and after) and, only then,
adds 2**40 references to ``True``, ``False`` and ``None`` — making them as good as immortal,
which is what Python 3.12 does. Nothing is changed on fixed versions of PySide6 or on 3.12+.
Remove this module once the project requires a PySide6 without the bug.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

__all__ = ["emit_steals_true", "shield_singletons"]

_BOOST = 1 << 40  # a million emits a second for twelve days
_shielded = False


class _Probe(QObject):
    probed = Signal(int)


def emit_steals_true() -> bool:
    """Whether ``Signal.emit`` takes a reference away from ``True`` (the PySide6 6.12.0 bug)."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False  # immortal singletons: counts do not move
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(8):
        probe.probed.emit(0)
    return sys.getrefcount(True) < before


def shield_singletons() -> bool:
    """Guard ``True``/``False``/``None`` when the bug is present; True if it was (idempotent)."""
    global _shielded
    if _shielded:
        return True
    if not emit_steals_true():
        return False
    for singleton in (True, False, None):
        ctypes.c_ssize_t.from_address(id(singleton)).value += _BOOST
    _shielded = True
    return True
