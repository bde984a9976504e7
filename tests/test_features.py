"""Mel features, normaliser and metrics (flowsynth_gui.features.mel / .metrics)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import scipy.signal

from flowsynth_gui.features import mel as M
from flowsynth_gui.features.metrics import (
    log_mel_mse,
    normalised_parameter_mse,
    spectral_convergence,
)

SR = 22050


def tone(freq: float, seconds: float = 4.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * SR)) / SR
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


# --- mel scale and filterbank -----------------------------------------------------------------


def test_slaney_scale_matches_librosa_documented_values():
    # Values printed in librosa's documentation (hz_to_mel, mel_to_hz, mel_frequencies).
    assert M.hz_to_mel(60.0) == pytest.approx(0.9)
    np.testing.assert_allclose(M.hz_to_mel([110.0, 220.0, 440.0]), [1.65, 3.3, 6.6])
    assert M.mel_to_hz(3.0) == pytest.approx(200.0)
    assert M.hz_to_mel(1000.0) == pytest.approx(15.0)
    assert M.hz_to_mel(6400.0) == pytest.approx(42.0)  # 27 mels per factor 6.4 above 1 kHz
    documented = [
        0.0,
        85.317,
        170.635,
        255.952,
        341.269,
        426.586,
        511.904,
        597.221,
        682.538,
        767.855,
        853.173,
        938.49,
        1024.856,
        1119.114,
        1222.042,
        1334.436,
        1457.167,
        1591.187,
        1737.532,
        1897.337,
        2071.84,
        2262.393,
        2470.47,
        2697.686,
    ]
    got = M.mel_frequencies(40, 0.0, 11025.0)
    np.testing.assert_allclose(got[: len(documented)], documented, atol=2e-3)
    assert got[-1] == pytest.approx(11025.0)


def _hand_slaney_band(i: int, settings: M.MelSettings) -> np.ndarray:
    """Band ``i`` written out from the Slaney definition, scalar by scalar."""
    step = math.log(6.4) / 27.0

    def to_mel(f: float) -> float:
        return f * 3 / 200 if f < 1000 else 15 + math.log(f / 1000) / step

    def to_hz(m: float) -> float:
        return m * 200 / 3 if m < 15 else 1000 * math.exp(step * (m - 15))

    lo, hi = to_mel(settings.fmin), to_mel(settings.fmax)
    n = settings.n_mels + 1
    left, centre, right = (to_hz(lo + (hi - lo) * k / n) for k in (i, i + 1, i + 2))
    height = 2.0 / (right - left)
    band = []
    for j in range(settings.n_fft // 2 + 1):
        f = j * settings.sample_rate / settings.n_fft
        if left < f <= centre:
            band.append(height * (f - left) / (centre - left))
        elif centre < f < right:
            band.append(height * (right - f) / (right - centre))
        else:
            band.append(0.0)
    return np.array(band)


@pytest.mark.parametrize("band", [0, 1, 17, 64, 100, 127])
def test_filterbank_equals_hand_computed_slaney_band(band):
    bank = M.mel_filterbank(M.DEFAULT_SETTINGS)
    assert bank.shape == (128, 1025) and bank.dtype == np.float32
    np.testing.assert_allclose(
        bank[band], _hand_slaney_band(band, M.DEFAULT_SETTINGS), rtol=1e-5, atol=1e-9
    )


def test_filterbank_band_edges_and_slaney_area_normalisation():
    settings = M.DEFAULT_SETTINGS
    bank = M.mel_filterbank(settings).astype(np.float64)
    freqs = M.stft_frequencies(settings)
    edges = M.mel_frequencies(130, 30.0, 11000.0)
    assert edges[0] == pytest.approx(30.0) and edges[-1] == pytest.approx(11000.0)
    # Each band peaks at its centre edge and is zero outside its two neighbours.
    for i in (5, 60, 120):
        support = freqs[bank[i] > 0]
        assert support.min() > edges[i] and support.max() < edges[i + 2]
        assert abs(freqs[bank[i].argmax()] - edges[i + 1]) <= settings.sample_rate / settings.n_fft
    # Slaney norm: every triangle has unit area in Hz (exact where bands span many bins).
    area = bank.sum(axis=1) * settings.sample_rate / settings.n_fft
    np.testing.assert_allclose(area[60:], 1.0, rtol=0.01)
    # Where bands are narrower than a bin the discrete area drifts but stays near 1.
    assert np.all(np.abs(area - 1.0) < 0.1)


def test_filterbank_is_cached_and_read_only():
    first = M.mel_filterbank(M.MelSettings())
    assert M.mel_filterbank(M.MelSettings()) is first
    with pytest.raises(ValueError):
        first[0, 0] = 1.0


# --- STFT and mel ------------------------------------------------------------------------


def test_four_seconds_give_128_by_87():
    audio = tone(440.0)
    assert M.n_frames(len(audio)) == 87
    for fn in (M.mel_magnitude, M.log_mel):
        out = fn(audio, SR)
        assert out.shape == (128, 87) and out.dtype == np.float32
    assert M.stft_magnitude(audio, SR).shape == (1025, 87)
    assert M.log_mel_batch(np.stack([audio, audio]), SR).shape == (2, 128, 87)


def test_stft_matches_librosa_style_reference_loop():
    rng = np.random.default_rng(1)
    audio = rng.standard_normal(10_000).astype(np.float32)
    window = scipy.signal.get_window("hann", 2048, fftbins=True)  # periodic Hann
    padded = np.pad(audio.astype(np.float64), 1024, mode="reflect")
    frames = [padded[k * 1024 : k * 1024 + 2048] * window for k in range(1 + 10_000 // 1024)]
    expected = np.abs(np.fft.rfft(np.array(frames), axis=-1)).T
    got = M.stft_magnitude(audio, SR)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)
    mel = M.mel_magnitude(audio, SR)
    np.testing.assert_allclose(mel, M.mel_filterbank() @ expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(M.log_mel(audio, SR), np.log(mel + 1e-3), rtol=1e-6)


def test_batch_equals_single_and_mel_from_stft():
    rng = np.random.default_rng(2)
    batch = rng.standard_normal((20, 30_000)).astype(np.float32)  # more than one chunk
    logs = M.log_mel_batch(batch, SR)
    stfts = M.stft_magnitude_batch(batch, SR)
    for i in (0, 7, 19):
        np.testing.assert_allclose(logs[i], M.log_mel(batch[i], SR), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(stfts[i], M.stft_magnitude(batch[i], SR), rtol=1e-5)
    np.testing.assert_allclose(
        M.mel_from_stft(stfts), M.mel_magnitude_batch(batch, SR), rtol=1e-4, atol=1e-4
    )


@pytest.mark.parametrize("freq", [110.0, 440.0, 1000.0, 3000.0, 8000.0])
def test_pure_tone_lands_in_its_mel_band(freq):
    mel = M.mel_magnitude(tone(freq), SR)
    edges = M.mel_frequencies(130, 30.0, 11000.0)
    loudest = int(mel[:, 40].argmax())
    # The loudest band is one whose triangle contains the tone, and it holds most energy.
    assert edges[loudest] < freq < edges[loudest + 2]
    assert abs(loudest - int(np.argmin(np.abs(edges[1:-1] - freq)))) <= 1
    column = mel[:, 40] ** 2
    assert column[max(loudest - 2, 0) : loudest + 3].sum() > 0.95 * column.sum()


def test_mel_magnitude_scales_linearly_and_log_uses_offset():
    audio = tone(500.0)
    np.testing.assert_allclose(
        M.mel_magnitude(2 * audio, SR), 2 * M.mel_magnitude(audio, SR), rtol=1e-5
    )
    silent = M.log_mel(np.zeros(SR, dtype=np.float32), SR)
    np.testing.assert_allclose(silent, np.log(1e-3), rtol=1e-6)


@pytest.mark.parametrize(
    ("audio", "rate", "match"),
    [
        (np.zeros(1000), 44100, "resample first"),
        (np.zeros((2, 1000)), SR, "shape"),
        (np.zeros(0), SR, "empty"),
        (np.array([0.0, np.nan, 0.0]), SR, "NaN"),
        (np.array([0.0, np.inf, 0.0]), SR, "NaN or infinite"),
        (np.zeros(10, dtype=complex), SR, "real"),
    ],
)
def test_single_functions_refuse_bad_audio(audio, rate, match):
    for fn in (M.stft_magnitude, M.mel_magnitude, M.log_mel):
        with pytest.raises(ValueError, match=match):
            fn(audio, rate)


def test_batch_functions_refuse_1d_and_wrong_rate():
    for fn in (M.stft_magnitude_batch, M.mel_magnitude_batch, M.log_mel_batch):
        with pytest.raises(ValueError, match="n_sounds"):
            fn(np.zeros(1000), SR)
        with pytest.raises(ValueError, match="audio_io"):
            fn(np.zeros((2, 1000)), 16000)


def test_settings_round_trip_and_validation():
    custom = M.MelSettings(n_mels=64, fmax=8000.0)
    restored = M.MelSettings.from_dict(json.loads(json.dumps(custom.to_dict())))
    assert restored == custom and isinstance(restored.n_mels, int)
    assert M.MelSettings.from_dict({}) == M.DEFAULT_SETTINGS
    with pytest.raises(ValueError, match="unknown"):
        M.MelSettings.from_dict({"n_mel": 64})
    with pytest.raises(ValueError, match="fmax"):
        M.MelSettings(fmax=20000.0)


# --- normaliser --------------------------------------------------------------------------


def test_normaliser_fit_apply_invert_round_trip():
    rng = np.random.default_rng(3)
    data = (rng.standard_normal((10, 128, 87)) * 2.5 - 4.0).astype(np.float32)
    norm = M.FeatureNormaliser.fit(data)
    assert norm.mean == pytest.approx(float(data.astype(np.float64).mean()), abs=1e-9)
    assert norm.std == pytest.approx(float(data.astype(np.float64).std()), rel=1e-9)
    standard = norm.apply(data)
    assert abs(float(standard.mean())) < 1e-4 and float(standard.std()) == pytest.approx(1, 1e-4)
    np.testing.assert_allclose(norm.invert(standard), data, atol=1e-5)
    # Fitting shard by shard gives the same statistics as one array.
    shards = M.FeatureNormaliser.fit(iter([data[:3], data[3:]]))
    assert shards.mean == pytest.approx(norm.mean) and shards.std == pytest.approx(norm.std)
    assert M.FeatureNormaliser.from_dict(json.loads(json.dumps(norm.to_dict()))) == norm


def test_normaliser_refuses_degenerate_input():
    with pytest.raises(ValueError, match="equal"):
        M.FeatureNormaliser.fit(np.full((2, 3), -6.9))
    with pytest.raises(ValueError, match="no values"):
        M.FeatureNormaliser.fit([])
    with pytest.raises(ValueError, match="std"):
        M.FeatureNormaliser(mean=0.0, std=0.0)


# --- metrics -----------------------------------------------------------------------------


def test_spectral_convergence_by_hand():
    target = np.array([[3.0, 0.0], [0.0, 4.0]])
    estimate = np.array([[0.0, 0.0], [0.0, 4.0]])
    assert spectral_convergence(target, estimate) == pytest.approx(3.0 / 5.0)
    assert spectral_convergence(target, target) == 0.0
    assert spectral_convergence(target, np.zeros_like(target)) == pytest.approx(1.0)
    # Target first: swapping the arguments changes the normaliser (3 / 4 here).
    assert spectral_convergence(estimate, target) == pytest.approx(3.0 / 4.0)


def test_spectral_convergence_on_real_mels_and_batches():
    mel = M.mel_magnitude(tone(440.0), SR)
    assert spectral_convergence(mel, mel) == 0.0
    assert spectral_convergence(mel, np.zeros_like(mel)) == pytest.approx(1.0)
    batch = np.stack([mel, mel])
    values = spectral_convergence(batch, np.stack([mel, 0.5 * mel]))
    assert values.shape == (2,)
    np.testing.assert_allclose(values, [0.0, 0.5], atol=1e-7)
    with pytest.raises(ValueError, match=r"silent \(batch items \[1\]\)"):
        spectral_convergence(np.stack([mel, np.zeros_like(mel)]), batch)
    with pytest.raises(ValueError, match="shapes differ"):
        spectral_convergence(mel, mel[:, :10])


def test_log_mel_mse_by_hand():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert log_mel_mse(a, np.zeros_like(a)) == pytest.approx(7.5)
    assert log_mel_mse(a, a) == 0.0
    np.testing.assert_allclose(log_mel_mse(np.stack([a, a]), np.stack([a, a + 1.0])), [0.0, 1.0])


def test_normalised_parameter_mse_by_hand():
    v = np.array([1.0, 0.0, 1.0, 0.0])
    v_hat = np.full(4, 0.5)
    # mean((v_hat - v)^2) = 0.25, mean(v^2) = 0.5
    assert normalised_parameter_mse(v_hat, v) == pytest.approx(0.5)
    batch = normalised_parameter_mse(np.stack([v_hat, v]), np.stack([v, v]))
    np.testing.assert_allclose(batch, [0.5, 0.0])
    v2 = np.array([0.2, 0.4])
    expected = np.mean((np.array([0.3, 0.1]) - v2) ** 2) / np.mean(v2**2)
    assert normalised_parameter_mse(np.array([0.3, 0.1]), v2) == pytest.approx(expected)
    with pytest.raises(ValueError, match="all zeros"):
        normalised_parameter_mse(v_hat, np.zeros(4))
    with pytest.raises(ValueError, match="1-D item"):
        normalised_parameter_mse(np.zeros((2, 2, 2)), np.zeros((2, 2, 2)))


def test_mel_features_are_pinned_and_equal_librosa_with_reflect_padding() -> None:
    """The numbers the shipped model and index were made with (librosa's filterbank since it
    replaced ours: the same to 4e-9), and librosa's melspectrogram with reflect padding."""
    import librosa

    t = np.arange(4 * SR) / SR
    audio = (0.5 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 3000 * t)).astype(
        np.float32)
    column = M.log_mel(audio, SR)[:, 40]
    np.testing.assert_allclose(column[[14, 15, 16]], [0.77055, 2.70495, 1.21863], atol=2e-5)
    assert float(M.log_mel(audio, SR).mean()) == pytest.approx(-6.314115, abs=2e-6)
    assert float(M.mel_filterbank().sum()) == pytest.approx(11.888908, abs=1e-5)
    reference = librosa.feature.melspectrogram(
        y=audio, sr=SR, n_fft=2048, hop_length=1024, n_mels=128, fmin=30.0, fmax=11000.0,
        power=1.0, pad_mode="reflect")
    np.testing.assert_allclose(M.mel_magnitude(audio, SR), reference, atol=1e-6 * reference.max())
