"""Preview loudness: quiet presets are heard at the level of the others, never clipped."""

from __future__ import annotations

import numpy as np
import pytest

from flowsynth_gui.audio.loudness import (
    MAX_GAIN_DB,
    PEAK_CEILING_DBFS,
    PREVIEW_RMS_DBFS,
    describe_level,
    level_dbfs,
    preview_gain,
)

SR = 22050


def _sine(amplitude: float) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * 220 * np.arange(SR) / SR)).astype(np.float32)


def test_levels_of_a_sine() -> None:
    peak, rms = level_dbfs(_sine(0.5))
    assert peak == pytest.approx(-6.02, abs=0.01) and rms == pytest.approx(-9.03, abs=0.01)
    assert describe_level(_sine(0.5)) == "peak −6.0 dBFS · RMS −9.0 dBFS"
    assert describe_level(np.zeros(100)) == "silent"


def test_quiet_and_loud_sounds_come_out_at_one_rms_level() -> None:
    quiet, loud = _sine(10 ** (-30 / 20)), _sine(0.3)
    for sound in (quiet, loud):
        assert level_dbfs(sound * preview_gain(sound))[1] == pytest.approx(PREVIEW_RMS_DBFS,
                                                                           abs=0.01)


def test_the_peak_is_limited_and_silence_is_not_boosted() -> None:
    spiky = np.zeros(SR, np.float32)
    spiky[::2000] = 0.9  # a low RMS, a high peak: the ceiling decides
    assert level_dbfs(spiky * preview_gain(spiky))[0] == pytest.approx(PEAK_CEILING_DBFS,
                                                                       abs=0.01)
    hiss = _sine(1e-5)
    assert preview_gain(hiss) == pytest.approx(10 ** (MAX_GAIN_DB / 20))
    assert preview_gain(np.zeros(SR)) == 1.0
