"""Audio descriptors and the Diva-style tag rules (features.descriptors / features.tags)."""

from __future__ import annotations

import json
from functools import cache

import numpy as np
import pytest

from flowsynth_gui.features.descriptors import (
    DESCRIPTOR_NAMES,
    NOTE_HELD_S,
    RECORDED_S,
    Descriptors,
    compute_descriptors,
    compute_descriptors_batch,
)
from flowsynth_gui.features.mel import stft_magnitude, stft_magnitude_batch
from flowsynth_gui.features.tags import (
    TAG_PAIRS,
    TagRules,
    character_string,
    labels_to_tags,
    parse_character,
)

SR = 22050
T = np.arange(round(RECORDED_S * SR)) / SR
HELD = T < NOTE_HELD_S
F0 = 261.63  # MIDI note 60, as the rendering protocol


def gate(attack_s: float = 0.002) -> np.ndarray:
    """Linear attack, sustain while held, fast release: the protocol's note shape."""
    rise = np.clip(T / attack_s, 0.0, 1.0)
    return np.where(HELD, rise, np.exp(-(T - NOTE_HELD_S) * 30.0))


@cache
def _partials() -> np.ndarray:
    """Cumulative sums of the saw's partials: row h - 1 is a saw with h harmonics."""
    k = np.arange(1, 41)[:, None]
    partials = np.cumsum(np.sin(2 * np.pi * F0 * k * T) / k, axis=0)
    partials.setflags(write=False)
    return partials


def saw(harmonics: int = 40) -> np.ndarray:
    return _partials()[harmonics - 1]


def sine() -> np.ndarray:
    return np.sin(2 * np.pi * F0 * T)


def noise(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(T.size)


def sound(signal: np.ndarray, level: float = 0.3, attack_s: float = 0.002) -> np.ndarray:
    return (level * signal / np.abs(signal).max() * gate(attack_s)).astype(np.float32)


def describe(audio: np.ndarray) -> Descriptors:
    return compute_descriptors(audio, SR)


# --- each descriptor on sounds whose answer we know ------------------------------------------


def test_protocol_constants():
    assert (NOTE_HELD_S, RECORDED_S) == (3.0, 4.0)


def test_sine_centroid_is_its_frequency_and_a_saw_is_brighter():
    sine_d, saw_d = describe(sound(sine())), describe(sound(saw()))
    assert sine_d.spectral_centroid == pytest.approx(F0, rel=0.03)
    assert saw_d.spectral_centroid > 5 * sine_d.spectral_centroid
    assert saw_d.hf_ratio > 100 * sine_d.hf_ratio
    assert sine_d.hf_ratio < 1e-4


def test_centroid_rises_with_harmonics():
    centroids = [describe(sound(saw(h))).spectral_centroid for h in (1, 4, 16, 40)]
    assert centroids == sorted(centroids) and centroids[-1] > 2 * centroids[1]


def test_white_noise_is_flat_and_a_sine_is_not():
    noise_d, sine_d, saw_d = (
        describe(sound(noise())),
        describe(sound(sine())),
        describe(sound(saw())),
    )
    # Flatness of white noise's periodogram is about exp(-Euler gamma) = 0.56.
    assert 0.35 < noise_d.spectral_flatness < 0.7
    assert sine_d.spectral_flatness < 1e-3
    assert saw_d.spectral_flatness < 0.02
    assert describe(sound(saw() + 0.3 * noise())).spectral_flatness > 10 * saw_d.spectral_flatness


def test_tremolo_and_filter_sweep_move_more_than_a_steady_tone():
    steady = describe(sound(saw())).modulation
    tremolo = describe(sound(saw() * (1.0 + 0.7 * np.sin(2 * np.pi * 4.0 * T)))).modulation
    # A brightness sweep: harmonics above the fundamental fade in and out at 1 Hz.
    brightness = 0.5 + 0.5 * np.sin(2 * np.pi * 1.0 * T)
    sweep = np.sin(2 * np.pi * F0 * T) + brightness * (saw(30) - np.sin(2 * np.pi * F0 * T))
    sweeping = describe(sound(sweep)).modulation
    assert steady < 0.02
    assert tremolo > 10 * steady and sweeping > 10 * steady


def test_plain_decay_is_not_movement():
    # An exponential decay is a straight line in log amplitude: removed before measuring.
    decaying = (0.3 * saw() / 2 * np.exp(-T * 1.5)).astype(np.float32)
    tremolo = describe(sound(saw() * (1.0 + 0.5 * np.sin(2 * np.pi * 5.0 * T)))).modulation
    assert describe(decaying).modulation < 0.1 * tremolo


def test_sharp_attack_is_sharper_than_a_swell():
    sharp = describe(sound(saw(), attack_s=0.002)).attack_sharpness
    medium = describe(sound(saw(), attack_s=0.1)).attack_sharpness
    swell = describe(sound(saw(), attack_s=1.5)).attack_sharpness
    assert sharp > medium > swell
    # 10 % -> 90 % of a linear 1.5 s ramp takes 1.2 s: -log10(1.2) = -0.08.
    assert swell == pytest.approx(-np.log10(1.2), abs=0.05)
    assert medium == pytest.approx(-np.log10(0.08), abs=0.15)


def test_loudness_is_rms_in_db():
    d = describe((0.5 * sine()).astype(np.float32))
    assert d.loudness_db == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.05)
    silent = describe(np.zeros(T.size, dtype=np.float32))
    assert silent.loudness_db == -120.0
    assert np.isfinite(silent.as_array()).all()


def test_descriptors_use_only_the_held_part():
    base = sound(saw())
    tail_noise = base.copy()
    tail_noise[~HELD] += 0.5 * noise()[~HELD].astype(np.float32)
    a, b = describe(base), describe(tail_noise)
    # Frames centred before 3 s see at most 1024 samples of the tail; the envelope sees none.
    assert b.loudness_db == a.loudness_db and b.attack_sharpness == a.attack_sharpness
    assert b.spectral_flatness < 0.1


def test_batch_and_precomputed_stft_agree_with_single():
    sounds = np.stack([sound(sine()), sound(saw()), sound(noise()), sound(saw(), attack_s=1.0)])
    batch = compute_descriptors_batch(sounds, SR)
    assert tuple(batch) == DESCRIPTOR_NAMES and all(v.shape == (4,) for v in batch.values())
    with_stft = compute_descriptors_batch(sounds, SR, stft_magnitude_batch(sounds, SR))
    # the same spectra in bins-major memory (as another caller may hold them)
    bins_major = np.ascontiguousarray(stft_magnitude_batch(sounds, SR))
    with_copy = compute_descriptors_batch(sounds, SR, bins_major)
    for i, audio in enumerate(sounds):
        single = describe(audio).as_array()
        for table in (batch, with_stft, with_copy):
            np.testing.assert_allclose([table[n][i] for n in DESCRIPTOR_NAMES], single, rtol=1e-9)
    one = compute_descriptors(sounds[1], SR, stft_magnitude(sounds[1], SR))
    np.testing.assert_allclose(one.as_array(), describe(sounds[1]).as_array(), rtol=1e-9)


def test_descriptor_inputs_are_checked():
    audio = sound(sine())
    with pytest.raises(ValueError, match="resample"):
        compute_descriptors(audio, 44100)
    with pytest.raises(ValueError, match="stft_mag has shape"):
        compute_descriptors(audio, SR, np.zeros((1025, 10)))
    with pytest.raises(ValueError, match="NaN"):
        compute_descriptors(np.full(1000, np.nan), SR)


def test_descriptors_dataclass_helpers():
    d = describe(sound(saw()))
    assert (
        Descriptors.names()
        == DESCRIPTOR_NAMES
        == (
            "spectral_centroid",
            "spectral_flatness",
            "modulation",
            "attack_sharpness",
            "loudness_db",
            "hf_ratio",
        )
    )
    assert d.as_array()[0] == d.spectral_centroid
    assert Descriptors.from_mapping(dict(zip(d.names(), d.as_array(), strict=True))) == d


# --- tags ----------------------------------------------------------------------------------


def _corpus() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """40 sounds whose four factors vary independently (each a shuffled ramp)."""
    rng = np.random.default_rng(7)
    n = 40
    factors = {
        name: rng.permutation(n) / (n - 1) for name in ("bright", "moving", "dirty", "aggressive")
    }
    sounds = []
    for i in range(n):
        harmonics = 1 + int(round(factors["bright"][i] * 30))
        tremolo = 1.0 + 0.8 * factors["moving"][i] * np.sin(2 * np.pi * 5.0 * T)
        # Squared and small: flatness reacts to little noise, and more would also brighten.
        dirt = 0.01 * factors["dirty"][i] ** 2 * noise(i)
        attack = 10.0 ** (-2.5 + 2.5 * (1.0 - factors["aggressive"][i]))  # 3 ms .. 1 s
        sounds.append(sound(saw(harmonics) * tremolo + dirt, attack_s=attack))
    return np.stack(sounds), factors


@pytest.fixture(scope="module")
def corpus():
    sounds, factors = _corpus()
    return sounds, factors, compute_descriptors_batch(sounds, SR)


def test_tags_land_on_the_expected_side(corpus):
    sounds, factors, arrays = corpus
    rules = TagRules.fit(arrays)
    labels = rules.labels(arrays)
    assert labels.shape == (40, 4) and labels.dtype == np.int8
    for column, name in enumerate(("bright", "moving", "dirty")):
        # Bottom and top fifth: 8 of 40 on each side, the rest untagged.
        assert (labels[:, column] == -1).sum() == 8 and (labels[:, column] == 1).sum() == 8
        positive = factors[name][labels[:, column] == 1]
        negative = factors[name][labels[:, column] == -1]
        # Factors interact a little (noise brightens), so compare the two groups' averages.
        assert positive.mean() > negative.mean() + 0.5, name
        assert np.median(positive) > 0.6 and np.median(negative) < 0.4, name
    # Soft/Aggressive mixes attack and brightness, so only the averages must separate.
    aggressive = factors["aggressive"] + factors["bright"]
    assert aggressive[labels[:, 3] == 1].mean() > aggressive[labels[:, 3] == -1].mean() + 0.5
    # tags_for agrees with labels, row by row.
    for i in (0, 5, 17):
        single = {name: values[i] for name, values in arrays.items()}
        assert rules.tags_for(single) == labels_to_tags(labels[i])
        assert rules.tags_for(Descriptors.from_mapping(single)) == labels_to_tags(labels[i])


def test_extreme_sounds_get_their_tags(corpus):
    _, _, arrays = corpus
    rules = TagRules.fit(arrays)
    plain_sine = rules.tags_for(describe(sound(sine())))
    assert "Dark" in plain_sine and "Clean" in plain_sine and "Constant" in plain_sine
    harsh = rules.tags_for(describe(sound(saw(40) + 0.5 * noise(), attack_s=0.001)))
    assert {"Bright", "Dirty", "Aggressive"} <= set(harsh)
    wobble = sound(saw(10) * (1.0 + 0.9 * np.sin(2 * np.pi * 3.0 * T)), attack_s=1.0)
    assert {"Moving", "Soft"} <= set(rules.tags_for(describe(wobble)))
    assert rules.tags_for(describe(np.zeros(T.size, dtype=np.float32))) == []


def test_rules_round_trip_through_json(corpus):
    _, _, arrays = corpus
    rules = TagRules.fit(arrays)
    data = json.loads(json.dumps(rules.to_dict()))
    assert [(p["negative"], p["positive"]) for p in data["pairs"]] == list(TAG_PAIRS)
    restored = TagRules.from_dict(data)
    assert restored == rules
    np.testing.assert_array_equal(restored.labels(arrays), rules.labels(arrays))
    data["format_version"] = 99
    with pytest.raises(ValueError, match="refit"):
        TagRules.from_dict(data)
    with pytest.raises(ValueError, match="malformed"):
        TagRules.from_dict({"format_version": 1})


def test_fit_ignores_silent_sounds_and_needs_a_corpus(corpus):
    _, _, arrays = corpus
    silent = {
        name: np.concatenate([values, np.full(100, values.min())])
        for name, values in arrays.items()
    }
    silent["loudness_db"][-100:] = -120.0
    rules = TagRules.fit(silent)
    assert rules == TagRules.fit(arrays)
    assert not rules.labels(silent)[-100:].any()
    few = {name: values[:5] for name, values in arrays.items()}
    with pytest.raises(ValueError, match="at least 10"):
        TagRules.fit(few)
    with pytest.raises(ValueError, match="lack"):
        rules.labels({"spectral_centroid": arrays["spectral_centroid"]})


def test_constant_descriptor_tags_nobody(corpus):
    _, _, arrays = corpus
    flat = dict(arrays, modulation=np.full(40, 0.01))
    assert not TagRules.fit(flat).labels(flat)[:, 1].any()


def test_character_string_in_diva_format():
    assert character_string(["Bright", "Moving"]) == "Bright, Moving"
    assert character_string(["Dark", "Dark", " Soft "]) == "Dark, Soft"
    assert character_string([]) == ""
    assert parse_character("Bright, Moving") == ["Bright", "Moving"]
    assert parse_character(character_string(["Clean", "Soft"])) == ["Clean", "Soft"]
    with pytest.raises(ValueError, match="comma"):
        character_string(["Bright, Dark"])
    assert labels_to_tags(np.array([1, 0, -1, 1], dtype=np.int8)) == [
        "Bright",
        "Clean",
        "Aggressive",
    ]
