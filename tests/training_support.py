"""A tiny Flow_dis trained for a few seconds on 80 sounds, for tests that need a trained model."""

from __future__ import annotations

from pathlib import Path

from flowsynth_gui.data.dataset import DatasetSpec, build_dataset
from flowsynth_gui.training.config import load_train_config
from flowsynth_gui.training.trainer import TrainRequest, train


def train_tiny_flow_dis(root: Path, epochs: int) -> tuple[Path, Path]:
    """Render 80 sounds (16 parameters) into ``root/data`` and train a tiny Flow_dis on them
    for ``epochs``; returns (checkpoint, dataset folder)."""
    build_dataset(root / "data", DatasetSpec(param_set=16, size=80, seed=11, shard_size=40),
                  workers=2)
    # One torch thread: on a busy 2-core machine two threads spin against each other.
    setup = load_train_config("tiny", threads=1, epochs=epochs, early_stop_patience=epochs,
                              plateau_patience=epochs)
    result = train(TrainRequest("flow_dis", root / "data", root / "model", setup,
                                show_progress=False))
    return result.checkpoint, root / "data"
