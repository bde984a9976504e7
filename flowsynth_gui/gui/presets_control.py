"""The session's presets: the library and favourites, preset files, imports and exports.

One of the controllers :class:`~flowsynth_gui.gui.session.Session` is composed of: it keeps
the library and reaches the rest (the explorer, the lanes, the signals) through ``session``.
Presets import lazily, on workers (see ``gui/imports.py``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowsynth_gui.gui.state import LibraryListing
from flowsynth_gui.paths import data_dir

if TYPE_CHECKING:
    from flowsynth_gui.explorer import Explorer
    from flowsynth_gui.gui.session import Session

__all__ = ["PresetsControl"]

log = logging.getLogger(__name__)


class PresetsControl:
    """Preset intents of the session, and the library they work on."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._library: Any = None  # made on first use

    # --- presets: library, files ------------------------------------------------------------

    def library(self) -> Any:
        """The preset library (made on first use; presets import lazily)."""
        if self._library is None:
            from flowsynth_gui.presets.library import PresetLibrary

            self._library = PresetLibrary(self.library_folder())
        return self._library

    def h2p_folders(self) -> list[str]:
        """The Diva preset folders imported before (Settings), placed on every map."""
        return [str(f) for f in self.session.settings.get("library/h2p_folders")]

    def library_folder(self) -> str:
        folder = self.session.options.library_folder or self.session.settings.get("library/folder")
        if folder:
            return folder
        return str(data_dir() / "presets")

    def place_library(self, ex: Explorer) -> None:
        library = self.library()
        added, skipped = ex.add_library_to_map(library)
        for name in library.list():
            if name not in skipped:
                self.session.tags_by_name.setdefault(name, ())
        if skipped:
            self.session.post("warning", f"{len(skipped)} presets of the library could not be "
                              f"read and are not on the map: {', '.join(skipped[:5])}")
        self.session.map.publish(ex)
        self._emit_library()

    def _emit_library(self) -> None:
        library = self.library()
        self.session.library_changed.emit(LibraryListing(
            str(library.folder), tuple(library.list()), tuple(library.favourites()),
            tuple(self.h2p_folders())))

    def refresh_library(self) -> None:
        self.session.work_lane.submit("reading the library", self._emit_library)

    def save_to_library(self, name: str, tags: list[str]) -> None:
        """Save the current sound to the library (a free name is chosen if taken)."""
        def save() -> None:
            ex = self.session.explorer
            library = self.library()
            free = library.unique_name(name)
            ex.save_preset(library, free, tags=tags)
            self.session.tags_by_name[free] = tuple(tags)
            self.place_library(ex)
            from flowsynth_gui.presets.names import sanitise_preset_name

            if free == name:
                note = ""
            elif free == sanitise_preset_name(name):
                note = " (characters a file name cannot hold were replaced)"
            else:
                note = f" ('{name}' was taken)"
            self.session.post("info", f"Saved '{free}' to the library{note}")
        self.session.on_work_lane("saving the preset", save)

    def load_library_preset(self, name: str) -> None:
        def load() -> None:
            preset = self.library().load(name)
            self.session.state_lane.submit("loading a preset", lambda: self.session.load_values(
                self.session.explorer, preset.parameters, preset.name, tuple(preset.tags)))
        self.session.on_work_lane("loading a preset", load)

    def set_favourite(self, name: str, favourite: bool) -> None:
        def mark() -> None:
            self.library().set_favourite(name, favourite)
            self._emit_library()
        self.session.work_lane.submit("marking a favourite", mark)

    def open_preset_file(self, path: str) -> None:
        """Load a ``.h2p`` or ``.fspreset`` file as the current sound."""
        def load() -> None:
            from flowsynth_gui.presets.files import read_preset_file
            from flowsynth_gui.presets.h2p import H2pFormatError
            from flowsynth_gui.presets.library import PresetFormatError

            try:
                preset = read_preset_file(path)
            except (H2pFormatError, PresetFormatError, OSError) as err:
                self.session.post("warning", f"Cannot open {Path(path).name}: {err}")
                return
            self.session.state_lane.submit("loading a preset", lambda: self.session.load_values(
                self.session.explorer, preset.parameters, preset.name, tuple(preset.tags)))
        self.session.on_work_lane("opening a preset", load)

    def import_h2p_folder(self, folder: str) -> None:
        """Place every readable ``.h2p`` below ``folder`` on the map (remembered)."""
        self.session.on_work_lane(
            "importing presets",
            lambda: self.import_folder(self.session.explorer, folder, remember=True))

    def import_folder(self, ex: Explorer, folder: str, remember: bool) -> None:
        from flowsynth_gui.presets.h2p import import_h2p_folder
        from flowsynth_gui.presets.library import Preset

        report = import_h2p_folder(folder)
        source = f"h2p:{folder}"
        presets = [Preset.from_h2p(p) for p in report.presets]
        for preset in presets:
            self.session.tags_by_name[preset.name] = tuple(preset.tags)
        ex.map.remove_source(source)
        ex.add_presets_to_map(presets, source)
        self.session.map.publish(ex)
        if report.skipped:
            skipped = "; ".join(f"{Path(p).name}: {why}" for p, why in report.skipped[:4])
            more = f" and {len(report.skipped) - 4} more" if len(report.skipped) > 4 else ""
            text = (f"Imported {len(presets)} presets from {folder}; skipped "
                    f"{len(report.skipped)} ({skipped}{more})")
            # Said loudly once, when the user imports; re-placing the folder at start-up
            # only logs it (the same files would otherwise warn on every launch).
            if remember:
                self.session.post("warning", text)
            else:
                log.warning("%s", text)
        elif remember and not presets:
            self.session.post("warning", f"No .h2p presets in {folder} or its subfolders: choose "
                              "the folder that holds them (Diva keeps them under Presets/Diva)")
        elif remember:
            self.session.post("info", f"Imported {len(presets)} presets from {folder}")
        if remember and presets:
            self.session.in_gui(lambda: self._remember_folder(folder))

    def _remember_folder(self, folder: str) -> None:
        folders = self.h2p_folders()
        if folder not in folders:
            self.session.settings.set("library/h2p_folders", [*folders, folder])
        self.refresh_library()

    def export_h2p(self, path: str, author: str, tags: list[str], description: str = "") -> None:
        """Write the current sound as a Diva preset (its name is the file's name)."""
        values = dict(self.session.state.values) if self.session.state else None

        def export() -> None:
            from flowsynth_gui.presets.files import export_h2p

            if values is None:
                raise ValueError("no sound yet: the model is still loading")
            self._exported(path, export_h2p(path, values, author=author,
                                            description=description, tags=tags))
        self.session.work_lane.submit("exporting the .h2p preset", export)

    def export_fspreset(self, path: str, name: str, author: str, tags: list[str],
                        description: str = "") -> None:
        """Write the current sound in FlowSynth's own format (``.fspreset``)."""
        state = self.session.state

        def export() -> None:
            from flowsynth_gui.presets.files import export_fspreset

            if state is None:
                raise ValueError("no sound yet: the model is still loading")
            self._exported(path, export_fspreset(path, name, state.values, tags=tags,
                                                 latent=state.z.tolist(), author=author,
                                                 description=description))
        self.session.work_lane.submit("exporting the preset", export)

    def _exported(self, asked: str, target: Path) -> None:
        """Remember the export's folder (only once a write worked), then say where it went:
        whoever hears ``exported`` finds the folder remembered already."""
        self.session.in_gui(lambda: self.session.settings.set("export/folder", str(target.parent)))
        self.session.exported.emit(str(target))
        asked_stem = Path(asked).name.removesuffix(target.suffix)
        kept = (f" ('{asked_stem}{target.suffix}' was already there and is kept)"
                if target.stem != asked_stem and target.stem.startswith(asked_stem) else "")
        self.session.post("info", f"Exported {target}{kept}")

    def export(self, request: Any) -> None:
        """Export as the export dialog asked (an ``ExportRequest``); remembers the author, and
        the folder once the file is written."""
        self.session.settings.set("export/author", request.author)
        if request.kind == "h2p":
            self.export_h2p(request.path, request.author, request.tags, request.description)
        else:
            self.export_fspreset(request.path, request.name, request.author, request.tags,
                                 request.description)

