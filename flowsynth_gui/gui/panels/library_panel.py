"""The user's presets: save the current sound, load, mark favourites, import Diva folders.

The library is a folder of ``.fspreset`` files (FlowSynth's own format); saving never
overwrites (a taken name gets a number). Imported ``.h2p`` folders are placed on the map and
remembered for the next start.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from flowsynth_gui.gui.state import LibraryListing, SoundState

__all__ = ["LibraryPanel", "PRESET_FILTER", "split_tags"]

PRESET_FILTER = "Presets (*.h2p *.fspreset);;All files (*)"


def split_tags(text: str) -> list[str]:
    """``'Bright, Soft'`` → ``['Bright', 'Soft']``."""
    return [t.strip() for t in text.split(",") if t.strip()]


class LibraryPanel(QWidget):
    preset_chosen = Signal(str)
    favourite_toggled = Signal(str, bool)
    save_requested = Signal(str, list)  # name, tags
    import_requested = Signal(str)  # folder
    open_requested = Signal(str)  # a preset file

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.listing: LibraryListing | None = None
        self.name = QLineEdit()
        self.name.setPlaceholderText("Name")
        self.tags = QLineEdit()
        self.tags.setPlaceholderText("Tags, e.g. Bright, Soft")
        save = QPushButton("Save current sound")
        save.clicked.connect(self._save)
        self.favourites_only = QCheckBox("Favourites only (★)")
        self.favourites_only.toggled.connect(lambda _: self._fill())
        self.list = QListWidget()
        self.list.itemDoubleClicked.connect(lambda item: self.preset_chosen.emit(item.text()))
        self.list.itemChanged.connect(self._star_changed)
        load = QPushButton("Load")
        load.clicked.connect(self._load_selected)
        import_button = QPushButton("Import .h2p folder…")
        import_button.clicked.connect(self._import)
        open_button = QPushButton("Open preset file…")
        open_button.clicked.connect(self._open)
        self.folder = QLabel()
        self.folder.setWordWrap(True)
        self.folder.setStyleSheet("color: #9aa4b2; font-size: 8pt;")
        save_row, file_row = QHBoxLayout(), QHBoxLayout()
        save_row.addWidget(self.name, 2)
        save_row.addWidget(self.tags, 2)
        save_row.addWidget(save)
        file_row.addWidget(load)
        file_row.addWidget(open_button)
        file_row.addWidget(import_button)
        layout = QVBoxLayout(self)
        layout.addLayout(save_row)
        layout.addWidget(self.favourites_only)
        layout.addWidget(self.list, 1)
        layout.addLayout(file_row)
        layout.addWidget(self.folder)

    def show_library(self, listing: LibraryListing) -> None:
        self.listing = listing
        folders = "; ".join(listing.h2p_folders) or "none"
        self.folder.setText(f"Library: {listing.folder}\nImported .h2p folders: {folders}")
        self._fill()

    def _fill(self) -> None:
        listing = self.listing
        if listing is None:
            return
        favourites = set(listing.favourites)
        self.list.blockSignals(True)
        self.list.clear()
        for name in listing.names:
            if self.favourites_only.isChecked() and name not in favourites:
                continue
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if name in favourites
                               else Qt.CheckState.Unchecked)
            item.setToolTip("Tick to mark as a favourite; double-click to load")
            self.list.addItem(item)
        self.list.blockSignals(False)

    def show_state(self, state: SoundState) -> None:
        """Prefill the name and tags from the current sound (unless the user is typing)."""
        if not self.name.hasFocus():
            self.name.setText(state.name.replace(" (edited)", " variation"))
        if not self.tags.hasFocus():
            self.tags.setText(", ".join(state.tags))

    def _save(self) -> None:
        name = self.name.text().strip() or "Untitled"
        self.save_requested.emit(name, split_tags(self.tags.text()))

    def _star_changed(self, item: QListWidgetItem) -> None:
        self.favourite_toggled.emit(item.text(), item.checkState() == Qt.CheckState.Checked)

    def _load_selected(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.preset_chosen.emit(item.text())

    def _import(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a folder of Diva presets")
        if folder:
            self.import_requested.emit(folder)

    def _open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a preset", "", PRESET_FILTER)
        if path:
            self.open_requested.emit(path)
