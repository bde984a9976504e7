"""The window's actions (menu and toolbar entries) and their shortcuts, in one place."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence

__all__ = ["Actions"]


class Actions(QObject):
    """Every action the menus and the toolbar show; the main window connects them."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.play = self._make("▶ Play", "Play the current sound (Space)", "Space")
        self.play.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.undo = self._make("Undo", "Back to the previous sound (Ctrl+Z)",
                               QKeySequence.StandardKey.Undo)
        self.redo = self._make("Redo", "Forward again (Ctrl+Shift+Z)", "Ctrl+Shift+Z")
        self.open_sound = self._make("Match sound…", "Open a sound file and match it",
                                     QKeySequence.StandardKey.Open)
        self.open_preset = self._make("Open preset…", "Open a .h2p or .fspreset file")
        self.export = self._make("Export…", "Export the current sound as .h2p or .fspreset",
                                 "Ctrl+E")
        self.import_folder = self._make("Import .h2p folder…",
                                        "Place a folder of Diva presets on the map", "Ctrl+I")
        self.load_model = self._make("Load model…", "Load another FlowSynth checkpoint")
        self.settings = self._make("Settings…", "Audio, MIDI, model, theme",
                                   QKeySequence.StandardKey.Preferences)
        self.quit = self._make("Quit", "Quit FlowSynth", QKeySequence.StandardKey.Quit)
        self.undo.setEnabled(False)
        self.redo.setEnabled(False)

    def _make(self, text: str, tip: str, shortcut: object = None) -> QAction:
        action = QAction(text, self.parent())
        action.setToolTip(tip)
        action.setStatusTip(tip)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        return action

    def toolbar_order(self) -> list[QAction | None]:
        """None is a separator."""
        return [self.play, None, self.undo, self.redo, None, self.open_sound, self.open_preset,
                self.export, self.import_folder, None, self.load_model, self.settings]
