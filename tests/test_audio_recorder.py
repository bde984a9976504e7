"""Turning a take into a sound to match: trimming, no-signal, resampling (no device needed)."""

from __future__ import annotations

import numpy as np
import pytest

from flowsynth_gui.audio.device import AudioSettings
from flowsynth_gui.audio.recorder import (
    Levels,
    NoSignalError,
    Recorder,
    prepare_recording,
    trim_silence,
)
from flowsynth_gui.features.audio_io import SilentAudioError

SR = 48000


def _take(lead_s: float, tone_s: float, tail_s: float, level: float = 0.5,
          noise_dbfs: float = -70.0) -> np.ndarray:
    """Noise floor, a 440 Hz tone, noise floor."""
    rng = np.random.default_rng(0)
    total = int((lead_s + tone_s + tail_s) * SR)
    audio = rng.normal(0, 10 ** (noise_dbfs / 20) / 3, total).astype(np.float32)
    start, count = int(lead_s * SR), int(tone_s * SR)
    t = np.arange(count) / SR
    audio[start:start + count] += level * np.sin(2 * np.pi * 440 * t + np.pi / 2)
    return audio


def test_silence_is_trimmed_to_the_sound_plus_a_margin() -> None:
    trimmed = trim_silence(_take(0.3, 0.5, 0.4), SR, threshold_dbfs=-50, margin_seconds=0.005)
    margin = int(0.005 * SR)
    assert abs(len(trimmed) - (int(0.5 * SR) + 2 * margin)) <= 2
    assert np.all(np.abs(trimmed[:margin - 2]) < 10 ** (-50 / 20))  # the margin is the floor
    assert np.abs(trimmed[margin + 2]) > 0.4  # then the tone (it starts at a peak)


def test_a_quiet_but_present_sound_is_kept_whole() -> None:
    take = _take(0.1, 0.2, 0.1, level=10 ** (-40 / 20))  # -40 dBFS: above the threshold
    assert len(trim_silence(take, SR)) >= int(0.2 * SR)


@pytest.mark.parametrize("take", [
    np.zeros(SR, dtype=np.float32),
    _take(0.5, 0.0, 0.5),  # only the -70 dBFS noise floor
    _take(0.1, 0.2, 0.1, level=10 ** (-55 / 20)),  # a tone, but below -50 dBFS
    np.zeros(0, dtype=np.float32),  # nothing recorded at all
])
def test_no_signal_is_a_silent_audio_error_that_says_what_to_check(take) -> None:
    with pytest.raises(NoSignalError, match="no signal|nothing was recorded") as caught:
        trim_silence(take, SR)
    assert isinstance(caught.value, SilentAudioError)


def test_a_stereo_take_becomes_trimmed_mono_at_the_rate_asked_for() -> None:
    tone = _take(0.2, 1.0, 0.2)
    stereo = np.stack([tone, tone], axis=1)
    out = prepare_recording(stereo, SR, 22050, margin_seconds=0.0)
    assert out.dtype == np.float32 and out.ndim == 1
    assert abs(len(out) - 22050) <= 3
    spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out))))
    assert abs(np.argmax(spectrum) * 22050 / len(out) - 440) < 2


def test_the_recorder_without_a_device_reports_why_and_stop_says_no_signal() -> None:
    recorder = Recorder(AudioSettings(device="no such input device"))
    assert recorder.available is False
    assert "input device" in recorder.unavailable_reason  # none at all, or not that one
    assert recorder.levels == Levels(-120.0, -120.0)
    assert not recorder.armed and not recorder.recording and recorder.recorded_seconds == 0
    with pytest.raises(NoSignalError):
        recorder.stop()


@pytest.mark.parametrize("kwargs", [{"max_seconds": 0}, {"max_seconds": 1e6}, {"channels": 0}])
def test_bad_recorder_options_are_refused(kwargs) -> None:
    with pytest.raises(ValueError):
        Recorder(AudioSettings(device="no such input device"), **kwargs)
