"""Python's cyclic garbage collector, run on the GUI thread only.

The collector runs in whichever thread happens to allocate when a threshold is crossed. With
worker threads (the session's lanes, MIDI and audio threads) that may be a worker, and if the
garbage holds a Qt object (a closed dialog caught in a reference cycle with a lambda) Qt then
destroys it off its thread and the process crashes. While a session runs, automatic collection
is off and a GUI-thread timer collects instead, generation by generation as the thresholds say
(what pyqtgraph's GarbageCollector does; one shared guard, counted, so sessions may overlap).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

__all__ = ["GuiThreadCollector"]

_INTERVAL_MS = 500


class GuiThreadCollector(QObject):
    _users = 0
    _was_enabled = True

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setInterval(_INTERVAL_MS)
        self._timer.timeout.connect(self.check)
        self._active = False

    def start(self) -> None:
        if self._active:
            return
        self._active = True
        if GuiThreadCollector._users == 0:
            GuiThreadCollector._was_enabled = gc.isenabled()
            gc.disable()
        GuiThreadCollector._users += 1
        self._timer.start()

    def check(self) -> None:
        """Collect the generations whose thresholds were crossed (GUI thread)."""
        thresholds, counts = gc.get_threshold(), gc.get_count()
        generation = -1
        for level in range(3):
            if counts[level] > thresholds[level]:
                generation = level
            else:
                break
        if generation >= 0:
            gc.collect(generation)

    def settle(self) -> None:
        """Collect once, then freeze what survives (GUI thread). Called when a model has
        loaded: the model, the window and the map then stay out of every later collection,
        whose full passes otherwise scan them all and stalled the window by 50-90 ms. A
        later call thaws the earlier survivors first, so a replaced model can be collected."""
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    def stop(self) -> None:
        """Collect everything here, then give collection back to Python (last user)."""
        if not self._active:
            return
        self._active = False
        self._timer.stop()
        GuiThreadCollector._users -= 1
        gc.unfreeze()
        gc.collect()
        if GuiThreadCollector._users == 0 and GuiThreadCollector._was_enabled:
            gc.enable()
