"""Fundamental-frequency estimation (YIN, de Cheveigné & Kawahara 2002) for sound matching.

>>> import numpy as np
>>> t = np.arange(22050) / 22050
>>> round(estimate_pitch(np.sin(2 * np.pi * 220 * t), 22050).midi_note, 2)
57.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["PitchEstimate", "estimate_pitch", "MIN_HZ", "MAX_HZ"]

MIN_HZ, MAX_HZ = 40.0, 1200.0  # covers MIDI 36-84 with room on both sides
_FRAME, _HOP = 2048, 512
_THRESHOLD = 0.15  # YIN's absolute threshold on the cumulative-mean-normalised difference


@dataclass(frozen=True)
class PitchEstimate:
    hz: float | None  # None: no clear pitch (noise, percussion)
    voiced_fraction: float  # share of loud frames with a clear period

    @property
    def midi_note(self) -> float | None:
        return None if self.hz is None else 69.0 + 12.0 * math.log2(self.hz / 440.0)


def _difference(frames: np.ndarray, max_lag: int) -> np.ndarray:
    """YIN's difference d(tau) = sum_j (x_j - x_{j+tau})^2 over a window of n - max_lag
    samples, for every frame: energies from cumulative sums, the cross term by FFT."""
    n = frames.shape[1]
    window = n - max_lag
    size = 1 << int(math.ceil(math.log2(2 * n)))
    head = np.fft.rfft(frames[:, :window], size)
    whole = np.fft.rfft(frames, size)
    cross = np.fft.irfft(np.conj(head) * whole, size)[:, :max_lag]  # r(tau) = sum x_j x_{j+tau}
    squares = np.concatenate([np.zeros((len(frames), 1)), np.cumsum(frames ** 2, axis=1)], axis=1)
    energy_0 = squares[:, window:window + 1]
    lags = np.arange(max_lag)
    energy_tau = squares[:, lags + window] - squares[:, lags]
    return np.maximum(energy_0 + energy_tau - 2.0 * cross, 0.0)


def _frame_periods(d: np.ndarray, min_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Period (in samples, parabolically refined) and clarity of each frame."""
    lags = np.arange(d.shape[1])
    cumulative = np.cumsum(d[:, 1:], axis=1) / lags[1:]
    cmnd = np.ones_like(d)
    cmnd[:, 1:] = d[:, 1:] / np.maximum(cumulative, 1e-12)
    periods = np.full(len(d), np.nan)
    clarity = np.ones(len(d))
    for i, row in enumerate(cmnd):
        below = np.flatnonzero(row[min_lag:] < _THRESHOLD)
        if len(below) == 0:
            continue
        tau = min_lag + below[0]
        while tau + 1 < len(row) and row[tau + 1] < row[tau]:  # walk down to the local minimum
            tau += 1
        a, b, c = row[tau - 1], row[tau], row[min(tau + 1, len(row) - 1)]
        shift = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) > 0 else 0.0
        periods[i], clarity[i] = tau + shift, b
    return periods, clarity


def estimate_pitch(samples: np.ndarray, sample_rate: int) -> PitchEstimate:
    """Median f0 over the loud frames that have a clear period."""
    audio = np.asarray(samples, dtype=np.float64)
    if audio.ndim != 1 or len(audio) < _FRAME:
        return PitchEstimate(None, 0.0)
    frames = np.lib.stride_tricks.sliding_window_view(audio, _FRAME)[::_HOP]
    rms = np.sqrt(np.mean(np.square(frames), axis=1))
    loud = frames[rms > 0.1 * rms.max()] if rms.max() > 0 else frames[:0]
    if len(loud) == 0:
        return PitchEstimate(None, 0.0)
    min_lag = int(sample_rate / MAX_HZ)
    max_lag = min(int(sample_rate / MIN_HZ) + 2, _FRAME // 2)
    periods, _ = _frame_periods(_difference(loud, max_lag), min_lag)
    voiced = periods[np.isfinite(periods)]
    fraction = len(voiced) / len(loud)
    if fraction < 0.3:
        return PitchEstimate(None, fraction)
    return PitchEstimate(float(sample_rate / np.median(voiced)), fraction)
