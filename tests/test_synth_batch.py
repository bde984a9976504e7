"""Batched rendering: voices side by side in vector lanes sound exactly as rendered one by one."""

from __future__ import annotations

import numpy as np
import pytest

from flowsynth_gui.synth import param_names, param_set, render, render_batch
from flowsynth_gui.synth.params import default_vector, param_index
from flowsynth_gui.synth.render import MIN_LANE_GROUP
from flowsynth_gui.synth.voice_batch import LANES

TOLERANCE = 1e-4  # the bound on the largest sample difference; measured: 0 or ~1e-12


def singles(values: np.ndarray, names: list[str], seeds: list[int], **kwargs) -> np.ndarray:
    return np.stack([render(dict(zip(names, row, strict=True)), seed=seed, **kwargs)
                     for row, seed in zip(values, seeds, strict=True)])


def assert_batch_matches_singles(values: np.ndarray, names: list[str], **kwargs) -> None:
    seeds = list(range(100, 100 + len(values)))
    batch = render_batch(values, names, seeds=seeds, workers=1, **kwargs)
    difference = np.abs(batch - singles(values, names, seeds, **kwargs)).max(axis=1)
    assert difference.max() <= TOLERANCE, f"rows differing: {np.nonzero(difference > TOLERANCE)}"


@pytest.mark.parametrize("size", [16, 32, 64])
def test_random_presets_of_every_parameter_set_match_single_renders(size: int) -> None:
    names = param_set(size)
    values = np.random.default_rng(size).uniform(size=(LANES + 3, size))
    assert_batch_matches_singles(values, names)


def branch_presets() -> tuple[list[str], np.ndarray]:
    """One preset per path a voice can take, each from the default patch with a few moves."""
    names = param_names()
    moves: list[dict[str, float]] = [
        *({"OSC: Shape1": shape} for shape in (0.0, 0.2, 1 / 3, 0.5, 2 / 3, 0.9, 1.0)),
        {"OSC: OscMix": 1.0, "OSC: Shape2": 1.0, "OSC: FM": 0.8},  # osc 2 with FM
        {"OSC: OscMix": 0.5, "OSC: DigitalShape2": 1.0},  # ring modulation
        {"OSC: Volume3": 1.0, "OSC: Shape3": 0.4, "OSC: Tune3": 0.9},
        {"OSC: DigitalShape4": 1.0, "OSC: NoiseVol": 1.0},  # sub and noise
        {"OSC: PulseWidth": 0.05, "OSC: PWModDepth": 1.0, "OSC: Shape1": 1.0},
        {"VCF1: Resonance": 1.0, "VCF1: Feedback": 1.0, "VCF1: Frequency": 0.2},  # extreme
        {"VCF1: FilterFM": 1.0, "VCF1: FilterFMModDepth": 1.0},  # audio-rate cutoff
        {"HPF: Frequency": 0.6, "HPF: Resonance": 0.8},
        {"ENV1: Attack": 1.0, "ENV2: Attack": 0.9},  # released during the attack
        {"ENV1: Release": 0.0, "ENV1: Decay": 0.0, "ENV1: Sustain": 0.0},  # silent early
        {"LFO2: Rate": 1.0, "MOD: SlewRate": 1.0, "VCA1: ModDepth": 1.0, "VCA1: PanModDepth": 1.0},
        {"Rtary1: Drive": 1.0, "Chrs1: Wet": 1.0},  # effects on
        {"Plate1: Wet": 1.0, "Delay1: Wet": 1.0, "Delay1: Feedback": 1.0},
    ]
    rows = np.repeat(default_vector()[None], len(moves), axis=0)
    for row, move in zip(rows, moves, strict=True):
        for name, value in move.items():
            assert name in names, name
            row[param_index(name)] = value
    return names, rows


def test_presets_that_take_every_branch_match_single_renders() -> None:
    names, rows = branch_presets()
    assert len(rows) >= MIN_LANE_GROUP
    assert_batch_matches_singles(rows, list(names), note_seconds=0.5)


def test_a_note_of_another_pitch_rate_and_length_matches_too() -> None:
    names, rows = branch_presets()
    assert_batch_matches_singles(rows, list(names), note=84, sample_rate=16000, duration=1.3,
                                 note_seconds=1.0)


@pytest.mark.parametrize("batch_size", [1, LANES - 1, LANES, LANES + 1, 2 * LANES + 5])
def test_a_row_renders_the_same_whatever_the_batch_size_and_its_position(
        batch_size: int) -> None:
    names = param_set(32)
    values = np.random.default_rng(5).uniform(size=(batch_size, 32))
    reference = render_batch(values[-1:], names, seeds=[42])[0]
    seeds = [7] * (batch_size - 1) + [42]
    batch = render_batch(values, names, seeds=seeds)
    np.testing.assert_allclose(batch[-1], reference, rtol=0, atol=1e-6)
    assert np.array_equal(render_batch(values, names, seeds=seeds), batch), "deterministic"


def test_noise_follows_each_rows_seed_inside_a_group() -> None:
    names = ["OSC: NoiseVol"]
    values = np.ones((LANES, 1))
    audio = render_batch(values, names, seeds=list(range(LANES)))
    assert not np.array_equal(audio[0], audio[1]), "rows with other seeds get other noise"
    again = render_batch(values, names, seeds=[1] + list(range(1, LANES)))
    assert np.array_equal(again[0], audio[1])

