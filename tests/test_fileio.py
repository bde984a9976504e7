"""Atomic writes, free export names and file errors in words a user can act on."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from flowsynth_gui.fileio import (
    atomic_path,
    atomic_write_text,
    describe_os_error,
    first_free_path,
)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "preset.json"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old" and list(tmp_path.iterdir()) == [target]


def test_first_free_path_numbers_taken_names(tmp_path: Path) -> None:
    target = tmp_path / "Pad.h2p"
    assert first_free_path(target) == target
    target.write_text("1")
    (tmp_path / "Pad 2.h2p").write_text("2")
    assert first_free_path(target) == tmp_path / "Pad 3.h2p"


def test_os_errors_name_the_file_asked_for_and_what_to_do() -> None:
    denied = PermissionError(errno.EACCES, "Permission denied", "/sys/.My Sound.h2p.x1y2.tmp")
    assert describe_os_error(denied) == (
        "permission denied for '/sys/My Sound.h2p'; choose a folder you can write to")
    not_folder = FileExistsError(errno.EEXIST, "File exists", "/music/take.wav")
    assert "'/music/take.wav' is a file, not a folder" in describe_os_error(not_folder)
    assert "disk is full" in describe_os_error(OSError(errno.ENOSPC, "No space left", "/a"))
    # errors raised with a message of their own keep it
    assert describe_os_error(FileNotFoundError("no file x.wav; check the path")) == \
        "no file x.wav; check the path"
