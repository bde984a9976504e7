"""A single-producer single-consumer ring buffer of float32 audio frames, without locks.

The render thread :meth:`~FrameRing.write`\\ s frames ahead of time; the audio callback
:meth:`~FrameRing.read_into`\\ s them into the buffer PortAudio hands it. Reading never blocks,
never allocates a data buffer and never takes a lock: when too few frames are ready it copies what
there is, zero-fills the rest and counts one underrun.

>>> import numpy as np
>>> ring = FrameRing(capacity=4, channels=2)
>>> ring.write(np.ones((3, 2), dtype=np.float32))
3
>>> out = np.empty((4, 2), dtype=np.float32)
>>> ring.read_into(out), ring.underruns, out[3].tolist()
(3, 1, [0.0, 0.0])

Why this is safe without a lock (CPython with the GIL, the interpreter this project targets):

- Each index has exactly one writer. ``_written`` (frames ever written) is assigned only by the
  producer, ``_read`` (frames ever read) only by the consumer. Both only grow, as Python ints,
  which never overflow, so ``_written - _read`` is always the fill level and the modulo of either
  gives its position in the buffer.
- Storing an attribute is one bytecode, done under the GIL: the other thread sees the old int or
  the new one, never a torn value. Taking and dropping the GIL is a full memory barrier, so a
  thread that sees a new index also sees every store made before it.
- Each side publishes its index only *after* its copy has finished. The producer therefore never
  announces frames that are not in place yet, and the consumer never frees space it is still
  reading. numpy may drop the GIL inside a large copy; that is still safe, because the two sides
  copy disjoint regions: the producer writes only into the free part, the consumer reads only
  the part the producer has published.
- Each side reads the other's index once per call and works from that snapshot; the other side
  can only make more room or more data meanwhile, never less.

A free-threaded (no-GIL) interpreter would need atomics here; the project runs on CPython 3.11.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FrameRing"]


class FrameRing:
    """Preallocated ring of ``capacity`` frames of ``channels`` float32 samples.

    One producer thread calls :meth:`write`; one consumer (the audio callback) calls
    :meth:`read_into`. ``underruns`` counts reads that found too few frames and
    ``missing_frames`` how many frames were zero-filled in total; both are written only by the
    consumer and can be read from any thread.
    """

    def __init__(self, capacity: int, channels: int = 2) -> None:
        if not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"ring capacity must be a positive whole number of frames, "
                             f"got {capacity!r}")
        if not isinstance(channels, int) or channels < 1:
            raise ValueError(f"ring channels must be a positive whole number, got {channels!r}")
        self._buffer = np.zeros((capacity, channels), dtype=np.float32)
        self._capacity = capacity
        self._written = 0  # producer's index: frames ever written
        self._read = 0  # consumer's index: frames ever read
        self.underruns = 0
        self.missing_frames = 0

    @property
    def capacity(self) -> int:
        """Frames the ring holds when full."""
        return self._capacity

    @property
    def channels(self) -> int:
        """Samples per frame."""
        return int(self._buffer.shape[1])

    @property
    def available(self) -> int:
        """Frames written and not yet read (a snapshot: the other side may move on)."""
        return self._written - self._read

    @property
    def free(self) -> int:
        """Frames that can be written without overwriting unread ones (a snapshot)."""
        return self._capacity - (self._written - self._read)

    @property
    def frames_read(self) -> int:
        """Frames the consumer has taken out of the ring since the last :meth:`reset`."""
        return self._read

    def write(self, frames: np.ndarray) -> int:
        """Copy as many of ``frames`` (shape ``(n, channels)``) as fit; returns how many.

        Never blocks and never overwrites unread frames: the caller keeps what did not fit
        (the player only writes when :attr:`free` says a whole block fits).
        """
        if frames.ndim != 2 or frames.shape[1] != self._buffer.shape[1]:
            raise ValueError(f"expected frames of shape (n, {self._buffer.shape[1]}), "
                             f"got {frames.shape}")
        count = min(frames.shape[0], self.free)
        start = self._written % self._capacity
        first = min(count, self._capacity - start)
        self._buffer[start:start + first] = frames[:first]
        if count > first:  # wrapped: the rest goes to the front of the buffer
            self._buffer[:count - first] = frames[first:count]
        # Publish only once the frames are in place (see the module docstring).
        self._written += count
        return count

    def read_into(self, out: np.ndarray) -> int:
        """Fill ``out`` (shape ``(n, channels)``) from the ring; returns the frames copied.

        On underrun the frames that are there are copied, the rest of ``out`` is zero-filled,
        and ``underruns`` grows by one. Safe to call from an audio callback: no data buffer is
        allocated, no lock is taken; the only objects made are a few ints and slice views.
        """
        wanted = out.shape[0]
        read = self._read
        count = min(wanted, self._written - read)  # one snapshot of the producer's index
        start = read % self._capacity
        first = min(count, self._capacity - start)
        out[:first] = self._buffer[start:start + first]
        if count > first:
            out[first:count] = self._buffer[:count - first]
        if count < wanted:
            out[count:] = 0.0
            self.underruns += 1
            self.missing_frames += wanted - count
        # Publish only once the frames are copied out (see the module docstring).
        self._read = read + count
        return count

    def reset(self) -> None:
        """Empty the ring and zero the counters; only while neither side is running."""
        self._written = 0
        self._read = 0
        self.underruns = 0
        self.missing_frames = 0
