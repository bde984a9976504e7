"""Recording a sound to match: input stream, level meter, trimmed mono result.

:meth:`Recorder.arm` opens the input stream, so the level meter moves and the user can set the
input gain; :meth:`Recorder.record` starts keeping the audio (in a buffer preallocated for
``max_seconds``); :meth:`Recorder.stop` closes the stream and returns mono float32 at the rate
asked for, leading and trailing silence trimmed. A take with nothing above the threshold raises
:class:`NoSignalError`, which the app shows as "no signal".

The callback copies the block into the preallocated buffer and writes two floats (peak and mean
square of the block) into a preallocated array; :attr:`Recorder.levels` turns them into dBFS on
the reader's thread. No lock: a reader may see a peak from one block and an RMS from the next,
which a meter cannot show anyway.

>>> import numpy as np
>>> take = np.concatenate([np.zeros(4800), 0.5 * np.ones(4800), np.zeros(4800)])
>>> trim_silence(take, 48000).shape  # 5 ms margin kept on each side
(5280,)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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
from flowsynth_gui.features.audio_io import SilentAudioError, resample

__all__ = [
    "DEFAULT_MARGIN_S",
    "DEFAULT_THRESHOLD_DBFS",
    "METER_FLOOR_DBFS",
    "Levels",
    "NoSignalError",
    "Recorder",
    "prepare_recording",
    "trim_silence",
]

DEFAULT_THRESHOLD_DBFS = -50.0
DEFAULT_MARGIN_S = 0.005  # keep the attack's first few ms and the tail's last ones
METER_FLOOR_DBFS = -120.0  # what the meter shows for digital silence (instead of -inf)
MAX_RECORDING_S = 300.0


class NoSignalError(SilentAudioError):
    """Nothing above the threshold reached the input: check the cable, device and gain."""


@dataclass(frozen=True)
class Levels:
    """Peak and RMS of the last input block, in dBFS (floored at ``METER_FLOOR_DBFS``)."""

    peak_dbfs: float
    rms_dbfs: float


def _dbfs(amplitude: float) -> float:
    if amplitude <= 0.0:
        return METER_FLOOR_DBFS
    return max(METER_FLOOR_DBFS, 20.0 * math.log10(amplitude))


def trim_silence(samples: np.ndarray, sample_rate: int,
                 threshold_dbfs: float = DEFAULT_THRESHOLD_DBFS,
                 margin_seconds: float = DEFAULT_MARGIN_S) -> np.ndarray:
    """Cut mono ``samples`` to the first..last sample above ``threshold_dbfs``, plus a margin.

    Raises :class:`NoSignalError` when no sample reaches the threshold (or there are none).
    """
    audio = np.asarray(samples, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"trim_silence expects mono (n,) audio, got shape {audio.shape}")
    if int(sample_rate) <= 0 or not margin_seconds >= 0:
        raise ValueError(f"need a positive sample rate and a margin >= 0, got {sample_rate} Hz "
                         f"and {margin_seconds} s")
    if audio.size == 0:
        raise NoSignalError("nothing was recorded; arm the recorder and play the sound while "
                            "recording")
    threshold = 10.0 ** (threshold_dbfs / 20.0)
    loud = np.flatnonzero(np.abs(audio) >= threshold)
    if loud.size == 0:
        peak = float(np.max(np.abs(audio)))
        raise NoSignalError(f"no signal: the recording peaks at {_dbfs(peak):.1f} dBFS, below "
                            f"{threshold_dbfs:.0f} dBFS; check the input device, the cable and "
                            "the input gain")
    margin = int(round(margin_seconds * sample_rate))
    first = max(0, int(loud[0]) - margin)
    last = min(audio.size, int(loud[-1]) + 1 + margin)
    return audio[first:last].copy()


def prepare_recording(frames: np.ndarray, device_rate: int, sample_rate: int,
                      threshold_dbfs: float = DEFAULT_THRESHOLD_DBFS,
                      margin_seconds: float = DEFAULT_MARGIN_S) -> np.ndarray:
    """Captured ``(n,)`` or ``(n, channels)`` frames -> trimmed mono float32 at ``sample_rate``.

    Channels are averaged, silence trimmed at the device rate (fewer samples to resample),
    then the result resampled. Raises :class:`NoSignalError` for a take without signal.
    """
    audio = np.asarray(frames, dtype=np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=1, dtype=np.float32)
    trimmed = trim_silence(audio, device_rate, threshold_dbfs, margin_seconds)
    return resample(trimmed, int(device_rate), int(sample_rate))


class Recorder:
    """Records from one input device into a buffer preallocated for ``max_seconds``.

    Like the player, constructing never fails for lack of audio: ``available`` and
    ``unavailable_reason`` say whether :meth:`arm` can work. ``channels`` inputs are averaged
    into the mono result (1: the device's first input, as for a microphone).
    """

    def __init__(self, settings: AudioSettings | None = None, *, channels: int = 1,
                 max_seconds: float = 30.0,
                 threshold_dbfs: float = DEFAULT_THRESHOLD_DBFS,
                 margin_seconds: float = DEFAULT_MARGIN_S) -> None:
        if not (isinstance(max_seconds, int | float) and 0 < max_seconds <= MAX_RECORDING_S):
            raise ValueError(f"max_seconds {max_seconds!r} must be in (0, {MAX_RECORDING_S:.0f}]")
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise ValueError(f"channels must be a positive whole number, got {channels!r}")
        self.settings = settings or AudioSettings()
        self.max_seconds = float(max_seconds)
        self.threshold_dbfs = float(threshold_dbfs)
        self.margin_seconds = float(margin_seconds)
        self._config: StreamConfig | None = None
        self.unavailable_reason: str | None = None
        try:
            self._config = resolve(self.settings, "input", channels=channels)
        except AudioUnavailable as err:
            self.unavailable_reason = str(err)
        # Allocated at the first arm (when a device is known), then kept for every take.
        self._buffer = np.zeros((0, 1), dtype=np.float32)
        self._meter = np.zeros(2)  # [peak, mean square] of the last block; callback writes
        self._stream: Stream | None = None
        self._capturing = False
        self._written = 0
        self.dropped_frames = 0
        self.overflows = 0

    # -- state -----------------------------------------------------------------------------
    @property
    def available(self) -> bool:
        """Whether an input device was found (the recorder can arm)."""
        return self._config is not None

    @property
    def armed(self) -> bool:
        """Whether the input stream is open (the meter moves)."""
        return self._stream is not None

    @property
    def recording(self) -> bool:
        """Whether input is being kept (between :meth:`record` and :meth:`stop`)."""
        return self._capturing

    @property
    def device_rate(self) -> int | None:
        """The input device's sample rate, or None when unavailable."""
        return self._config.sample_rate if self._config else None

    @property
    def device_label(self) -> str | None:
        """``name (host API)`` of the input device, or None when unavailable."""
        return self._config.device.label if self._config else None

    @property
    def recorded_seconds(self) -> float:
        """Length of the take so far (untrimmed)."""
        return self._written / self._config.sample_rate if self._config else 0.0

    @property
    def full(self) -> bool:
        """Whether the take reached ``max_seconds`` (later input is dropped and counted)."""
        return self._buffer.shape[0] > 0 and self._written >= self._buffer.shape[0]

    @property
    def levels(self) -> Levels:
        """Peak and RMS of the last block, in dBFS; any thread, no lock."""
        peak, mean_square = float(self._meter[0]), float(self._meter[1])
        return Levels(_dbfs(peak), _dbfs(math.sqrt(max(mean_square, 0.0))))

    # -- lifecycle ---------------------------------------------------------------------------
    def arm(self) -> None:
        """Open and start the input stream: the meter moves, nothing is kept yet."""
        if self.armed:
            return
        config = self._config
        if config is None:
            raise AudioUnavailable(self.unavailable_reason or "no audio input device")
        if self._buffer.shape[0] == 0:
            frames = int(math.ceil(self.max_seconds * config.sample_rate))
            self._buffer = np.zeros((frames, config.channels), dtype=np.float32)
        self._capturing = False
        self._meter[:] = 0.0
        self.overflows = 0
        try:
            stream = open_stream(config, self._callback)
            stream.start()
        except AudioUnavailable as err:
            self._config, self.unavailable_reason = None, str(err)
            raise
        self._stream = stream

    def record(self) -> None:
        """Start a new take (arming first if needed); the previous take is discarded."""
        if self._capturing:
            # Restarting under a running callback could race on the write index: reopen.
            self.disarm()
        self.arm()
        self._written = 0
        self.dropped_frames = 0
        self._capturing = True  # published last: the callback starts writing at frame 0

    def stop(self, sample_rate: int = 22050) -> np.ndarray:
        """End the take and close the stream; trimmed mono float32 at ``sample_rate``.

        Raises :class:`NoSignalError` when nothing above the threshold was recorded.
        """
        if int(sample_rate) <= 0:
            raise ValueError(f"sample rate must be positive, got {sample_rate}")
        self.disarm()
        if self._config is None:
            raise NoSignalError("nothing was recorded: no input device"
                                f" ({self.unavailable_reason})")
        take = self._buffer[:self._written]
        return prepare_recording(take, self._config.sample_rate, int(sample_rate),
                                 self.threshold_dbfs, self.margin_seconds)

    def disarm(self) -> None:
        """Stop keeping input and close the stream (the take stays until the next record)."""
        self._capturing = False
        stream, self._stream = self._stream, None
        if stream is not None:
            close_stream(stream)
        self._meter[:] = 0.0

    def close(self) -> None:
        """Close the stream; same as :meth:`disarm`."""
        self.disarm()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- audio callback (PortAudio's thread) ---------------------------------------------------
    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        # Copy and count only, plus two reductions that allocate no buffer (see module doc).
        if status:
            self.overflows += 1
        meter = self._meter
        meter[0] = max(indata.max(), -indata.min())
        meter[1] = np.vdot(indata, indata) / indata.size
        if self._capturing:
            buffer = self._buffer
            written = self._written
            count = min(frames, buffer.shape[0] - written)
            buffer[written:written + count] = indata[:count]
            self._written = written + count
            if count < frames:
                self.dropped_frames += frames - count
