"""The lock-free frame ring between the render thread and the audio callback."""

from __future__ import annotations

import threading
import time
import tracemalloc

import numpy as np
import pytest

from flowsynth_gui.audio import ring as ring_module
from flowsynth_gui.audio.ring import FrameRing


def _frames(start: int, count: int, channels: int = 2) -> np.ndarray:
    """Frames whose samples count up, so any misplaced frame shows."""
    values = np.arange(start, start + count, dtype=np.float32)
    return np.repeat(values[:, None], channels, axis=1) * np.arange(1, channels + 1)


def test_frames_come_out_in_order_across_many_wraparounds() -> None:
    ring = FrameRing(capacity=10)
    out = np.empty((4, 2), dtype=np.float32)
    produced = consumed = 0
    for _ in range(50):  # 7 in, 4 out per round: both indices wrap many times
        produced += ring.write(_frames(produced, min(7, ring.free)))
        assert ring.read_into(out) == 4
        np.testing.assert_array_equal(out, _frames(consumed, 4))
        consumed += 4
        assert ring.available == produced - consumed
    assert ring.underruns == 0
    assert ring.frames_read == consumed


def test_write_never_overwrites_unread_frames() -> None:
    ring = FrameRing(capacity=8)
    assert ring.write(_frames(0, 5)) == 5
    assert ring.write(_frames(5, 5)) == 3  # only 3 fit
    assert ring.free == 0
    out = np.empty((8, 2), dtype=np.float32)
    ring.read_into(out)
    np.testing.assert_array_equal(out, _frames(0, 8))


def test_underrun_copies_what_there_is_zero_fills_and_counts() -> None:
    ring = FrameRing(capacity=16)
    ring.write(_frames(1, 3))
    out = np.full((8, 2), 7.0, dtype=np.float32)
    assert ring.read_into(out) == 3
    np.testing.assert_array_equal(out[:3], _frames(1, 3))
    assert not out[3:].any()
    assert (ring.underruns, ring.missing_frames) == (1, 5)
    assert ring.read_into(out) == 0  # empty: a second underrun, all zeros
    assert not out.any()
    assert (ring.underruns, ring.missing_frames) == (2, 13)
    ring.write(_frames(0, 8))
    ring.read_into(out)
    assert ring.underruns == 2  # a full read counts nothing
    ring.reset()
    assert (ring.available, ring.underruns, ring.missing_frames, ring.frames_read) == (0, 0, 0, 0)


def test_read_into_allocates_no_buffer() -> None:
    """Many reads (full, wrapping and short) leave no memory behind and make no buffer.

    The peak rise during the loop is bounded well below one block (32 KiB here): the reads
    create only small transient objects (ints, slice views), never a copy of the audio.
    """
    frames = 4096
    ring = FrameRing(capacity=3 * frames - 100)  # not a multiple: reads wrap at varying points
    block = _frames(0, frames)
    out = np.empty((frames, 2), dtype=np.float32)

    def run(rounds: int) -> None:
        for i in range(rounds):
            if i % 3:
                ring.write(block)
            ring.read_into(out)  # every third read runs short: the underrun path too

    tracemalloc.start()
    try:
        # Warm up under tracing, until the counters have left CPython's small-int cache: the
        # ints they hold are then traced objects before and after alike.
        run(1000)
        before = tracemalloc.take_snapshot()
        current, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        run(3000)
        after = tracemalloc.take_snapshot()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ring.underruns > 0
    only_ring = [tracemalloc.Filter(True, ring_module.__file__)]
    grown = after.filter_traces(only_ring).compare_to(before.filter_traces(only_ring), "lineno")
    assert sum(stat.count_diff for stat in grown) == 0, grown
    assert sum(stat.size_diff for stat in grown) == 0, grown
    assert peak - current < 2048, f"transient allocation of {peak - current} bytes"


def test_a_producer_and_a_consumer_thread_pass_every_frame_in_order() -> None:
    ring = FrameRing(capacity=64)
    total, chunk = 200_000, 48
    received = np.empty((total, 2), dtype=np.float32)

    def produce() -> None:
        done = 0
        while done < total:
            written = ring.write(_frames(done, min(chunk, total - done)))
            done += written
            if not written:
                time.sleep(0)  # full: let the consumer have the GIL

    producer = threading.Thread(target=produce)
    producer.start()
    got, out = 0, np.empty((32, 2), dtype=np.float32)
    while got < total:
        available = min(ring.available, total - got, 32)
        if available:
            got += ring.read_into(out[:available])
            received[got - available:got] = out[:available]
        else:
            time.sleep(0)  # empty: let the producer have the GIL
    producer.join()
    np.testing.assert_array_equal(received, _frames(0, total))
    assert ring.underruns == 0


def test_bad_shapes_and_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="capacity"):
        FrameRing(capacity=0)
    with pytest.raises(ValueError, match="channels"):
        FrameRing(capacity=8, channels=0)
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        FrameRing(capacity=8).write(np.zeros((4, 1), dtype=np.float32))
