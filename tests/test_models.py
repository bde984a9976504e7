"""Models behind the FlowSynthModel interface: every kind builds tiny, trains, and keeps the
interface's promises (shapes, ranges, determinism, invertibility where claimed)."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys

import numpy as np
import pytest
import torch

from flowsynth_gui.models import (
    DIAGNOSTIC_TERMS,
    KINDS,
    FlowDis,
    ModelConfig,
    NoDecoder,
    NotInvertible,
    build_model,
    cpu_config,
    paper_config,
)

P = 16  # parameters, as the paper's smallest set
MELS, FRAMES = 128, 87


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_config(kind: str, **changes: object) -> ModelConfig:
    """Small enough for a CPU test, same structure as the real thing."""
    sizes: dict[str, object] = dict(
        kind=kind, n_params=P, channels=4, conv_layers=2, kernel=3, hidden=16, mlp_layers=3,
        regressor_hidden=16, iaf_steps=2, iaf_hidden=16, flow_steps=2, flow_hidden=16,
        dis_steps=2, dis_hidden=16, dropout=0.1)
    sizes.update(changes)
    return ModelConfig(**sizes)  # type: ignore[arg-type]


def batch(n: int = 8, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    tags = torch.randint(-1, 2, (n, 4), generator=generator)
    return {"mel": torch.randn(n, MELS, FRAMES, generator=generator),
            "params": torch.rand(n, P, generator=generator), "tags": tags}


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_trains_on_a_fixed_batch(kind: str) -> None:
    torch.manual_seed(0)
    model = build_model(tiny_config(kind))
    data = batch()
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    totals = []
    for _ in range(20):
        terms = model.loss({**data, "beta": 1.0})
        optimiser.zero_grad()
        terms["total"].backward()
        optimiser.step()
        totals.append(float(terms["total"].detach()))
    assert all(np.isfinite(totals))
    # Noisy (sampling, dropout): compare the first and last few steps.
    assert np.mean(totals[-3:]) < np.mean(totals[:3]), totals
    # The named terms (diagnostics apart) add up to the total.
    parts = sum(v.item() for k, v in terms.items() if k not in DIAGNOSTIC_TERMS + ("total",))
    assert parts == pytest.approx(terms["total"].item(), rel=1e-5, abs=1e-4)
    assert terms["total"].requires_grad and not any(
        v.requires_grad for k, v in terms.items() if k != "total")


@pytest.mark.parametrize("kind", KINDS)
def test_interface_shapes_ranges_and_refusals(kind: str) -> None:
    model = build_model(tiny_config(kind)).eval()
    mel = batch(4)["mel"]
    z = model.encode(mel)
    assert z.shape == (4, model.latent_dim)
    assert torch.equal(model.encode(mel), z), "encode must be deterministic in eval mode"
    # A float16 numpy batch, as datasets store log-mels, is accepted.
    np.testing.assert_allclose(model.encode(mel.numpy().astype(np.float16)).numpy(),
                               model.encode(mel.half().float()).numpy(), rtol=1e-5, atol=1e-5)
    v = model.params_from_latent(z)
    assert v.shape == (4, P) and bool(((v >= 0) & (v <= 1)).all())
    assert torch.allclose(model.predict_params(mel), v)
    extreme = model.params_from_latent(torch.randn(64, model.latent_dim) * 50)
    assert bool(((extreme >= 0) & (extreme <= 1)).all())
    if model.has_decoder:
        assert model.decode(z).shape == (4, MELS, FRAMES)
    else:
        with pytest.raises(NoDecoder, match="no decoder"):
            model.decode(z)
    if model.invertible:
        assert model.latent_from_params(v).shape == z.shape
    else:
        with pytest.raises(NotInvertible, match="cannot map parameters back"):
            model.latent_from_params(v)
    with pytest.raises(ValueError, match=r"add a batch dimension"):
        model.encode(mel[0])
    with pytest.raises(ValueError, match=r"shape \(batch, 128, 87\)"):
        model.encode(torch.zeros(2, 64, 87))


@pytest.mark.parametrize("kind", ["flow_reg", "flow_dis"])
def test_regression_flow_round_trips_between_latent_and_params(kind: str) -> None:
    torch.manual_seed(1)
    model = build_model(tiny_config(kind)).eval()
    with torch.no_grad():  # leave the identity start: random, non-trivial couplings
        for parameter in model.regression_flow.parameters():
            parameter.normal_(0.0, 0.1)
    z = torch.randn(32, P)
    v = model.params_from_latent(z)
    # Inside (eps, 1 - eps), where the clamped logit is the exact inverse of the sigmoid.
    assert bool(((v > 1e-3) & (v < 1 - 1e-3)).all()), "test latents reach the clamp"
    torch.testing.assert_close(model.latent_from_params(v), z, atol=1e-4, rtol=1e-4)
    # The app's NumPy snapshot of f computes the same thing, for rows or single vectors.
    fast = model.latent_map()
    np.testing.assert_allclose(fast.to_params(z.numpy()), v.numpy(), atol=1e-6)
    np.testing.assert_allclose(fast.to_latent(v.numpy()), model.latent_from_params(v).numpy(),
                               atol=1e-4)
    np.testing.assert_allclose(fast.to_params(z[0].numpy()), v[0].numpy(), atol=1e-6)
    with pytest.raises(ValueError, match=r"shape \(16,\) or \(batch, 16\)"):
        fast.to_params(np.zeros(15))
    # Presets at exactly 0 or 1 (common in Diva files) map to finite latents, read as 1e-3.
    edges = torch.tensor([[0.0] * (P // 2) + [1.0] * (P // 2)])
    back = model.params_from_latent(model.latent_from_params(edges))
    assert torch.isfinite(back).all()
    torch.testing.assert_close(back, edges.clamp(1e-3, 1 - 1e-3), atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(fast.to_params(fast.to_latent(edges.numpy())), back.numpy(),
                               atol=1e-5)


def test_flow_dis_pushes_tagged_examples_towards_their_targets() -> None:
    torch.manual_seed(0)
    model = build_model(tiny_config("flow_dis", dropout=0.0))
    assert isinstance(model, FlowDis)
    data = batch(16, seed=3)
    tags = torch.zeros(16, 4, dtype=torch.long)
    tags[:8, 0], tags[8:, 0] = 1, -1  # pair 0 (Dark/Bright): first half Bright, second Dark
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(20):
        terms = model.loss({**data, "tags": tags, "beta": 1.0})
        optimiser.zero_grad()
        terms["total"].backward()
        optimiser.step()
    model.eval()
    z = model.encode(data["mel"])
    assert z[:8, 0].mean() > z[8:, 0].mean() + 0.5, z[:, 0]
    # The map's latent space is the disentangled one: entangle/disentangle are inverses.
    torch.testing.assert_close(model.disentangle(model.entangle(z)), z, atol=1e-4, rtol=1e-4)
    # Untagged batches have no disentangling term.
    assert float(model.loss({**data, "tags": torch.zeros(16, 4)})["dis"]) == 0.0


def test_loss_checks_the_batch() -> None:
    model = build_model(tiny_config("flow_dis"))
    data = batch(4)
    with pytest.raises(ValueError, match="tags must hold -1"):
        model.loss({**data, "tags": torch.full((4, 4), 2)})
    with pytest.raises(ValueError, match=r"params must have shape \(batch, 16\)"):
        model.loss({**data, "params": torch.rand(4, 15)})
    with pytest.raises(ValueError, match="beta must be"):
        model.loss({**data, "beta": -1.0})


def test_configs_round_trip_and_refuse_nonsense() -> None:
    for kind in KINDS:
        for config in (tiny_config(kind), cpu_config(kind, 32), paper_config(kind, 64)):
            assert ModelConfig.from_dict(config.to_dict()) == config
    assert paper_config("cnn", 16).channels == 128 and paper_config("vae", 16).channels == 64
    with pytest.raises(ValueError, match="kind 'gan'"):
        ModelConfig("gan", n_params=16)
    with pytest.raises(ValueError, match="latent must equal n_params"):
        ModelConfig("flow_reg", n_params=16, latent=8)
    with pytest.raises(ValueError, match="kernel must be odd"):
        ModelConfig("cnn", n_params=16, kernel=4)
    with pytest.raises(ValueError, match="unknown keys"):
        ModelConfig.from_dict({"kind": "cnn", "n_params": 16, "colour": "red"})
    with pytest.raises(ValueError, match="must be an integer"):
        ModelConfig.from_dict({"kind": "cnn", "n_params": "16"})


def test_decoder_returns_exactly_the_input_size_for_paper_depth() -> None:
    # The paper's 5 layers with kernel 7 and dilations up to 16 (sizes 64x44 ... 4x3 and back).
    model = build_model(tiny_config("ae", conv_layers=5, kernel=7, channels=2)).eval()
    assert model.decode(model.encode(torch.zeros(2, MELS, FRAMES))).shape == (2, MELS, FRAMES)


@pytest.mark.parametrize("module", ["config", "nets", "bijections", "baselines", "registry",
                                    "latent_map", "checkpoint"])
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"flowsynth_gui.models.{module}"))
    assert result.failed == 0 and result.attempted > 0


def test_models_never_import_qt_audio_devices_or_training_code() -> None:
    code = ("import sys, flowsynth_gui.models; print([m for m in sys.modules if m.split('.')[0] "
            "in ('PySide6', 'sounddevice', 'pyqtgraph') or 'training' in m])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
