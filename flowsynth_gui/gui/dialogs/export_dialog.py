"""Export the current sound: Diva ``.h2p`` or FlowSynth's ``.fspreset``, name/author/tags
prefilled from the current sound and the last export."""

from __future__ import annotations

import os
from dataclasses import dataclass

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)

from flowsynth_gui.gui.panels.library_panel import split_tags

__all__ = ["ExportDialog", "ExportRequest", "FORMATS"]

FORMATS = {"h2p": "u-he Diva preset (.h2p)", "fspreset": "FlowSynth preset (.fspreset)"}


@dataclass(frozen=True)
class ExportRequest:
    kind: str  # 'h2p' or 'fspreset'
    path: str
    name: str
    author: str
    tags: list[str]
    description: str


class ExportDialog(QDialog):
    def __init__(self, name: str, tags: list[str], author: str, folder: str, kind: str = "h2p",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export preset")
        self.name = QLineEdit(name)
        self.author = QLineEdit(author)
        self.tags = QLineEdit(", ".join(tags))
        self.tags.setToolTip("Diva's Character tags, e.g. Bright, Soft, Moving")
        self.description = QLineEdit("Made with FlowSynth")
        self.kind = QComboBox()
        for key, text in FORMATS.items():
            self.kind.addItem(text, key)
        self.kind.setCurrentIndex(max(0, self.kind.findData(kind)))
        self.folder = QLineEdit(folder or os.path.expanduser("~"))
        browse = QPushButton("…")
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(browse)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Format", self.kind)
        form.addRow("Name", self.name)
        form.addRow("Author", self.author)
        form.addRow("Tags", self.tags)
        form.addRow("Description", self.description)
        form.addRow("Folder", folder_row)
        form.addRow(buttons)

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def request(self) -> ExportRequest:
        kind = self.kind.currentData()
        name = self.name.text().strip() or "Untitled"
        # The file is named after the preset, made safe for any disk ("A → B 2/4" would
        # otherwise open a sub-folder "A → B 2"); the preset inside keeps its full name.
        # (Imported here: the presets package pulls in the synth, too slow for start-up.)
        from flowsynth_gui.presets.names import sanitise_preset_name

        path = os.path.join(self.folder.text().strip(),
                            f"{sanitise_preset_name(name)}.{kind}")
        return ExportRequest(kind, path, name, self.author.text().strip(),
                             split_tags(self.tags.text()), self.description.text().strip())
