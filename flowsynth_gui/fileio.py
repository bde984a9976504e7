"""Atomic file writes: write to a temporary name beside the target, then rename over it.

A crash mid-write leaves the previous file intact and no half-written file behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "describe_os_error",
           "first_free_path"]


def _read_umask() -> int:
    mask = os.umask(0)  # the only way to read it; done once, at import, before any threads
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success it replaces ``target``.

    ``suffix`` keeps an extension that a writer may need (e.g. ``.wav`` for soundfile, ``.npz``
    for numpy, which appends it otherwise).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f"{suffix}.tmp",
                                    dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; files should look ordinary
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | os.PathLike[str], text: str, encoding: str = "utf-8") -> None:
    atomic_write_bytes(target, text.encode(encoding))


def first_free_path(target: str | os.PathLike[str]) -> Path:
    """``target`` if nothing is there, else ``NAME 2.ext``, ``NAME 3.ext``, ...: exports never
    replace a file the user already has."""
    target = Path(target)
    number = 2
    free = target
    while free.exists():
        free = target.with_name(f"{target.stem} {number}{target.suffix}")
        number += 1
    return free


_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.[^.]+\.tmp$")  # atomic_path's temporary names


def describe_os_error(err: OSError) -> str:
    """What went wrong with a file, in words a user can act on (no errno, no temp names).
    Errors raised with a message of their own (no errno) keep it."""
    if err.errno is None:
        return str(err)
    where = Path(err.filename) if err.filename else None
    if where is not None and (hidden := _TEMP_NAME.match(where.name)):
        where = where.with_name(hidden["name"])  # the file the user asked for
    name = f"'{where}'" if where is not None else "the file"
    folder = f"'{where.parent}'" if where is not None else "that folder"
    advice = {
        errno.EACCES: f"permission denied for {name}; choose a folder you can write to",
        errno.EPERM: f"the system does not allow writing {name}; choose another folder",
        errno.EROFS: f"{folder} is on a read-only disk; choose another folder",
        errno.ENOSPC: "the disk is full; free some space or choose another disk",
        errno.EEXIST: f"{name} is a file, not a folder; choose a folder",
        errno.ENOTDIR: f"a part of {name} is a file, not a folder; choose a folder",
        errno.EISDIR: f"{name} is a folder; give a file name",
        errno.ENOENT: f"{name} does not exist",
        errno.ENAMETOOLONG: f"the name {name} is too long; choose a shorter one",
    }
    return advice.get(err.errno, f"{err.strerror} ({name})" if err.strerror else str(err))
