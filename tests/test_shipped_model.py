"""The shipped model: what its sidecar says, and one real inference with it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from flowsynth_gui.cli import DEFAULT_MODEL
from flowsynth_gui.features.mel import mel_magnitude
from flowsynth_gui.features.metrics import spectral_convergence
from flowsynth_gui.inference.match import Matcher
from flowsynth_gui.models import load_checkpoint
from flowsynth_gui.synth import param_set
from flowsynth_gui.synth.params import spec_version
from flowsynth_gui.synth.render import render

pytestmark = [pytest.mark.skipif(not DEFAULT_MODEL.is_file(),
                                 reason="the shipped model is not in this checkout"),
              pytest.mark.usefixtures("one_torch_thread")]


def test_the_sidecar_describes_a_trained_flow_dis_on_32_parameters() -> None:
    sidecar = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text(encoding="utf-8"))
    assert sidecar["config"]["kind"] == "flow_dis"
    assert tuple(sidecar["param_names"]) == tuple(param_set(32))
    assert sidecar["synth_spec_version"] == spec_version()
    training = sidecar["training"]
    assert training["epochs_run"] >= 20 and training["dataset"]["sounds"] == 20000
    assert training["best_valid"]["param_mse"] < 0.075  # the training mean scores 0.083
    assert DEFAULT_MODEL.stat().st_size < 50 * 2**20


def test_it_matches_a_synth_sound_far_better_than_chance() -> None:
    matcher = Matcher(load_checkpoint(DEFAULT_MODEL))
    target = render({}, note=60)  # the default patch
    result = matcher.match_audio(target, 22050)
    assert result.note == 60
    assert all(0.0 <= v <= 1.0 for v in result.params.values())
    reference = mel_magnitude(target, 22050)
    rng = np.random.default_rng(0)
    chance = [float(spectral_convergence(reference, mel_magnitude(
        render(dict(zip(param_set(32), rng.uniform(size=32), strict=True)), note=60), 22050)))
        for _ in range(5)]
    assert result.spectral_convergence < 1.0 < np.mean(chance)
    # the invertible map holds for this model's latent
    model = load_checkpoint(DEFAULT_MODEL).model
    z = np.asarray(result.latent, dtype=np.float32)[None]
    back = model.latent_from_params(model.params_from_latent(z)).numpy()
    np.testing.assert_allclose(back, z, atol=1e-3)
