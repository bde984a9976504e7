"""Files dropped on the window: sounds to match, presets to open, folders of presets to import.

:class:`DropRouter` is an event filter for the main window; it only sorts what was dropped and
emits the matching intent. Anything that is neither a preset nor a folder is treated as a sound
to match, so a non-audio file gets the matcher's clear "cannot be read as audio" message.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent

__all__ = ["PRESET_SUFFIXES", "DropRouter", "classify"]

PRESET_SUFFIXES = (".h2p", ".fspreset")


def classify(path: str) -> str:
    """'folder', 'preset' or 'sound'."""
    p = Path(path)
    if p.is_dir():
        return "folder"
    if p.suffix.casefold() in PRESET_SUFFIXES:
        return "preset"
    return "sound"


class DropRouter(QObject):
    sound_dropped = Signal(str)
    preset_dropped = Signal(str)
    folder_dropped = Signal(str)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            drag: QDragEnterEvent = event  # type: ignore[assignment]
            if drag.mimeData().hasUrls():
                drag.acceptProposedAction()
                return True
        elif event.type() == QEvent.Type.Drop:
            drop: QDropEvent = event  # type: ignore[assignment]
            paths = [url.toLocalFile() for url in drop.mimeData().urls() if url.isLocalFile()]
            for path in paths:
                self.route(path)
            drop.acceptProposedAction()
            return True
        return super().eventFilter(watched, event)

    def route(self, path: str) -> None:
        kind = classify(path)
        {"folder": self.folder_dropped, "preset": self.preset_dropped,
         "sound": self.sound_dropped}[kind].emit(path)
