"""Slider alignment on a tiny Flow_dis: the hinge falls, nothing but f changes, errors are clear."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from training_support import train_tiny_flow_dis

from flowsynth_gui.cli import main as cli_main
from flowsynth_gui.data.dataset import DatasetSpec, build_dataset, load_dataset
from flowsynth_gui.models import build_model, load_checkpoint, save_checkpoint
from flowsynth_gui.training.slider_alignment import (
    AlignSettings,
    ScoreSurrogate,
    align_sliders,
    slider_hinge,
)

# They train models (seconds to a minute each): `-m "not slow"` leaves them out.
pytestmark = pytest.mark.slow

FAST = AlignSettings(rounds=2, steps=20, batch_size=32, surrogates=1, surrogate_epochs=15,
                     surrogate_hidden=32, refit_epochs=2, sweep_starts=4, sweep_positions=3,
                     eval_every=20, threads=1, workers=2)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return train_tiny_flow_dis(tmp_path_factory.mktemp("align"), epochs=4)


class _Linear(ScoreSurrogate):
    """A surrogate whose scores are the first parameters themselves."""

    def __init__(self) -> None:
        super().__init__(2, 2, members=1, hidden=2)

    def forward(self, params: torch.Tensor) -> torch.Tensor:
        return params


def test_hinge_is_zero_for_a_rising_score_and_measures_a_falling_one() -> None:
    z = torch.zeros(3, 2)
    positions = torch.tensor([[[-1.0, 2.0], [0.0, 1.0]]] * 3)
    rising = slider_hinge(lambda latent: latent, _Linear(), z, positions, margin=0.5)
    assert rising.tolist() == [0.0, 0.0]
    # Falling by 1 per unit: the shortfall is (margin + 1) per unit of the span.
    falling = slider_hinge(lambda latent: -latent, _Linear(), z, positions, margin=0.5)
    assert falling.tolist() == pytest.approx([1.5 * 3.0, 1.5 * 1.0])


def test_alignment_lowers_the_hinge_and_changes_only_the_regression_flow(
        tiny: tuple[Path, Path], tmp_path: Path) -> None:
    checkpoint, data = tiny
    out = tmp_path / "aligned.pt"
    result = align_sliders(checkpoint, data, out, FAST, report=lambda line: None)
    figures = result.figures
    assert sum(figures["after"]["hinge"]) < sum(figures["before"]["hinge"])
    assert len(figures["surrogate_valid_r2"]) == 4
    assert [(row["round"], row["step"]) for row in figures["history"]] == [(1, 20), (2, 20)]
    # Round 0 measures the model as it was; each round renders its own sweeps.
    assert [r["round"] for r in figures["rounds"]] == [0, 1, 2]
    assert all(len(r["sweep_spearman_median"]) == len(r["prior_spearman_median"]) == 4
               and r["sweep_starts"] == 4
               for r in figures["rounds"])

    original, aligned = load_checkpoint(checkpoint), load_checkpoint(out)
    before, after = original.model.state_dict(), aligned.model.state_dict()
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert changed and all(name.startswith("regression_flow.") for name in changed)
    # Every sound keeps its place: the encoder is untouched.
    mels = load_dataset(data).log_mel[:4].astype(np.float32)
    normalised = original.metadata.normaliser.apply(mels)
    assert torch.equal(original.model.encode(normalised), aligned.model.encode(normalised))

    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["training"]["slider_alignment"]["settings"]["steps"] == FAST.steps
    assert sidecar["training"]["best_epoch"] == original.metadata.training["best_epoch"]


def test_alignment_refuses_a_model_without_sliders(tiny: tuple[Path, Path],
                                                   tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    checkpoint, data = tiny
    loaded = load_checkpoint(checkpoint)
    config = loaded.config.__class__(**{**loaded.config.to_dict(), "kind": "flow_reg"})
    save_checkpoint(tmp_path / "reg.pt", build_model(config), loaded.metadata)
    code = cli_main(["align-sliders", "--checkpoint", str(tmp_path / "reg.pt"),
                     "--data", str(data), "--out", str(tmp_path / "out.pt")])
    assert code != 0
    assert "needs a 'flow_dis' model" in capsys.readouterr().err
    assert not (tmp_path / "out.pt").exists()


def test_alignment_refuses_another_parameter_set(tiny: tuple[Path, Path],
                                                 tmp_path: Path) -> None:
    checkpoint, _ = tiny
    other = tmp_path / "p32"
    build_dataset(other, DatasetSpec(param_set=32, size=20, seed=3, shard_size=20), workers=1)
    with pytest.raises(ValueError, match="parameters differ from the model's"):
        align_sliders(checkpoint, other, tmp_path / "out.pt", FAST)


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="steps"):
        AlignSettings(steps=0)
    with pytest.raises(ValueError, match="learning_rate"):
        AlignSettings(learning_rate=0.0)


def test_the_path_term_keeps_f_between_training_latents(tiny: tuple[Path, Path],
                                                         tmp_path: Path) -> None:
    checkpoint, data = tiny
    loaded = load_checkpoint(checkpoint)
    dataset = load_dataset(data)
    mels = loaded.metadata.normaliser.apply(dataset.log_mel[:20].astype(np.float32))
    z = loaded.model.encode(mels)
    between = 0.5 * (z[:10] + z[10:])  # midpoints of pairs of training sounds
    moved = {}
    for weight in (0.0, 1000.0):
        settings = replace(FAST, weight=5000.0, path_weight=weight)
        align_sliders(checkpoint, data, tmp_path / f"p{weight}.pt", settings,
                      report=lambda line: None)
        aligned = load_checkpoint(tmp_path / f"p{weight}.pt").model
        moved[weight] = float((aligned.params_from_latent(between)
                               - loaded.model.params_from_latent(between)).abs().mean())
    assert moved[1000.0] < 0.5 * moved[0.0]
