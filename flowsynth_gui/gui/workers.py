"""Work off the GUI thread: serial lanes where the latest request wins, and one-off jobs.

A :class:`Lane` runs its requests one at a time, in order, on a QThreadPool thread. A request
submitted with a ``key`` replaces a still-pending request with the same key at the end of the
queue: while the user drags, only the newest cursor position is computed, and a discrete action
queued behind it (an undo) is never dropped nor overtaken.

Errors never pass silently: a failing request is logged and reported to ``on_error`` (the
session turns it into a message in the window), and the lane goes on.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

from PySide6.QtCore import QRunnable, QThreadPool

__all__ = ["ErrorSink", "Lane", "run_job"]

log = logging.getLogger(__name__)

ErrorSink = Callable[[str, BaseException], None]
Prepare = Callable[[], None] | None


class _Call(QRunnable):
    def __init__(self, fn: Callable[[], None]) -> None:
        super().__init__()
        self._fn = fn
        self.setAutoDelete(True)

    def run(self) -> None:
        self._fn()


def _guarded(task: str, fn: Callable[[], None], on_error: ErrorSink,
             prepare: Prepare = None) -> None:
    try:
        if prepare is not None:
            prepare()  # e.g. the imports the job needs (see gui/imports.py)
        fn()
    except Exception as err:  # reported, never silent: the window shows it
        log.exception("%s failed", task)
        on_error(task, err)


def run_job(pool: QThreadPool, task: str, fn: Callable[[], None], on_error: ErrorSink,
            prepare: Prepare = None) -> None:
    """Run ``fn`` once on ``pool`` (after ``prepare``); an exception goes to
    ``on_error(task, err)``."""
    pool.start(_Call(lambda: _guarded(task, fn, on_error, prepare)))


class Lane:
    """Serial requests on a pool thread; keyed requests coalesce (latest wins)."""

    def __init__(self, pool: QThreadPool, name: str, on_error: ErrorSink,
                 prepare: Prepare = None) -> None:
        self._pool = pool
        self.name = name
        self._on_error = on_error
        self._prepare = prepare
        self._lock = threading.Lock()
        self._queue: deque[tuple[str | None, str, Callable[[], None]]] = deque()
        self._running = False
        self._idle = threading.Condition(self._lock)
        self.coalesced = 0  # requests replaced by a newer one (for benchmarks)

    def submit(self, task: str, fn: Callable[[], None], key: str | None = None) -> None:
        """Queue ``fn``; with ``key``, replace a pending request of that key at the queue's end."""
        with self._lock:
            if key is not None and self._queue and self._queue[-1][0] == key:
                self._queue[-1] = (key, task, fn)
                self.coalesced += 1
            else:
                self._queue.append((key, task, fn))
            if self._running:
                return
            self._running = True
        self._pool.start(_Call(self._drain))

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._running = False
                    self._idle.notify_all()
                    return
                _, task, fn = self._queue.popleft()
            _guarded(task, fn, self._on_error, self._prepare)

    def clear(self) -> None:
        """Drop pending requests (the running one finishes)."""
        with self._lock:
            self._queue.clear()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or running; False on timeout."""
        with self._lock:
            return self._idle.wait_for(lambda: not self._running, timeout)
