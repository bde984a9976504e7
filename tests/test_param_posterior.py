"""The parameter posterior: the flow's algebra, sampling modes not means, checkpoints, the
trainer on an index, the engine's use of it, and the synth's inaudible parameters."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from flowsynth_gui.cli import main as cli_main
from flowsynth_gui.features.audio_io import write_wav
from flowsynth_gui.inference.analysis import analyse_audio
from flowsynth_gui.matching import IndexSpec, MatchEngine, load_index, open_posterior
from flowsynth_gui.matching.index import build_index
from flowsynth_gui.models import CheckpointError
from flowsynth_gui.models.param_posterior import (
    ParameterPosterior,
    PosteriorConfig,
    load_posterior,
    save_posterior,
)
from flowsynth_gui.synth import param_set
from flowsynth_gui.synth.render import render_batch
from flowsynth_gui.synth.symmetry import canonical, inert_mask

NAMES = param_set(32)


@pytest.fixture(scope="module")
def tiny_posterior(index_32: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("posterior") / "post.pt"
    assert cli_main(["train", "--model", "param_posterior", "--data", str(index_32),
                     "--out", str(out), "--config", "tiny"]) == 0
    return out


def test_density_is_the_change_of_variables_of_the_flow() -> None:
    torch.manual_seed(0)
    model = ParameterPosterior(PosteriorConfig(3, 2, transforms=2, hidden=8)).double()
    values, context = torch.rand(5, 3, dtype=torch.float64) * 0.8 + 0.1, torch.randn(5, 2,
                                                                                   dtype=torch.float64)
    distribution = model.flow(model._condition(context))
    u, _ = model._standardised(values)
    z = distribution.transform(u)
    assert torch.allclose(distribution.transform.inv(z), u, atol=1e-8)  # invertible
    # log p(v) = log N(z) + log |dz/dv| with the Jacobian taken by autograd, row by row.
    for row in range(5):
        def to_z(v: torch.Tensor, row: int = row) -> torch.Tensor:
            uu, _ = model._standardised(v[None])
            return model.flow(model._condition(context[row:row + 1])).transform(uu)[0]
        jacobian = torch.autograd.functional.jacobian(to_z, values[row])
        expected = (-0.5 * (to_z(values[row]) ** 2).sum() - 1.5 * math.log(2 * math.pi)
                    + torch.linalg.slogdet(jacobian)[1])
        assert model.log_prob(values[row:row + 1], context[row:row + 1])[0].item() == \
            pytest.approx(expected.item(), abs=1e-6)


def test_two_presets_that_sound_alike_are_both_sampled_not_their_average() -> None:
    # Two presets, one sound: a regression would answer (0.5, 0.5, ...); the posterior must
    # put its draws near each preset and almost none near the average.
    torch.manual_seed(1)
    a, b = torch.tensor([0.15, 0.85, 0.3, 0.7]), torch.tensor([0.85, 0.15, 0.7, 0.3])
    values = torch.where(torch.rand(4000, 1) < 0.5, a, b)
    context = torch.zeros(4000, 2) + torch.randn(4000, 2) * 0.01
    model = ParameterPosterior(PosteriorConfig(4, 2, transforms=2, hidden=24, dequantise=0.05))
    model.fit_scaling(values, context)
    optimiser = torch.optim.Adam(model.parameters(), lr=5e-3)
    for _ in range(150):
        rows = torch.randint(0, 4000, (128,))
        loss = model.training_loss(values[rows], context[rows])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    with torch.no_grad():
        draws, _ = model.sample(torch.zeros(2), 400)
    to_a = (draws - a).abs().max(1).values
    to_b = (draws - b).abs().max(1).values
    to_mean = (draws - 0.5).abs().max(1).values
    assert (to_a < 0.1).float().mean() > 0.3 and (to_b < 0.1).float().mean() > 0.3
    assert (to_mean < 0.15).float().mean() < 0.05


def test_save_load_round_trip_and_refusals(tmp_path: Path) -> None:
    config = PosteriorConfig(4, 3, transforms=2, hidden=8, frozen=(2,))
    model = ParameterPosterior(config)
    model.fit_scaling(torch.rand(50, 4).index_fill_(1, torch.tensor([2]), 0.5),
                      torch.randn(50, 3))
    names = NAMES[:4]
    path = save_posterior(tmp_path / "p.pt", model, names, "emb-1", {"epochs": 1})[0]
    loaded = load_posterior(path, names, "emb-1")
    values, density = loaded.propose(np.zeros(3), 16, seed=4)
    again, _ = loaded.propose(np.zeros(3), 16, seed=4)
    assert values.shape == (16, 4) and np.array_equal(values, again)  # seeded
    assert np.all(np.diff(density) <= 0) and np.all(values[:, 2] == 0.5)  # frozen kept
    with pytest.raises(CheckpointError, match="other parameters"):
        load_posterior(path, NAMES[1:5], "emb-1")
    with pytest.raises(CheckpointError, match="another sound embedding"):
        load_posterior(path, names, "emb-2")
    sidecar = path.with_suffix(".json")
    data = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**data, "synth_spec_version": "0.0"}))
    with pytest.raises(CheckpointError, match="trained for synth"):
        load_posterior(path)
    sidecar.write_text(json.dumps({**data, "format": "flowsynth-model"}))
    with pytest.raises(CheckpointError, match="not a FlowSynth parameter posterior"):
        load_posterior(path)
    sidecar.write_text(json.dumps(data))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match="checksum"):
        load_posterior(path)


def test_trainer_resumes_and_the_checkpoint_fits_its_index(
        index_32: Path, tiny_posterior: Path, tmp_path: Path) -> None:
    index = load_index(index_32)
    posterior, why = open_posterior(tiny_posterior, NAMES, index)
    assert why is None and posterior is not None
    assert {NAMES.index(n) for n in ("OSC: FM", "OSC: Shape2", "OSC: Tune2",
                                     "OSC: Volume2")} <= set(posterior.model.config.frozen)
    training = json.loads(tiny_posterior.with_suffix(".json").read_text())["training"]
    assert training["train_sounds"] + training["valid_sounds"] == len(index)
    # A second run with more epochs resumes from the saved state instead of starting over.
    out = tmp_path / "more.pt"
    args = ["train", "--model", "param_posterior", "--data", str(index_32), "--out",
            str(out), "--config", "tiny"]
    assert cli_main(args + ["--epochs", "1"]) == 0
    assert cli_main(args + ["--epochs", "2"]) == 0
    assert json.loads(out.with_suffix(".json").read_text())["training"]["best_epoch"] <= 1
    # Another index (other embedding basis) refuses the posterior, with a reason.
    other = tmp_path / "other"
    build_index(other, IndexSpec(param_set=32, size=40, shard_size=40, basis_sounds=24,
                                 components=8, seed=9), workers=1)
    refused, why = open_posterior(tiny_posterior, NAMES, load_index(other))
    assert refused is None and "another sound embedding" in why
    assert open_posterior(tmp_path / "absent.pt", NAMES, index)[0] is None


def test_engine_proposes_from_the_posterior_only_when_it_has_one(
        index_32: Path, tiny_posterior: Path) -> None:
    index = load_index(index_32)
    posterior, _ = open_posterior(tiny_posterior, NAMES, index)
    target = analyse_audio(render_batch(np.full((1, 32), 0.4), NAMES, 60)[0], 22050)
    with_flow = MatchEngine(NAMES, index=index, posterior=posterior, workers=1)
    outcome = with_flow.match(target, budget=0, top=60)
    sources = [c.source for c in outcome.candidates]
    assert "param_posterior" in sources
    assert any(c.label == "most likely" for c in outcome.candidates)
    without = MatchEngine(NAMES, index=index, workers=1)
    assert "param_posterior" not in {c.source for c in without.match(target, budget=0,
                                                                     top=60).candidates}
    with pytest.raises(ValueError, match="needs the sound index"):
        MatchEngine(NAMES, posterior=posterior)


def test_cli_match_uses_a_given_posterior(index_32: Path, tiny_posterior: Path,
                                          tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    wav = write_wav(tmp_path / "in.wav", render_batch(np.full((1, 32), 0.5), NAMES, 60)[0],
                    22050)
    assert cli_main(["match", str(wav), "--index", str(index_32), "--posterior",
                     str(tiny_posterior), "--budget", "0", "--out",
                     str(tmp_path / "m.json")]) == 0
    assert "parameter posterior" not in capsys.readouterr().out  # loaded: no fallback note


def test_canonical_presets_sound_exactly_like_the_originals() -> None:
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 1, (12, 32))
    values[:6, NAMES.index("OSC: Volume3")] = 0.0  # osc 3 silent in half of them
    mask = inert_mask(values, NAMES)
    for name in ("OSC: FM", "OSC: Shape2", "OSC: Tune2", "OSC: Volume2"):
        assert mask[:, NAMES.index(name)].all()  # OscMix is 0 in the 32-set: osc 2 is silent
    tune3 = mask[:, NAMES.index("OSC: Tune3")]
    assert tune3[:6].all() and not tune3[6:].any()
    assert not mask[:, NAMES.index("VCF1: Frequency")].any()
    same = canonical(values, NAMES)
    assert not np.array_equal(same, values)
    np.testing.assert_array_equal(render_batch(same, NAMES, 60, seeds=[0] * 12),
                                  render_batch(values, NAMES, 60, seeds=[0] * 12))
    # With OscMix in the set and up, oscillator 2 is heard: its knobs are not inert.
    names64 = param_set(64)
    full = rng.uniform(0.2, 1, (3, 64))
    assert not inert_mask(full, names64)[:, names64.index("OSC: Tune2")].any()


def test_the_trainer_can_keep_the_presets_as_they_are(index_32: Path) -> None:
    from flowsynth_gui.training.posterior_trainer import PosteriorSettings, _split

    index = load_index(index_32)
    fm = NAMES.index("OSC: FM")
    raw = _split(index, PosteriorSettings(valid_sounds=20, canonical=False))[0][0]
    made = _split(index, PosteriorSettings(valid_sounds=20))[0][0]
    assert len(set(raw[:, fm].tolist())) > 1  # the inaudible FM as sampled
    assert len(set(made[:, fm].tolist())) == 1  # canonical: at its default


def test_the_faster_spline_is_zukos_spline() -> None:
    """The posterior's spline only writes zuko's softmax out: same values, inverses, log-dets."""
    import zuko

    from flowsynth_gui.models.param_posterior import _Spline

    g = torch.Generator().manual_seed(0)
    widths, heights = torch.randn(64, 7, 8, generator=g), torch.randn(64, 7, 8, generator=g)
    derivatives = torch.randn(64, 7, 7, generator=g)
    x = torch.randn(64, 7, generator=g) * 3
    ours = _Spline(widths, heights, derivatives, slope=1e-3)
    theirs = zuko.transforms.MonotonicRQSTransform(widths, heights, derivatives, slope=1e-3)
    y, log_det = ours.call_and_ladj(x)
    y_ref, log_det_ref = theirs.call_and_ladj(x)
    torch.testing.assert_close(y, y_ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(log_det, log_det_ref, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ours.inv(y), x, atol=1e-4, rtol=1e-4)


def test_a_loaded_posterior_draws_what_the_trained_one_draws(tmp_path: Path) -> None:
    """Loading bakes the flow's masks into plain layers: the same draws and densities."""
    import zuko

    config = PosteriorConfig(4, 3, transforms=2, hidden=8)
    model = ParameterPosterior(config).eval()
    model.fit_scaling(torch.rand(50, 4), torch.randn(50, 3))
    path = save_posterior(tmp_path / "p.pt", model, NAMES[:4], "emb-1", {"epochs": 1})[0]
    loaded = load_posterior(path, NAMES[:4], "emb-1")
    assert not any(isinstance(m, zuko.nn.MaskedLinear) for m in loaded.model.modules())
    e = torch.randn(3)

    def draw(posterior: ParameterPosterior) -> tuple[torch.Tensor, torch.Tensor]:
        torch.manual_seed(9)
        with torch.no_grad():
            return posterior.sample(e, 32)

    (values, density), (trained_values, trained_density) = draw(loaded.model), draw(model)
    torch.testing.assert_close(values, trained_values)
    torch.testing.assert_close(density, trained_density)
