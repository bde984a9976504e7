"""The block-based polyphonic synth used for live play."""

from __future__ import annotations

import numpy as np
import pytest

from flowsynth_gui.synth import render
from flowsynth_gui.synth.live import PolySynth

PATCH = {"OSC: Shape1": 0.7, "VCF1: Frequency": 0.6, "VCF1: Resonance": 0.5,
         "VCF1: FreqModDepth": 0.7, "Chrs1: Wet": 0.4, "Plate1: Wet": 0.3, "VCA1: Volume": 0.4}


@pytest.mark.parametrize("block", [64, 256, 1000])
def test_blocks_reproduce_the_offline_render(block: int) -> None:
    sr = 22050
    synth = PolySynth(sample_rate=sr, max_voices=8, params=PATCH)
    synth.note_on(60, 100)
    total, gate = 4 * sr, 3 * sr
    frames, done = [], 0
    while done < total:
        if done == gate:
            synth.note_off(60)
        n = min(block, total - done, gate - done if done < gate else total)
        frames.append(synth.render_block(n).copy())
        done += n
    stereo = np.concatenate(frames).astype(np.float64)
    live_mono = (stereo[:, 0] + stereo[:, 1]) / np.sqrt(2)
    offline = render(PATCH, sample_rate=sr).astype(np.float64)
    assert np.max(np.abs(offline)) < 0.8  # below the soft-clip knee, where both paths are linear
    np.testing.assert_allclose(live_mono, offline, atol=2e-5)


def test_eight_voices_sound_together_and_voices_are_stolen_beyond_the_limit() -> None:
    synth = PolySynth(sample_rate=48000, max_voices=8, params={"VCA1: Volume": 0.3})
    for note in range(48, 56):
        synth.note_on(note)
    block = synth.render_block(512)
    assert synth.active_voices == 8
    assert np.max(np.abs(block)) > 0.01
    synth.note_on(80)
    synth.render_block(512)
    assert synth.active_voices == 8


def test_released_voices_fall_silent_and_free_themselves() -> None:
    synth = PolySynth(sample_rate=48000, params={"ENV1: Release": 0.2})
    synth.note_on(60)
    synth.render_block(2048)
    synth.note_off(60)
    for _ in range(100):
        block = synth.render_block(2048)
    assert synth.active_voices == 0
    assert np.max(np.abs(block)) < 1e-3


def test_parameter_changes_glide_without_zipper_noise() -> None:
    """A cutoff and volume jump mid-note: while the sound moves to its new state, no sample step
    exceeds the steps of the new steady tone (a zipper or click would)."""
    sr = 48000
    base = {"OSC: Shape1": 0.0, "VCF1: Frequency": 0.3, "VCA1: Volume": 0.4}
    synth = PolySynth(sample_rate=sr, params=base)
    synth.note_on(48)
    for _ in range(40):
        synth.render_block(256)
    synth.set_params({**base, "VCF1: Frequency": 0.9, "VCA1: Volume": 0.6})
    transition = np.concatenate([synth.render_block(256)[:, 0] for _ in range(8)])
    settled = np.concatenate([synth.render_block(256)[:, 0] for _ in range(40)])
    assert np.abs(np.diff(transition)).max() <= np.abs(np.diff(settled)).max() * 1.02


def test_bad_control_input_is_refused() -> None:
    synth = PolySynth()
    with pytest.raises(ValueError, match="0-127"):
        synth.note_on(200)
    with pytest.raises(ValueError, match="block size"):
        synth.render_block(0)
    with pytest.raises(ValueError, match="unknown synth parameter"):
        synth.set_params({"Cutoff": 0.5})
