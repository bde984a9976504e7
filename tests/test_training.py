"""Training: configs, loss falls, resume, determinism, checkpoints, two-process DDP (gloo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from flowsynth_gui.data.dataset import DatasetSpec, build_dataset
from flowsynth_gui.models import load_checkpoint
from flowsynth_gui.training.config import load_train_config
from flowsynth_gui.training.trainer import TrainingError, TrainRequest, state_path_for, train

# They train models (seconds to a minute each): `-m "not slow"` leaves them out.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("train") / "data"
    build_dataset(root, DatasetSpec(param_set=16, size=80, seed=11, shard_size=40), workers=1)
    return root


def tiny_request(data: Path, out: Path, kind: str = "flow_dis", **train: object) -> TrainRequest:
    setup = load_train_config("tiny", threads=1, **train)
    return TrainRequest(kind=kind, data_dir=data, out=out, setup=setup, show_progress=False)


def test_configs_load_and_reject_unknown_keys(tmp_path: Path) -> None:
    for name in ("cpu", "paper", "tiny"):
        setup = load_train_config(name)
        assert setup.model_config("flow_dis", 32).n_params == 32
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nepochs = 3\nlearning_rat = 1e-3\n")
    with pytest.raises(ValueError, match="learning_rat"):
        load_train_config(bad)
    with pytest.raises(ValueError, match="no training config"):
        load_train_config("nonexistent")


def test_training_lowers_the_loss_and_saves_a_loadable_checkpoint(tiny_data: Path,
                                                                  tmp_path: Path) -> None:
    result = train(tiny_request(tiny_data, tmp_path / "model", epochs=4))
    losses = [r["train_total"] for r in result.history]
    assert losses[-1] < losses[0]
    loaded = load_checkpoint(result.checkpoint)
    sidecar = json.loads(result.checkpoint.with_suffix(".json").read_text())
    assert sidecar["training"]["best_epoch"] == result.best_epoch
    # the sidecar also holds the whole run, not only the epochs up to the best one
    assert sidecar["training"]["epochs_run"] == 4 == len(sidecar["training"]["run_history"])
    assert sidecar["training"]["seconds_total"] >= sidecar["training"]["seconds"]
    assert loaded.metadata.param_names == tuple(sidecar["param_names"])
    assert loaded.model.config.kind == "flow_dis"


def test_same_seed_trains_identically(tiny_data: Path, tmp_path: Path) -> None:
    first = train(tiny_request(tiny_data, tmp_path / "a", epochs=2))
    second = train(tiny_request(tiny_data, tmp_path / "b", epochs=2))
    assert [r["train_total"] for r in first.history] == [r["train_total"] for r in second.history]
    a = torch.load(first.checkpoint, weights_only=True)
    b = torch.load(second.checkpoint, weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_continues_where_it_stopped(tiny_data: Path, tmp_path: Path) -> None:
    straight = train(tiny_request(tiny_data, tmp_path / "straight", epochs=3))
    partial = train(tiny_request(tiny_data, tmp_path / "resumed", epochs=2))
    assert partial.epochs_run == 2 and state_path_for(partial.checkpoint).exists()
    resumed = train(tiny_request(tiny_data, tmp_path / "resumed", epochs=3))
    assert [r["epoch"] for r in resumed.history] == [0, 1, 2]
    assert resumed.history[-1]["train_total"] == pytest.approx(
        straight.history[-1]["train_total"], rel=1e-6)


def test_resuming_with_other_settings_is_refused(tiny_data: Path, tmp_path: Path) -> None:
    train(tiny_request(tiny_data, tmp_path / "m", epochs=1))
    other = tiny_request(tiny_data, tmp_path / "m", epochs=2)
    other = replace(other, setup=replace(other.setup, model_overrides={
        **other.setup.model_overrides, "flow_hidden": 12}))
    with pytest.raises(TrainingError, match="another run"):
        train(other)


@pytest.mark.parametrize("kind", ["cnn", "vae", "flow_reg"])
def test_other_model_kinds_train(tiny_data: Path, tmp_path: Path, kind: str) -> None:
    result = train(tiny_request(tiny_data, tmp_path / kind, kind=kind, epochs=2))
    assert load_checkpoint(result.checkpoint).model.config.kind == kind


def test_two_process_ddp_on_gloo(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "flowsynth_gui.cli", "train", "--model", "flow_reg", "--data", str(tiny_data),
         "--out", str(out), "--config", "tiny", "--epochs", "2", "--threads", "1"],
        capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["training"]["processes"] == 2
    assert load_checkpoint(out.with_suffix(".pt")).model.config.kind == "flow_reg"


def test_time_budget_stops_before_an_epoch_that_would_overrun(tiny_data: Path,
                                                              tmp_path: Path) -> None:
    # A budget far below one epoch: the first epoch runs (nothing to estimate from), no more.
    result = train(tiny_request(tiny_data, tmp_path / "budget", epochs=5,
                                time_budget_minutes=1e-6))
    assert result.stopped_by_budget and result.epochs_run == 1
    # The budget is not part of the run's identity: a resumed run may be given more time.
    resumed = train(tiny_request(tiny_data, tmp_path / "budget", epochs=2))
    assert not resumed.stopped_by_budget and resumed.epochs_run == 2
