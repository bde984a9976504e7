"""Loading, checking and writing audio files (flowsynth_gui.features.audio_io)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from flowsynth_gui.features.audio_io import (
    AudioFileError,
    ClippedAudioError,
    SilentAudioError,
    check_audible,
    load_audio,
    resample,
    write_wav,
)

SR = 22050


def sine(freq: float, seconds: float, rate: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1.0 / rate)[spectrum.argmax()])


# --- loading ---------------------------------------------------------------------------------


def test_stereo_44k_one_second_is_mixed_resampled_and_padded(tmp_path):
    path = tmp_path / "stereo.wav"
    left, right = sine(440, 1.0, 44100, 0.6), sine(440, 1.0, 44100, 0.2)
    soundfile.write(path, np.stack([left, right], axis=1), 44100, subtype="FLOAT")
    loaded = load_audio(path)
    assert loaded.sample_rate == SR and loaded.source_path == path
    assert loaded.samples.dtype == np.float32 and loaded.samples.shape == (4 * SR,)
    assert loaded.notes == (
        "mixed 2 channels down to mono",
        "resampled 44100 Hz -> 22050 Hz",
        "padded 1.00 s -> 4.00 s with silence",
    )
    body = loaded.samples[2000:20000]
    # Mean mixdown of 0.6 and 0.2 amplitude: 0.4, still at 440 Hz after resampling.
    assert np.abs(body).max() == pytest.approx(0.4, rel=0.01)
    assert dominant_hz(body, SR) == pytest.approx(440, abs=2)
    assert not loaded.samples[SR + 10 :].any()


def test_8k_mono_six_seconds_is_upsampled_and_trimmed(tmp_path):
    path = tmp_path / "phone.wav"
    soundfile.write(path, sine(300, 6.0, 8000), 8000, subtype="PCM_16")
    loaded = load_audio(path)
    assert loaded.notes == ("resampled 8000 Hz -> 22050 Hz", "trimmed 6.00 s -> 4.00 s")
    assert loaded.samples.shape == (4 * SR,)
    assert dominant_hz(loaded.samples, SR) == pytest.approx(300, abs=1)
    full = load_audio(path, duration=None)
    assert full.samples.shape == (6 * SR,) and full.notes == ("resampled 8000 Hz -> 22050 Hz",)
    assert full.duration == pytest.approx(6.0)


def test_flac_at_the_feature_rate_is_untouched(tmp_path):
    path = tmp_path / "note.flac"
    audio = sine(261.63, 4.0, SR)
    soundfile.write(path, audio, SR, subtype="PCM_24")
    loaded = load_audio(path)
    assert loaded.notes == ()
    np.testing.assert_allclose(loaded.samples, audio, atol=1e-6)


def test_ogg_vorbis_loads(tmp_path):
    path = tmp_path / "note.ogg"
    soundfile.write(path, sine(523.25, 2.0, 44100), 44100, format="OGG", subtype="VORBIS")
    loaded = load_audio(path, sample_rate=SR, duration=3.0)
    assert loaded.samples.shape == (3 * SR,)
    assert loaded.notes == (
        "resampled 44100 Hz -> 22050 Hz",
        "padded 2.00 s -> 3.00 s with silence",
    )
    assert dominant_hz(loaded.samples[: 2 * SR], SR) == pytest.approx(523.25, abs=2)
    assert np.abs(loaded.samples[1000:SR]).max() == pytest.approx(0.5, rel=0.05)


def test_four_channels_are_averaged(tmp_path):
    path = tmp_path / "quad.wav"
    data = np.stack([np.full(SR, v, dtype=np.float32) for v in (0.1, 0.2, 0.3, 0.4)], axis=1)
    soundfile.write(path, data, SR, subtype="FLOAT")
    loaded = load_audio(path, duration=None)
    assert loaded.notes == ("mixed 4 channels down to mono",)
    np.testing.assert_allclose(loaded.samples, 0.25, rtol=1e-6)


# --- errors ------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.wav"
    with pytest.raises(AudioFileError, match="nowhere.wav: file not found; check the path"):
        load_audio(path)


def test_empty_wav_and_zero_byte_file(tmp_path):
    empty = tmp_path / "empty.wav"
    soundfile.write(empty, np.zeros(0, dtype=np.float32), SR)
    with pytest.raises(AudioFileError, match=r"empty.wav: holds no audio \(0 frames\); record"):
        load_audio(empty)
    zero = tmp_path / "zero.wav"
    zero.write_bytes(b"")
    with pytest.raises(AudioFileError, match="zero.wav: cannot be read as audio.*WAV, FLAC or OGG"):
        load_audio(zero)


def test_garbage_bytes(tmp_path):
    path = tmp_path / "song.mp3.wav"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(AudioFileError, match="song.mp3.wav: cannot be read as audio.*convert"):
        load_audio(path)


def test_nan_file(tmp_path):
    path = tmp_path / "broken.wav"
    audio = sine(440, 1.0, SR)
    audio[100:200] = np.nan
    soundfile.write(path, audio, SR, subtype="FLOAT")
    with pytest.raises(AudioFileError, match="broken.wav: contains NaN.*export it again"):
        load_audio(path)


def test_folder_is_refused(tmp_path):
    with pytest.raises(AudioFileError, match="is a folder"):
        load_audio(tmp_path)


def test_errors_are_value_errors():
    assert issubclass(AudioFileError, ValueError)
    assert issubclass(SilentAudioError, AudioFileError)
    assert issubclass(ClippedAudioError, AudioFileError)


# --- audibility checks -------------------------------------------------------------------------


def test_silent_file_is_refused_by_check_audible(tmp_path):
    path = tmp_path / "silence.wav"
    soundfile.write(path, np.full(SR, 1e-4, dtype=np.float32), SR, subtype="FLOAT")
    loaded = load_audio(path)
    with pytest.raises(SilentAudioError, match=r"silence.wav: audio is silent \(peak -80.0 dBFS"):
        check_audible(loaded.samples, loaded.sample_rate, source=path)
    with pytest.raises(SilentAudioError, match="-inf dBFS.*input level"):
        check_audible(np.zeros(SR), SR)


def test_short_blip_is_refused():
    audio = np.zeros(SR, dtype=np.float32)
    audio[1000 : 1000 + SR // 10] = sine(440, 0.1, SR)
    with pytest.raises(SilentAudioError, match=r"clip.wav: only 0.10 s of sound .*0.25 s"):
        check_audible(audio, SR, source="clip.wav")
    check_audible(audio, SR, min_duration=0.05)  # long enough for a looser limit


def test_clipped_audio_is_refused():
    square = np.sign(sine(100, 1.0, SR)).astype(np.float32)
    with pytest.raises(ClippedAudioError, match="clipped.*lower input level"):
        check_audible(square, SR, source="loud.wav")
    few = sine(100, 1.0, SR)
    few[:100] = 1.0  # 0.45 % of samples: tolerated
    check_audible(few, SR)


@pytest.mark.parametrize(("amp_db", "seconds", "audible"), [
    (-59.0, 1.0, True), (-61.0, 1.0, False),  # the -60 dBFS silence line
    (-12.0, 0.26, True), (-12.0, 0.24, False),  # the 0.25 s minimum
])
def test_the_limits_of_an_audible_note_are_where_the_docstring_puts_them(
        amp_db: float, seconds: float, audible: bool) -> None:
    quiet_lead = np.zeros(SR // 2)  # silence around the note does not count as sound
    note = np.concatenate([quiet_lead, sine(440, seconds, SR, amp=10 ** (amp_db / 20)),
                           quiet_lead]).astype(np.float32)
    if audible:
        check_audible(note, SR)
    else:
        with pytest.raises(SilentAudioError):
            check_audible(note, SR)


# --- resampling and writing --------------------------------------------------------------------


def test_resample_lengths_and_content():
    assert resample(np.ones(1000), 44100, 22050).shape == (500,)
    up = resample(sine(200, 1.0, 8000), 8000, 22050)
    assert up.shape == (22050,) and up.dtype == np.float32
    assert dominant_hz(up, SR) == pytest.approx(200, abs=1)
    same = np.arange(5, dtype=np.float32)
    np.testing.assert_array_equal(resample(same, SR, SR), same)
    assert resample(np.zeros((3, 4410)), 44100, 22050).shape == (3, 2205)
    with pytest.raises(ValueError, match="positive"):
        resample(same, 0, SR)


def test_write_wav_round_trips_atomically(tmp_path):
    target = tmp_path / "out" / "render.wav"
    audio = sine(330, 0.5, SR)
    assert write_wav(target, audio, SR) == target
    read, rate = soundfile.read(target, dtype="float32")
    assert rate == SR
    np.testing.assert_array_equal(read, audio)
    assert sorted(p.name for p in target.parent.iterdir()) == ["render.wav"]
    write_wav(target, 0.5 * audio, SR, subtype="PCM_16")
    assert soundfile.info(target).subtype == "PCM_16"
    np.testing.assert_allclose(load_audio(target, duration=None).samples, 0.5 * audio, atol=1e-4)
    with pytest.raises(ValueError, match="NaN"):
        write_wav(tmp_path / "bad.wav", np.array([np.nan]), SR)
    assert not (tmp_path / "bad.wav").exists()
