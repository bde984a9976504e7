"""The synth: pitch, parameter coverage, determinism, bounds, stability, clicks, aliasing."""

from __future__ import annotations

import numpy as np
import pytest

from flowsynth_gui.features.mel import log_mel
from flowsynth_gui.synth import ParameterError, param_set, render, render_batch
from flowsynth_gui.synth.params import param_names, spec_by_name

SR = 22050


def estimate_f0(audio: np.ndarray, sample_rate: int, expected: float) -> float:
    """Frequency of the spectral peak nearest ``expected`` (zero-padded FFT, parabolic fit)."""
    segment = audio[sample_rate // 2: sample_rate // 2 + sample_rate * 2].astype(np.float64)
    size = 1 << 20
    spectrum = np.abs(np.fft.rfft(segment * np.hanning(len(segment)), size))
    bin_hz = sample_rate / size
    lo, hi = int(expected * 0.9 / bin_hz), int(expected * 1.1 / bin_hz)
    k = lo + int(np.argmax(spectrum[lo:hi]))
    a, b, c = np.log(spectrum[k - 1: k + 2])
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * bin_hz


@pytest.mark.parametrize("note", [36, 60, 84, 96])
@pytest.mark.parametrize("shape", [0.0, 0.667])
def test_pitch_within_five_cents(note: int, shape: float) -> None:
    audio = render({"OSC: Shape1": shape}, note=note)
    expected = 440.0 * 2 ** ((note - 69) / 12)
    cents = 1200 * np.log2(estimate_f0(audio, SR, expected) / expected)
    assert abs(cents) < 5.0


def _busy_patch() -> dict[str, float]:
    # 0.6 almost everywhere: every wet level, depth and level is non-zero and bipolar depths
    # are off-centre, so each parameter has something to act on. Oscillator 1 sits between saw
    # and pulse so that the pulse width matters; a light slew lets LFO2 through.
    return {**{name: 0.6 for name in param_set(64)}, "OSC: Shape1": 0.9, "MOD: SlewRate": 0.3}


@pytest.mark.parametrize("name", param_set(64))
def test_every_parameter_of_the_64_set_changes_the_audio(name: str) -> None:
    low = log_mel(render({**_busy_patch(), name: 0.2}), SR)
    high = log_mel(render({**_busy_patch(), name: 0.8}), SR)
    assert np.mean(np.abs(high - low)) > 0.02, f"{name} barely changes the sound"


def test_render_is_deterministic_and_seeded() -> None:
    patch = {"OSC: NoiseVol": 0.5, "Plate1: Wet": 0.4, "Chrs1: Wet": 0.5}
    first, again = render(patch, seed=3), render(patch, seed=3)
    assert np.array_equal(first, again)
    assert not np.array_equal(first, render(patch, seed=4))


def test_empty_mapping_is_the_default_patch() -> None:
    defaults = {name: spec_by_name(name).default_normalised for name in param_names()}
    assert np.array_equal(render({}), render(defaults))
    assert np.array_equal(render({}), render(None))


def test_no_nan_or_clipping_over_1000_random_presets() -> None:
    rng = np.random.default_rng(1234)
    names = param_set(64)
    audio = render_batch(rng.uniform(size=(1000, len(names))), names, duration=4.0)
    assert np.all(np.isfinite(audio))
    assert np.max(np.abs(audio)) < 1.0
    assert np.mean(np.max(np.abs(audio), axis=1) > 1e-3) > 0.8, "most presets must sound"


def test_batch_equals_single_renders() -> None:
    names = param_set(16)
    values = np.random.default_rng(0).uniform(size=(3, 16))
    batch = render_batch(values, names, seeds=[7, 8, 9])
    for row, seed, audio in zip(values, [7, 8, 9], batch, strict=True):
        assert np.array_equal(audio, render(dict(zip(names, row, strict=True)), seed=seed))


@pytest.mark.parametrize("cutoff", [0.0, 0.3, 0.6, 1.0])
def test_ladder_is_stable_at_full_resonance_and_feedback(cutoff: float) -> None:
    audio = render({"VCF1: Resonance": 1.0, "VCF1: Feedback": 1.0, "VCF1: Frequency": cutoff,
                    "VCF1: FilterFM": 1.0, "VCA1: Volume": 1.0})
    assert np.all(np.isfinite(audio)) and np.max(np.abs(audio)) < 1.0
    tail = audio[int(2.5 * SR): int(2.9 * SR)]
    assert np.std(tail) > 1e-3, "the filter should ring or pass signal, not die"


def test_resonance_self_oscillates_near_its_top() -> None:
    # Faint noise in, full resonance: a sine at the cutoff (note 90, 1480 Hz) must dominate.
    faint_noise = {"OSC: Volume1": 0.0, "OSC: Volume2": 0.0, "OSC: NoiseVol": 0.02,
                   "VCF1: Resonance": 1.0, "VCF1: Frequency": 0.5, "VCA1: Volume": 1.0}
    second = render(faint_noise)[SR: 2 * SR].astype(np.float64)
    power = np.abs(np.fft.rfft(second)) ** 2
    peak = int(np.argmax(power))
    assert abs(peak - 1480) < 30
    assert power[peak - 3: peak + 4].sum() / power.sum() > 0.3


def test_no_clicks_at_note_on_and_off() -> None:
    # A sine with the fastest envelope: the largest sample step around note on and off must
    # stay close to what the steady tone itself produces (a click is a jump several times it).
    patch = {"OSC: Shape1": 0.0, "ENV1: Attack": 0.0, "ENV1: Release": 0.0}
    audio = render(patch, note=48).astype(np.float64)
    steps = np.abs(np.diff(audio))
    steady = steps[SR: 2 * SR].max()
    gate = int(3.0 * SR)
    assert steps[:200].max() <= steady * 1.25
    assert steps[gate - 50: gate + 400].max() <= steady * 1.25


def alias_ratio_db(audio: np.ndarray, f0: float) -> float:
    """Energy between the harmonics relative to the harmonics, over one steady second."""
    segment = audio[SR // 2: SR // 2 + 16384].astype(np.float64) * np.hanning(16384)
    power = np.abs(np.fft.rfft(segment)) ** 2
    freqs = np.fft.rfftfreq(16384, 1 / SR)
    harmonic = np.zeros_like(power, dtype=bool)
    for k in range(0, int(SR / 2 / f0) + 1):
        harmonic |= np.abs(freqs - k * f0) < 12
    return float(10 * np.log10(power[~harmonic].sum() / power[harmonic].sum()))


@pytest.mark.parametrize(("shape", "limit_db"), [(0.0, -45), (0.333, -45), (0.667, -33),
                                                 (1.0, -33)])
def test_oscillators_are_band_limited_at_note_96(shape: float, limit_db: float) -> None:
    note = 96
    audio = render({"OSC: Shape1": shape, "VCF1: Frequency": 1.0}, note=note, duration=1.5)
    assert alias_ratio_db(audio, 440.0 * 2 ** ((note - 69) / 12)) < limit_db


@pytest.mark.parametrize(
    ("params", "kwargs", "message"),
    [
        ({"VCF1: Frequncy": 0.5}, {}, "Did you mean 'VCF1: Frequency'"),
        ({"VCF1: Frequency": 1.5}, {}, "outside [0, 1]"),
        ({"VCF1: Frequency": float("nan")}, {}, "NaN"),
        ({"VCF1: Frequency": "high"}, {}, "not a number"),
        ({}, {"note": 128}, "outside 0-127"),
        ({}, {"note": -1}, "outside 0-127"),
        ({}, {"velocity": 0}, "outside 1-127"),
        ({}, {"duration": 0.0}, "duration"),
        ({}, {"sample_rate": 1000}, "sample rate"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(params, kwargs, message) -> None:
    with pytest.raises(ValueError, match=None) as error:
        render(params, **kwargs)
    assert message in str(error.value)


def test_parameter_errors_are_value_errors() -> None:
    assert issubclass(ParameterError, ValueError)
    with pytest.raises(ParameterError):
        render_batch(np.full((1, 16), 2.0), param_set(16))
