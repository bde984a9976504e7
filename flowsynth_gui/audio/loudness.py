"""Levels of a sound, and the preview gain that makes sounds comparable by ear.

Imported Diva presets peak at −23 to −31 dBFS against about −8 for the model's sounds: heard
one after the other, the quieter one seems worse. The preview is played at a common RMS level
(:data:`PREVIEW_RMS_DBFS`), its peak kept under :data:`PEAK_CEILING_DBFS`; what a preset
really puts out is shown beside it (:func:`describe_level`) and is what MIDI and exports get.
Silence is never boosted beyond :data:`MAX_GAIN_DB` (noise floors stay noise floors).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MAX_GAIN_DB", "PEAK_CEILING_DBFS", "PREVIEW_RMS_DBFS", "describe_level",
           "level_dbfs", "preview_gain"]

PREVIEW_RMS_DBFS = -20.0
PEAK_CEILING_DBFS = -1.0
MAX_GAIN_DB = 30.0
_FLOOR_DBFS = -120.0


def _dbfs(value: float) -> float:
    return 20.0 * math.log10(value) if value > 0 else _FLOOR_DBFS


def level_dbfs(audio: np.ndarray) -> tuple[float, float]:
    """``(peak, rms)`` in dBFS (−120 for digital silence)."""
    samples = np.asarray(audio, dtype=np.float64).ravel()
    if samples.size == 0:
        return _FLOOR_DBFS, _FLOOR_DBFS
    return (max(_FLOOR_DBFS, _dbfs(float(np.max(np.abs(samples))))),
            max(_FLOOR_DBFS, _dbfs(float(np.sqrt(np.mean(samples * samples))))))


def preview_gain(audio: np.ndarray) -> float:
    """The linear gain that brings the sound to the preview level, peak-limited."""
    peak, rms = level_dbfs(audio)
    if rms <= _FLOOR_DBFS:
        return 1.0
    gain_db = min(PREVIEW_RMS_DBFS - rms, PEAK_CEILING_DBFS - peak, MAX_GAIN_DB)
    return float(10.0 ** (gain_db / 20.0))


def describe_level(audio: np.ndarray) -> str:
    """E.g. "peak −23.4 dBFS · RMS −35.0 dBFS"."""
    peak, rms = level_dbfs(audio)
    if peak <= _FLOOR_DBFS:
        return "silent"
    return f"peak {peak:.1f} dBFS · RMS {rms:.1f} dBFS".replace("-", "−")
