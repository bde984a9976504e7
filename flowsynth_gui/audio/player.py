"""Live playback: the polyphonic synth and one-shot previews, mixed into one output stream.

Three threads meet here, each doing one job:

- any thread (GUI, MIDI) sends notes, parameter changes and previews; they go to the
  :class:`~flowsynth_gui.synth.live.PolySynth` (which queues and smooths them) or replace the
  preview reference;
- the render thread renders one block at a time, mixes the preview in, and writes the block
  into a :class:`~flowsynth_gui.audio.ring.FrameRing` that it keeps ``latency_blocks`` full;
- PortAudio's callback only copies from the ring into the buffer it is given and counts what
  went wrong (STYLE.md): it never calls the synth, takes no lock, allocates no buffer, logs
  nothing.

>>> player = LivePlayer(AudioSettings(device="no such device"))
>>> player.available
False
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from flowsynth_gui.audio.device import (
    AudioSettings,
    AudioUnavailable,
    Stream,
    StreamConfig,
    close_stream,
    open_stream,
    resolve,
)
from flowsynth_gui.audio.ring import FrameRing
from flowsynth_gui.features.audio_io import resample
from flowsynth_gui.synth.live import PolySynth

__all__ = ["LivePlayer", "DEFAULT_LATENCY_BLOCKS", "FALLBACK_SAMPLE_RATE"]

DEFAULT_LATENCY_BLOCKS = 4  # 21 ms at 256 frames / 48 kHz: room for a render-thread hiccup
RENDER_NICE = -10  # the render thread's niceness when the system allows it (see below)
_PRIME_TIMEOUT_S = 10.0  # first blocks of a fresh player may load compiled kernels
FALLBACK_SAMPLE_RATE = 48000  # the synth's rate when no device says otherwise
_LOAD_TIME_CONSTANT_S = 0.5  # smoothing of the cpu_load estimate
_MAX_PREVIEW_S = 60.0


class _Preview:
    """A preview sound and how far the render thread has played it (that thread only)."""

    __slots__ = ("frames", "position")

    def __init__(self, frames: np.ndarray) -> None:
        self.frames = frames
        self.position = 0


class LivePlayer:
    """Plays a :class:`PolySynth` live, plus one preview sound at a time, on one output device.

    Constructing never fails for lack of audio: without PortAudio or a device, ``available``
    is False, ``unavailable_reason`` says why, and :meth:`start` raises
    :class:`AudioUnavailable` with that reason. Use as a context manager, or call
    :meth:`close`.

    Health, readable from any thread: ``underruns`` (callbacks that found the ring short: a
    gap was heard), ``xruns`` (callbacks PortAudio flagged, e.g. a JACK cycle that ran late),
    ``cpu_load`` (smoothed render time / real time of one core; ``cpu_load_peak`` the worst
    block), ``render_error`` (what stopped the render thread, if anything).
    """

    def __init__(self, settings: AudioSettings | None = None, *, max_voices: int = 8,
                 params: Mapping[str, float] | None = None,
                 latency_blocks: int = DEFAULT_LATENCY_BLOCKS) -> None:
        if isinstance(latency_blocks, bool) or not isinstance(latency_blocks, int) \
                or not 2 <= latency_blocks <= 64:
            raise ValueError(f"latency_blocks {latency_blocks!r} must be a whole number in "
                             "2-64 (blocks rendered ahead of the output)")
        self.settings = settings or AudioSettings()
        self._config: StreamConfig | None = None
        self.unavailable_reason: str | None = None
        try:
            self._config = resolve(self.settings, "output", channels=2)
        except AudioUnavailable as err:
            self.unavailable_reason = str(err)
        rate = self._config.sample_rate if self._config else (
            self.settings.sample_rate or FALLBACK_SAMPLE_RATE)
        channels = self._config.channels if self._config else 2
        self.synth = PolySynth(sample_rate=rate, max_voices=max_voices, params=params)
        self.blocksize = self.settings.blocksize
        self._ring = FrameRing(latency_blocks * self.blocksize, channels)
        self._mix = np.zeros((self.blocksize, channels), dtype=np.float32)
        self._preview: _Preview | None = None
        self._stream: Stream | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._load_alpha = 1.0 - math.exp(-self.blocksize / rate / _LOAD_TIME_CONSTANT_S)
        self.xruns = 0
        self.cpu_load = 0.0
        self.cpu_load_peak = 0.0
        self.render_error: BaseException | None = None
        self.render_priority_raised = False

    # -- state -----------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        """Whether an output device was found (the player can start)."""
        return self._config is not None

    @property
    def running(self) -> bool:
        """Whether the output stream is open and the render thread runs."""
        return self._stream is not None

    @property
    def sample_rate(self) -> int:
        """The output rate (the device's rate, or the fallback when unavailable)."""
        return self.synth.sample_rate

    @property
    def channels(self) -> int:
        """Output channels (2, or 1 on a mono device)."""
        return self._ring.channels

    @property
    def device_label(self) -> str | None:
        """``name (host API)`` of the output device, or None when unavailable."""
        return self._config.device.label if self._config else None

    @property
    def latency_seconds(self) -> float:
        """Audio rendered ahead of the output (PortAudio's own buffering comes on top)."""
        return self._ring.capacity / self.sample_rate

    @property
    def underruns(self) -> int:
        """Callbacks that found the ring short of frames (heard as a gap) since :meth:`start`."""
        return self._ring.underruns

    @property
    def frames_played(self) -> int:
        """Frames the output callback has delivered since :meth:`start` (gaps included)."""
        return self._ring.frames_read + self._ring.missing_frames

    @property
    def preview_playing(self) -> bool:
        """Whether a preview is still sounding (as far as the render thread got)."""
        preview = self._preview
        return preview is not None and preview.position < preview.frames.shape[0]

    # -- control (any thread) ----------------------------------------------------------------
    def note_on(self, note: int, velocity: int = 100) -> None:
        """Start a note; ignored while the player is not running (nothing would hear it)."""
        if self.running:
            self.synth.note_on(note, velocity)

    def note_off(self, note: int) -> None:
        """Release a note; ignored while the player is not running."""
        if self.running:
            self.synth.note_off(note)

    def all_notes_off(self) -> None:
        """Release every held note; ignored while the player is not running."""
        if self.running:
            self.synth.all_notes_off()

    def set_params(self, params: Mapping[str, float] | np.ndarray) -> None:
        """New synth parameters (normalised); they glide in over ~10 ms."""
        self.synth.set_params(params)

    def play_preview(self, samples: np.ndarray, sample_rate: int) -> None:
        """Play ``samples`` (mono ``(n,)`` or ``(n, channels)``) once, replacing any preview.

        Resampled to the output rate when ``sample_rate`` differs; mixed over the live synth.
        """
        frames = self._preview_frames(samples, sample_rate)
        # One reference store: the render thread picks the new preview up at its next block.
        self._preview = _Preview(frames)

    def stop_preview(self) -> None:
        """Silence the preview (from the next rendered block on)."""
        self._preview = None

    def _preview_frames(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        audio = np.asarray(samples, dtype=np.float32)
        if audio.ndim == 2 and audio.shape[1] == 1:
            audio = audio[:, 0]
        if audio.ndim not in (1, 2) or audio.shape[0] == 0 or \
                (audio.ndim == 2 and audio.shape[1] != 2):
            raise ValueError(f"preview must be mono (n,) or stereo (n, 2) audio, "
                             f"got shape {audio.shape}")
        if not np.isfinite(audio).all():
            raise ValueError("preview contains NaN or infinite samples")
        if audio.shape[0] > _MAX_PREVIEW_S * sample_rate:
            raise ValueError(f"preview is longer than {_MAX_PREVIEW_S:.0f} s; trim it first")
        if int(sample_rate) != self.sample_rate:
            # resample works along the last axis: channels go in as rows.
            audio = resample(audio.T, int(sample_rate), self.sample_rate).T
        frames = np.empty((audio.shape[0], self.channels), dtype=np.float32)
        if audio.ndim == 1:
            frames[:] = audio[:, None]
        elif self.channels == 2:
            frames[:] = audio
        else:
            frames[:, 0] = audio.mean(axis=1)
        return frames

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the render thread, let it fill the ring, then open and start the output.

        Raises :class:`AudioUnavailable` when there is no device or the stream cannot open
        (``available`` is then False and ``unavailable_reason`` set).
        """
        if self.running:
            return
        if self._config is None:
            raise AudioUnavailable(self.unavailable_reason or "no audio output device")
        self._ring.reset()
        self.xruns = 0
        self.render_error = None
        self._stopping.clear()
        self._thread = threading.Thread(target=self._render_loop, name="flowsynth-render",
                                        daemon=True)
        self._thread.start()
        try:
            self._wait_until_primed()
            stream = open_stream(self._config, self._callback)
            stream.start()
        except AudioUnavailable as err:
            self._stop_thread()
            self._config, self.unavailable_reason = None, str(err)
            raise
        self._stream = stream

    def _wait_until_primed(self) -> None:
        """Let the render thread fill the ring before the first callback wants audio.

        The thread itself primes (not this one), so that its first, slower blocks happen
        before the output starts rather than while it is running.
        """
        deadline = time.monotonic() + _PRIME_TIMEOUT_S
        while self._ring.free >= self.blocksize:
            if self.render_error is not None or time.monotonic() > deadline:
                why = self.render_error or f"no audio after {_PRIME_TIMEOUT_S:.0f} s"
                raise AudioUnavailable(f"the synth could not render ({why})")
            time.sleep(0.001)
        # Priming may include loading the compiled kernels: not part of the live load.
        self.cpu_load = self.cpu_load_peak = 0.0

    def stop(self) -> None:
        """Stop the output and the render thread; :meth:`start` may be called again."""
        stream, self._stream = self._stream, None
        if stream is not None:
            close_stream(stream)
        self._stop_thread()

    def close(self) -> None:
        """Stop and drop the preview; the player can still be started again."""
        self.stop()
        self._preview = None

    def __enter__(self) -> LivePlayer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stop_thread(self) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stopping.set()
            thread.join()

    # -- render thread -----------------------------------------------------------------------
    def _render_loop(self) -> None:
        """Keep the ring full; sleep (without the GIL) while it is."""
        self.render_priority_raised = _raise_thread_priority()
        nap = 0.5 * self.blocksize / self.sample_rate
        try:
            self._warm_up_kernels()
            while not self._stopping.is_set():
                if self._ring.free >= self.blocksize:
                    self._render_one_block()
                else:
                    self._stopping.wait(nap)
        except Exception as err:  # kept for the app to show; the callback plays silence
            self.render_error = err

    def _warm_up_kernels(self) -> None:
        """Play a note on a scratch synth, so the first live note does not stall the thread.

        numba loads each compiled kernel from its cache on first call (tens of ms each):
        without this, the first note_on and note_off would each cost a few blocks of audio.
        """
        scratch = PolySynth(sample_rate=self.sample_rate, max_voices=1)
        scratch.note_on(60, 100)
        scratch.render_block(self.blocksize)
        scratch.note_off(60)
        scratch.render_block(self.blocksize)

    def _render_one_block(self) -> None:
        """Synth block + preview -> clipped mix -> ring; updates the CPU load estimate."""
        started = time.perf_counter()
        block = self.synth.render_block(self.blocksize)
        mix = self._mix
        if mix.shape[1] == 2:
            mix[:] = block
        else:
            np.add(block[:, 0], block[:, 1], out=mix[:, 0])
            mix *= 0.5
        self._mix_preview(mix)
        np.clip(mix, -1.0, 1.0, out=mix)  # the preview can push the sum past full scale
        self._ring.write(mix)
        load = (time.perf_counter() - started) * self.sample_rate / self.blocksize
        self.cpu_load += self._load_alpha * (load - self.cpu_load)
        self.cpu_load_peak = max(self.cpu_load_peak, load)

    def _mix_preview(self, mix: np.ndarray) -> None:
        preview = self._preview  # one read: a replacement takes effect next block
        if preview is None:
            return
        start = preview.position
        count = min(mix.shape[0], preview.frames.shape[0] - start)
        if count > 0:
            mix[:count] += preview.frames[start:start + count]
            preview.position = start + count

    # -- audio callback (PortAudio's thread) ---------------------------------------------------
    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        # Copy and count only: any wait here is heard as a click (STYLE.md). Besides what
        # sounddevice passes in, the only objects made are the ring's few ints and slice views.
        if status:
            self.xruns += 1
        self._ring.read_into(outdata)


def _raise_thread_priority() -> bool:
    """Ask the OS to favour the calling thread (Linux: per-thread niceness); True if granted.

    On a busy machine the render thread must get the CPU within the ring's latency, or the
    output runs dry. Raising priority needs a privilege (root, or the audio group's
    RLIMIT_NICE that Debian's jackd2 package sets up); without it the request is refused and
    the player runs at normal priority, as any other thread.
    """
    if sys.platform != "linux":  # elsewhere a thread id is not a valid setpriority target
        return False
    try:
        # On Linux a thread id names one thread here, not the whole process.
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), RENDER_NICE)
    except OSError:
        return False
    return True
