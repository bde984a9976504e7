"""Preset names that are safe file names on Windows, macOS and Linux.

A preset's name *is* its file name (Diva shows the file stem; FlowSynth's library does the same),
so every name passes through :func:`sanitise_preset_name` before it touches the disk.

>>> sanitise_preset_name("Bass: deep/wide?")
'Bass- deep-wide-'
>>> sanitise_preset_name("  ..hidden  ")
'hidden'
>>> sanitise_preset_name("CON.v2")
'CON_.v2'
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["MAX_NAME_LENGTH", "sanitise_preset_name"]

# Long enough for descriptive names, short enough that folder + name + extension stays well under
# Windows' 260-character path limit.
MAX_NAME_LENGTH = 100

# Characters Windows forbids in file names (a superset of macOS's ':' and everyone's '/'), plus the
# C0 control characters and DEL.
_ILLEGAL = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
# Windows refuses these stems whatever the extension ("CON.h2p" is the console device).
_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}


def sanitise_preset_name(name: str, *, fallback: str = "Untitled") -> str:
    """Return ``name`` made safe as a file stem, keeping it readable.

    Illegal characters become ``-``, runs of whitespace one space; leading dots (hidden files) and
    trailing dots or spaces (dropped by Windows) are stripped; reserved Windows device names get a
    ``_``. An empty result becomes ``fallback``.
    """
    text = unicodedata.normalize("NFC", str(name))
    text = _ILLEGAL.sub("-", text)
    text = " ".join(text.split())
    text = text.lstrip(". ")[:MAX_NAME_LENGTH].rstrip(". ")
    if not text:
        return fallback
    stem, dot, rest = text.partition(".")
    if stem.strip().upper() in _RESERVED:
        text = f"{stem}_{dot}{rest}"  # Windows checks the part before the first dot
    return text
