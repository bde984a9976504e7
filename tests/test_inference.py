"""Pitch estimation and sound matching (audio -> preset), with an untrained tiny model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from flowsynth_gui.features.audio_io import SilentAudioError, write_wav
from flowsynth_gui.features.mel import FeatureNormaliser
from flowsynth_gui.features.pitch import estimate_pitch
from flowsynth_gui.inference.match import Matcher
from flowsynth_gui.models import CheckpointMetadata, build_model, load_checkpoint, save_checkpoint
from flowsynth_gui.presets.h2p import read_h2p
from flowsynth_gui.synth import param_set, render
from flowsynth_gui.training.config import load_train_config

SR = 22050


@pytest.mark.parametrize("note", [36, 43, 55, 60, 67, 79, 84])
@pytest.mark.parametrize("patch", [{"OSC: Shape1": 0.0}, {"OSC: Shape1": 0.667},
                                   {"OSC: Shape1": 1.0, "VCF1: Frequency": 0.5}])
def test_pitch_of_synth_notes_from_36_to_84(note: int, patch: dict[str, float]) -> None:
    estimate = estimate_pitch(render(patch, note=note), SR)
    assert estimate.midi_note == pytest.approx(note, abs=0.1)


def test_noise_has_no_pitch() -> None:
    noise = np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.3
    assert estimate_pitch(noise, SR).hz is None


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = load_train_config("tiny").model_config("flow_dis", 16)
    model = build_model(config)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, model, CheckpointMetadata(param_names=param_set(16),
                                                    normaliser=FeatureNormaliser(-4.0, 2.0)))
    return path


@pytest.mark.parametrize("note", [36, 60, 84])
def test_match_renders_at_the_input_pitch(tiny_checkpoint: Path, note: int) -> None:
    matcher = Matcher(load_checkpoint(tiny_checkpoint))
    result = matcher.match_audio(render({"VCF1: Frequency": 0.6}, note=note), SR)
    assert result.note == note
    assert set(result.params) == set(param_set(16))
    assert all(0.0 <= v <= 1.0 for v in result.params.values())
    assert result.latent is not None and result.latent.shape == (16,)
    assert result.spectral_convergence > 0 and np.isfinite(result.spectral_convergence)
    assert result.match_audio.shape == (4 * SR,)


def test_match_refuses_silent_and_short_audio_and_takes_loud_audio(
        tiny_checkpoint: Path) -> None:
    matcher = Matcher(load_checkpoint(tiny_checkpoint))
    with pytest.raises(SilentAudioError):
        matcher.match_audio(np.zeros(SR, np.float32), SR)
    blip = np.zeros(SR, np.float32)
    blip[:600] = 0.5 * np.sin(np.arange(600) * 0.1)  # 27 ms: a click
    with pytest.raises(SilentAudioError, match="0.05 s"):
        matcher.match_audio(blip, SR)
    stab = np.zeros(SR, np.float32)
    stab[:2600] = 0.5 * np.sin(np.arange(2600) * 0.1)  # 0.12 s: a short sound, matched
    assert matcher.match_audio(stab, SR).spectral_convergence > 0
    # A full-scale square is loud, not broken: matched, and the user is told.
    square = matcher.match_audio(np.sign(np.sin(np.arange(SR) * 0.05)).astype(np.float32), SR)
    assert any("full scale" in note for note in square.notes)


def test_match_command_writes_h2p_and_json(tiny_checkpoint: Path, tmp_path: Path) -> None:
    wav = tmp_path / "in.wav"
    write_wav(wav, render({}, note=48), SR)
    for out in (tmp_path / "m.h2p", tmp_path / "m.json"):
        done = subprocess.run([sys.executable, "-m", "flowsynth_gui.cli", "match", str(wav),
                               "--out", str(out), "--model", str(tiny_checkpoint)],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "note 48, SC" in done.stdout and out.exists()
    assert set(read_h2p(tmp_path / "m.h2p").parameters()) >= set(param_set(16))
    bad = subprocess.run([sys.executable, "-m", "flowsynth_gui.cli", "match", str(tmp_path),
                          "--out", str(tmp_path / "x.h2p"), "--model", str(tiny_checkpoint)],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "error" in bad.stderr
