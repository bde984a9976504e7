"""u-he Diva ``.h2p`` presets: read any preset, write complete ones, import a whole library.

A preset is text (see DESIGN.md, section 6): a ``/*@Meta`` block, header lines (``#AM=Diva``,
``#Vers``, ``#Endian``, ``#nm`` + ``#ms``, ``#nv`` + ``#mv``), then ``#cm=SECTION`` blocks of
``Key=Value`` lines. Diva-saved files end with a comment and an encoded tail after ``$$$$`` that
we ignore (and never write: see :mod:`flowsynth_gui.presets.h2p_writer`). The preset's name is its
file name.

>>> preset = read_h2p(b"#AM=Diva\\n#cm=VCF1\\nFreq=90.00\\nModel=0\\n", name="Demo")
>>> preset.parameters()
{'VCF1: Frequency': 0.5}
>>> preset.uncovered_keys()
[('VCF1', 'Model')]
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from flowsynth_gui.presets.h2p_writer import FxChoice, choose_fx_modules, format_h2p, write_h2p
from flowsynth_gui.synth.params import ParamSpec, all_specs

__all__ = [
    "MAX_FILE_BYTES",
    "FxChoice",
    "H2pFormatError",
    "H2pHeader",
    "H2pPreset",
    "ImportReport",
    "choose_fx_modules",
    "format_h2p",
    "import_h2p_folder",
    "read_h2p",
    "write_h2p",
]

# Real presets are 3-10 KB; anything far bigger is not a preset and is refused before reading.
MAX_FILE_BYTES = 4 * 1024 * 1024
# Diva writes 24 modulation sources and 2 #mv entries; a count in the thousands is corruption.
_MAX_LIST = 256
_MAX_META_VALUE_LINES = 200

_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # not str.splitlines: latin-1 '\x85' is text, not a break
_TAIL_MARKER = re.compile(rb"^\$\$\$\$", re.MULTILINE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_HEADER_LINE = re.compile(r"#([A-Za-z][A-Za-z0-9]{0,15})=(.*)")
_SECTION_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}")
_KEY_VALUE = re.compile(r"(#?[A-Za-z0-9_]{1,32})=(.*)")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_QUOTED = re.compile(r"'[^']*'")
_META_KEY = re.compile(r"([A-Za-z][A-Za-z0-9 _-]{0,31}):\s*(.*)")


class H2pFormatError(ValueError):
    """A file that is not a readable Diva preset; the message names the file and the line."""

    def __init__(self, source: str, line: int, problem: str) -> None:
        super().__init__(f"{source}, line {line}: {problem}")
        self.source = source
        self.line = line
        self.problem = problem


@dataclass(frozen=True)
class H2pHeader:
    """The header lines. ``mod_sources`` is the ``#ms`` list that ``...Src`` keys index into;
    ``mv`` holds the ``#mv`` entries (``Gate``, ``Env1`` in every file seen). ``extra`` keeps any
    other header line, in order."""

    am: str = "Diva"
    version: str = ""
    endian: str = ""
    mod_sources: tuple[str, ...] = ()
    mv: tuple[str, ...] = ()
    extra: tuple[tuple[str, str], ...] = ()


@dataclass
class H2pPreset:
    """A parsed Diva preset. ``sections`` maps section -> key -> raw value text, in file order
    (quoted strings keep their quotes); unknown sections and keys are kept."""

    name: str
    metadata: dict[str, str]
    header: H2pHeader
    sections: dict[str, dict[str, str]]
    path: Path | None = None
    has_binary_tail: bool = False

    def value(self, section: str, key: str) -> float | str:
        """The value of ``section/key``: a float, or a string with its quotes removed."""
        raw = self.sections[section][key]
        return raw[1:-1] if raw.startswith("'") else float(raw)

    def _present_specs(self) -> Iterator[tuple[ParamSpec, float]]:
        for slot, spec in _spec_slots().items():
            raw = self.sections.get(slot[0], {}).get(slot[1])
            if raw is not None:
                yield spec, float(raw)  # read_h2p checked that it is a finite number

    def parameters(self) -> dict[str, float]:
        """Normalised values of every synth parameter whose section/key the file has, clipped
        to [0, 1] (see :meth:`out_of_range` for what was clipped)."""
        return {spec.name: spec.to_normalised(value) for spec, value in self._present_specs()}

    def out_of_range(self) -> dict[str, float]:
        """Synth parameters whose native value lies outside the synth's range: name -> value."""
        return {spec.name: value for spec, value in self._present_specs()
                if not spec.min <= value <= spec.max}

    def missing_parameters(self) -> list[str]:
        """Synth parameters the file does not set (they take the synth's defaults)."""
        present = {spec.name for spec, _ in self._present_specs()}
        return [spec.name for spec in all_specs() if spec.name not in present]

    def uncovered_keys(self) -> list[tuple[str, str]]:
        """Every (section, key) in the file that no synth parameter covers, in file order."""
        return [(section, key) for section, keys in self.sections.items() for key in keys
                if (section, key) not in _spec_slots()]

    def meta_list(self, key: str) -> list[str]:
        """A comma-separated metadata entry (``Categories``, ``Features``, ``Character``)."""
        wanted = key.casefold()
        for meta_key, text in self.metadata.items():
            if meta_key.casefold() == wanted:
                return [item.strip() for item in text.split(",") if item.strip()]
        return []

    def character_tags(self) -> list[str]:
        """The ``Character`` tags (``Bright``, ``Soft``, ...), as the semantic sliders use them."""
        return self.meta_list("Character")


@dataclass
class ImportReport:
    """What :func:`import_h2p_folder` found: the presets read and the files skipped, with why."""

    folder: Path
    presets: list[H2pPreset] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def summary(self) -> str:
        return f"{len(self.presets)} presets read, {len(self.skipped)} skipped from {self.folder}"


@cache
def _spec_slots() -> dict[tuple[str, str], ParamSpec]:
    return {(spec.section, spec.key): spec for spec in all_specs()}


# ---------------------------------------------------------------------------------------- reading

class _Lines:
    """Numbered lines with one-line look-ahead; errors carry the source name and line number."""

    def __init__(self, source: str, lines: list[str]) -> None:
        self.source = source
        self.lines = lines
        self.index = 0

    def peek(self) -> str | None:
        return self.lines[self.index] if self.index < len(self.lines) else None

    def take(self) -> str:
        line = self.lines[self.index]
        self.index += 1
        return line

    @property
    def number(self) -> int:
        """1-based number of the line last taken (or of the last line at the end)."""
        return max(1, min(self.index, len(self.lines)))

    def error(self, problem: str, line: int | None = None) -> H2pFormatError:
        return H2pFormatError(self.source, self.number if line is None else line, problem)


def _text_lines(source: str, data: bytes) -> tuple[list[str], bool]:
    """Decode the text part (before the ``$$$$`` tail) into lines; reject binary content."""
    tail = _TAIL_MARKER.search(data)
    text_part = data[: tail.start()] if tail else data
    # Diva pads files with NUL bytes after the text; anything else non-textual is damage.
    text_part = text_part.rstrip(b"\x00 \t\r\n")
    try:
        text = text_part.decode("utf-8-sig")  # a byte-order mark is not text
    except UnicodeDecodeError:
        text = text_part.decode("latin-1")  # Diva's own encoding; never fails
    lines = _LINE_BREAK.split(text) if text else []
    for number, line in enumerate(lines, start=1):
        if _CONTROL.search(line):
            raise H2pFormatError(source, number, "binary data (control or NUL bytes) in the "
                                 "text part: the file is damaged or not a Diva preset")
    return lines, tail is not None


def _skip_blank_and_comments(lines: _Lines) -> None:
    while (line := lines.peek()) is not None and (not line.strip() or line.startswith("//")):
        lines.take()


def _meta_value(lines: _Lines, first: str, key: str) -> str:
    """A single-quoted value; u-he writes it on one line, tolerate it spanning several."""
    parts = [first.strip()]
    start = lines.number
    closed = len(parts[0]) >= 2 and parts[0].endswith("'")  # the opening quote cannot close
    while not closed:
        following = lines.peek()
        if following is None or following.strip() == "*/" or len(parts) > _MAX_META_VALUE_LINES:
            raise lines.error(f"metadata value of {key!r} has no closing quote", start)
        parts.append(lines.take().rstrip())
        closed = parts[-1].endswith("'")
    return "\n".join(parts)[1:-1]


def _parse_meta(lines: _Lines) -> dict[str, str]:
    """The ``/*@Meta`` ... ``*/`` block (``@meta`` in lower case occurs too), if there is one."""
    _skip_blank_and_comments(lines)
    first = lines.peek()
    if first is None or not first.strip().casefold().startswith("/*@meta"):
        return {}
    lines.take()
    meta: dict[str, str] = {}
    key: str | None = None
    while True:
        line = lines.peek()
        if line is None:
            raise lines.error("the metadata block (/*@Meta) never ends with '*/': truncated file")
        stripped = lines.take().strip()
        if stripped == "*/":
            return meta
        if not stripped:
            continue
        if stripped.startswith("'") and key is not None:
            meta[key] = _meta_value(lines, stripped, key)
            key = None
            continue
        match = _META_KEY.fullmatch(stripped)
        if not match:
            raise lines.error(f"unexpected text in the metadata block: {stripped[:60]!r}")
        key = match.group(1)
        if key in meta:
            raise lines.error(f"metadata entry {key!r} appears twice")
        meta[key] = ""  # an entry may have no value
        if match.group(2):
            meta[key] = _meta_value(lines, match.group(2).strip(), key)
            key = None


def _count(lines: _Lines, name: str, value: str) -> int:
    if not value.isdigit() or int(value) > _MAX_LIST:
        raise lines.error(f"#{name}={value[:20]!r} is not a count between 0 and {_MAX_LIST}")
    return int(value)


def _check_header(lines: _Lines, fields: dict[str, str], lists: dict[str, list[str]],
                  counts: dict[str, tuple[int, int]]) -> None:
    if "AM" not in fields:
        raise lines.error("no '#AM=Diva' line before the first module section: "
                          "not a Diva preset (or the header is damaged)")
    for count_key, list_key in (("nm", "ms"), ("nv", "mv")):
        if count_key in counts:
            announced, line = counts[count_key]
            found = len(lists[list_key])
            if found != announced:
                raise lines.error(f"#{count_key}={announced} announces {announced} #{list_key} "
                                  f"lines but {found} follow: truncated or damaged header", line)


def _parse_header(lines: _Lines) -> H2pHeader:
    """Header lines up to the first ``#cm=`` section."""
    fields: dict[str, str] = {}
    lists: dict[str, list[str]] = {"ms": [], "mv": []}
    counts: dict[str, tuple[int, int]] = {}
    extra: list[tuple[str, str]] = []
    while (line := lines.peek()) is not None and not line.startswith("#cm="):
        lines.take()
        if not line.strip() or line.startswith("//"):
            continue
        match = _HEADER_LINE.fullmatch(line.rstrip())
        if not match:
            raise lines.error(f"expected a '#KEY=VALUE' header line, found {line[:60]!r}: "
                              "not a Diva preset?")
        key, value = match.groups()
        if key in lists:
            if len(lists[key]) >= _MAX_LIST:
                raise lines.error(f"more than {_MAX_LIST} #{key} lines: damaged header")
            lists[key].append(value)
        elif key in ("nm", "nv"):
            counts[key] = (_count(lines, key, value), lines.number)
        elif key in ("AM", "Vers", "Endian"):
            if key in fields:
                raise lines.error(f"#{key} appears twice in the header")
            if key == "AM" and value != "Diva":
                raise lines.error(f"#AM={value[:40]!r}: a preset for another synth, not Diva")
            fields[key] = value
        else:
            extra.append((key, value))
    if lines.peek() is None:
        raise lines.error("no module sections (#cm=...): the file is truncated or not a preset")
    _check_header(lines, fields, lists, counts)
    return H2pHeader(fields["AM"], fields.get("Vers", ""), fields.get("Endian", ""),
                     tuple(lists["ms"]), tuple(lists["mv"]), tuple(extra))


def _checked_value(lines: _Lines, section: str, key: str, value: str) -> str:
    if _QUOTED.fullmatch(value):
        if (section, key) in _spec_slots():
            raise lines.error(f"{section}/{key} needs a number, found {value[:40]}")
        return value
    if not _NUMBER.fullmatch(value):
        raise lines.error(f"{section}/{key}={value[:40]!r} is neither a number nor a "
                          "single-quoted string")
    if not math.isfinite(float(value)):
        raise lines.error(f"{section}/{key}={value[:40]} is not a finite number")
    return value


def _parse_sections(lines: _Lines) -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    name = ""
    while (line := lines.peek()) is not None:
        lines.take()
        line = line.rstrip()
        if not line or line.startswith("//"):
            continue
        if line.startswith("#cm="):
            name = line[4:]
            if not _SECTION_NAME.fullmatch(name):
                raise lines.error(f"bad section name {name[:40]!r}")
            if name in sections:
                raise lines.error(f"section {name!r} appears twice")
            current = sections[name] = {}
            continue
        match = _KEY_VALUE.fullmatch(line)
        if not match or current is None:
            raise lines.error(f"expected 'Key=Value' or '#cm=SECTION', found {line[:60]!r}")
        key, value = match.groups()
        if key in current:
            raise lines.error(f"key {key!r} appears twice in section {name!r}")
        current[key] = _checked_value(lines, name, key, value)
    return sections


def _parse(source: str, data: bytes) -> tuple[dict[str, str], H2pHeader, dict, bool]:
    text_lines, has_tail = _text_lines(source, data)
    lines = _Lines(source, text_lines)
    meta = _parse_meta(lines)
    header = _parse_header(lines)
    return meta, header, _parse_sections(lines), has_tail


def _read_limited(path: Path) -> bytes:
    with open(path, "rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise H2pFormatError(str(path), 1, f"file is larger than {MAX_FILE_BYTES // 1024} KiB; "
                             "a Diva preset is a few KiB: not a preset")
    return data


def read_h2p(source: str | os.PathLike[str] | bytes, *, name: str | None = None) -> H2pPreset:
    """Read a Diva preset from a path (``str`` is a path) or from the file's bytes.

    The preset's name is the file stem, or ``name`` (default ``"Untitled"`` for bytes). Raises
    :class:`H2pFormatError` for anything that is not a readable Diva preset; ``OSError`` if the
    file cannot be opened.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        data, path = bytes(source), None
        label = name or "<bytes>"
    else:
        path = Path(source)
        data, label = _read_limited(path), str(path)
    if len(data) > MAX_FILE_BYTES:
        raise H2pFormatError(label, 1, f"larger than {MAX_FILE_BYTES // 1024} KiB: not a preset")
    meta, header, sections, has_tail = _parse(label, data)
    preset_name = name or (path.stem if path is not None else "Untitled")
    return H2pPreset(preset_name, meta, header, sections, path, has_tail)


# ---------------------------------------------------------------------------------------- import

def _h2p_files(folder: Path, skipped: list[tuple[Path, str]]) -> list[Path]:
    """Every ``*.h2p`` below ``folder`` (any letter case), not following folder links (no loops)."""
    found: list[Path] = []

    def unreadable(err: OSError) -> None:
        skipped.append((Path(err.filename or folder), f"cannot list folder: {err.strerror}"))

    for root, dirs, files in os.walk(folder, onerror=unreadable):
        dirs.sort()
        found += [Path(root, f) for f in sorted(files) if f.casefold().endswith(".h2p")]
    return found


def import_h2p_folder(folder: str | os.PathLike[str]) -> ImportReport:
    """Read every Diva preset in a library folder, recursively; never stop at a bad file."""
    report = ImportReport(Path(folder))
    if not report.folder.is_dir():
        report.skipped.append((report.folder, "not a folder"))
        return report
    for path in _h2p_files(report.folder, report.skipped):
        try:
            report.presets.append(read_h2p(path))
        except H2pFormatError as err:
            report.skipped.append((path, f"line {err.line}: {err.problem}"))
        except OSError as err:
            report.skipped.append((path, f"cannot read: {err.strerror or err}"))
    return report
