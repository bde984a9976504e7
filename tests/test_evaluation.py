"""Table 1 evaluation: hand-checked scores, references, tables, the command line."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from flowsynth_gui.data.dataset import DatasetSpec, build_dataset, load_dataset
from flowsynth_gui.evaluation.table import (
    EvaluationRow,
    Scores,
    nearest_neighbour_reference,
    random_reference,
    score_predictions,
    training_summary,
    write_tables,
)
from flowsynth_gui.features.mel import FeatureNormaliser
from flowsynth_gui.models import CheckpointMetadata, build_model, save_checkpoint
from flowsynth_gui.synth import param_set
from flowsynth_gui.training.config import load_train_config


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("eval") / "data"
    build_dataset(root, DatasetSpec(param_set=16, size=60, seed=2, shard_size=30), workers=1)
    return root


def test_true_parameters_score_zero_and_random_ones_do_not(data: Path) -> None:
    dataset = load_dataset(data)
    test = dataset.subset("test")
    exact = score_predictions(dataset, test, dataset.params[test])
    assert np.allclose(exact.mse_n, 0.0)
    assert np.all(exact.sc < 5e-3) and np.all(exact.mse < 1e-4)  # float16 storage only
    chance = random_reference(dataset, test)
    assert np.mean(chance.sc) > 10 * np.mean(exact.sc) and np.mean(chance.mse_n) > 0.05


def test_nearest_neighbour_finds_a_training_sound_for_a_duplicate(data: Path) -> None:
    dataset = load_dataset(data)
    train = dataset.subset("train")
    scores = nearest_neighbour_reference(dataset, train[:5])  # training sounds find themselves
    assert np.allclose(scores.mse_n, 0.0)
    # its PCA projects randomly, from a seed of its own: the row neither depends on nor moves
    # the caller's random state (the table's rows are computed one after another)
    state = torch.get_rng_state()
    first = nearest_neighbour_reference(dataset, dataset.subset("test"))
    assert torch.equal(torch.get_rng_state(), state)
    torch.rand(1000)
    again = nearest_neighbour_reference(dataset, dataset.subset("test"))
    np.testing.assert_array_equal(again.sc, first.sc)


def test_tables_hold_mean_and_std(tmp_path: Path) -> None:
    training = training_summary({"history": [{}] * 7, "best_epoch": 6, "seconds": 600.0,
                                 "epochs_run": 8, "seconds_total": 690.0,
                                 "dataset": {"sounds": 10000}, "train_config": {}})
    assert training == "8 ep. (best 7) × 8,000 sounds, 11.5 min"
    aligned = training_summary({"history": [{}] * 7, "best_epoch": 6, "seconds": 600.0,
                                "slider_alignment": {"seconds": 588.0}})
    assert aligned == "7 ep. (best 7), 10.0 min + slider alignment, 9.8 min"
    row = EvaluationRow("cnn", 16, Scores(np.array([1.0, 1.0, 4.0]), np.array([2.0, 2.0, 2.0]),
                                          np.array([0.5, 0.5, 0.5])), training=training)
    write_tables([row], tmp_path / "t.md", tmp_path / "t.csv")
    assert ("| cnn | 16 | 0.500 ± 0.000 | 2.000 ± 1.414 | 1.000 | 2.000 ± 0.000 | – | – | "
            "8 ep. (best 7) × 8,000 sounds, 11.5 min |") in (tmp_path / "t.md").read_text()
    record = next(csv.DictReader((tmp_path / "t.csv").open()))
    assert float(record["sc_mean"]) == 2.0 and float(record["sc_median"]) == 1.0
    assert float(record["mse_mean"]) == 2.0


def test_evaluate_command_scores_a_model_and_the_references(data: Path, tmp_path: Path) -> None:
    model = build_model(load_train_config("tiny").model_config("flow_reg", 16))
    checkpoints = [tmp_path / "m.pt", tmp_path / "other.pt"]
    for checkpoint in checkpoints:  # two models of one kind: rows named by their files
        save_checkpoint(checkpoint, model, CheckpointMetadata(
            param_names=param_set(16), normaliser=FeatureNormaliser(-4, 2)))
    done = subprocess.run([sys.executable, "-m", "flowsynth_gui.cli", "evaluate", "--data",
                           str(data), "--checkpoints", *map(str, checkpoints), "--out",
                           str(tmp_path / "table")], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    table = (tmp_path / "table.md").read_text()
    for name in ("flow_reg (m)", "flow_reg (other)", "nearest neighbour", "random preset"):
        assert f"| {name} | 16 |" in table
