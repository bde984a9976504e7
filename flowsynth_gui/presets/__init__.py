"""Presets: u-he Diva ``.h2p`` files (read, write, import) and FlowSynth's own preset library."""

from flowsynth_gui.presets.h2p import (
    H2pFormatError,
    H2pHeader,
    H2pPreset,
    ImportReport,
    import_h2p_folder,
    read_h2p,
    write_h2p,
)
from flowsynth_gui.presets.names import sanitise_preset_name

__all__ = [
    "H2pFormatError",
    "H2pHeader",
    "H2pPreset",
    "ImportReport",
    "import_h2p_folder",
    "read_h2p",
    "sanitise_preset_name",
    "write_h2p",
]
