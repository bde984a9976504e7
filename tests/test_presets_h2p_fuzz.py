"""Fuzzing the .h2p reader: any input gives a valid preset or H2pFormatError, quickly.

Inputs: random bytes, truncations and byte mutations of the real samples, line-level edits of the
samples, and random lines after a valid header (which reach the section parser). A per-call alarm
turns a hang into a failure where the platform has SIGALRM; hypothesis' deadline flags slowness.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowsynth_gui.presets.h2p import H2pFormatError, read_h2p

DATA = Path(__file__).parent / "data" / "h2p"
SAMPLES = [path.read_bytes() for path in sorted(DATA.glob("*.h2p"))]
HANG_LIMIT_S = 5.0

FUZZ = settings(max_examples=150, deadline=timedelta(milliseconds=500), database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    if not hasattr(signal, "setitimer"):  # Windows: rely on hypothesis' deadline alone
        yield
        return

    def timeout(signum: int, frame: object) -> None:
        raise TimeoutError(f"read_h2p took longer than {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, timeout)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _check(data: bytes) -> None:
    """Read ``data``: either a usable preset or H2pFormatError; nothing else, never a hang."""
    with _time_limit(HANG_LIMIT_S):
        try:
            preset = read_h2p(data, name="fuzz")
        except H2pFormatError as err:
            assert str(err).startswith("fuzz, line ") and err.line >= 1
            return
        values = preset.parameters()
        assert all(0.0 <= v <= 1.0 for v in values.values())
        preset.out_of_range()
        preset.uncovered_keys()
        preset.missing_parameters()
        preset.character_tags()


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    _check(data)


@FUZZ
@given(st.sampled_from(SAMPLES), st.floats(0.0, 1.0))
def test_truncated_samples(sample: bytes, fraction: float) -> None:
    _check(sample[: int(len(sample) * fraction)])


@FUZZ
@given(st.sampled_from(SAMPLES),
       st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 255),
                          st.sampled_from(["replace", "insert", "delete"])),
                min_size=1, max_size=8))
def test_byte_mutations_of_samples(sample: bytes, edits: list[tuple[float, int, str]]) -> None:
    data = bytearray(sample)
    for where, byte, how in edits:
        at = min(int(where * len(data)), max(len(data) - 1, 0))
        if how == "insert":
            data.insert(at, byte)
        elif data and how == "replace":
            data[at] = byte
        elif data:
            del data[at]
    _check(bytes(data))


# Lines made of the format's own tokens reach deeper than uniformly random text does.
_TOKENS = st.sampled_from(["#cm=", "#AM=", "Diva", "#nm=", "#ms=", "#nv=", "#mv=", "24", "=",
                           "'", "Freq", "VCF1", "OSC", "Tune1", "-", ".", "5", "e9", "/*@Meta",
                           "*/", "Character:", "//", "$$$$", " ", "\x00", "nan", "1e999", "é"])
_LINE = st.one_of(st.lists(_TOKENS, max_size=6).map("".join),
                  st.text(max_size=40).filter(lambda s: "\n" not in s and "\r" not in s))


@FUZZ
@given(st.sampled_from(SAMPLES),
       st.lists(st.tuples(st.floats(0.0, 1.0), _LINE,
                          st.sampled_from(["replace", "insert", "delete", "duplicate"])),
                min_size=1, max_size=6))
def test_line_edits_of_samples(sample: bytes, edits: list[tuple[float, str, str]]) -> None:
    lines = sample.decode("latin-1").split("\n")
    for where, line, how in edits:
        at = min(int(where * len(lines)), len(lines) - 1)
        if how == "insert":
            lines.insert(at, line)
        elif how == "replace":
            lines[at] = line
        elif how == "duplicate":
            lines.insert(at, lines[at])
        elif len(lines) > 1:
            del lines[at]
    _check("\n".join(lines).encode("utf-8"))


@FUZZ
@given(st.lists(_LINE, max_size=30))
def test_random_lines_after_a_valid_header(lines: list[str]) -> None:
    _check(("#AM=Diva\n#cm=VCF1\nFreq=90.00\n" + "\n".join(lines)).encode("utf-8"))
