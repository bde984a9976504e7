"""``--screenshot PNG``: show the window at work, save it, quit (for the docs).

Once the map is filled, it matches a demo sound (a sketch rendered a fourth lower, written to a
temporary WAV), lets the match's search run to its end, loads a preset from the map, asks for
variations around it, waits for the preview, then grabs the window with ``QWidget.grab()``
(works offscreen).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from flowsynth_gui.gui.main_window import MainWindow

__all__ = ["take_when_ready"]

log = logging.getLogger(__name__)

_TIMEOUT_MS = 180_000
_SETTLE_MS = 2500
_SIZE = (1600, 1000)



def take_when_ready(window: MainWindow, path: str) -> None:
    _Choreography(window, path)


class _Choreography:
    def __init__(self, window: MainWindow, path: str) -> None:
        self.window, self.path = window, path
        self.session = window.session
        self.step = "waiting for the map"
        self.tmp = tempfile.TemporaryDirectory()
        self.session.map_changed.connect(self._map_ready)
        self.session.macros_ranked.connect(lambda _: self._map_ready(self.session.map_snapshot))
        QTimer.singleShot(_TIMEOUT_MS, self._grab)
        window.resize(*_SIZE)
        window._screenshot = self  # noqa: SLF001 - keep alive with the window

    def _map_ready(self, snapshot: object) -> None:
        session = self.session
        if self.step != "waiting for the map" or snapshot is None or not session.macros:
            return
        names = snapshot.names
        if not any(n.startswith("Sketch") for n in names):
            return
        self.step = "matching"
        sketch = next(i for i, n in enumerate(names) if n.startswith("Sketch 00"))
        session.match_ready.connect(self._matched)
        session.match_file(self._demo_target(sketch))

    def _demo_target(self, index: int) -> str:
        from flowsynth_gui.explorer.sounds import render_preview, write_sound_file

        point = self.session.explorer.map.points[index]
        audio, _ = render_preview(point.params, note=55)
        return write_sound_file(str(Path(self.tmp.name) / "imitation.wav"), audio)

    def _matched(self, report: object) -> None:
        # The match lists its first candidates, then its live search ends with the final list.
        if self.step != "matching" or not getattr(report, "refined", False):
            return
        self.step = "loading"
        snapshot = self.session.map_snapshot
        names = snapshot.names
        # A preset with tags, so the export prefill and the colours show something.
        index = next((i for i, tags in enumerate(snapshot.tags)
                      if len(tags) >= 2 and names[i].startswith("Sketch")), 0)
        self.session.preset_loaded.connect(self._loaded)
        self.session.go_to_point(index, names[index])

    def _loaded(self, name: str) -> None:
        if self.step != "loading":
            return
        self.step = "settling"
        self.session.find_neighbours(6, 0.9)
        self.window.tabs.setCurrentWidget(self.window.matching)
        QTimer.singleShot(_SETTLE_MS, self._grab)

    def _grab(self) -> None:
        if self.step == "done":
            return
        self.step = "done"
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        ok = self.window.grab().save(self.path)
        log.info("screenshot %s: %s", "saved to" if ok else "could not be saved to", self.path)
        self.tmp.cleanup()
        self.window.close()
        QApplication.instance().quit()
