"""Training configuration, read from TOML files (``resources/training/*.toml``).

A file has a ``[model]`` table (``preset = "cpu"`` or ``"paper"`` plus any
:class:`~flowsynth_gui.models.ModelConfig` field to override) and a ``[train]`` table (the
fields of :class:`TrainConfig`). The command line's options override both.

>>> config = load_train_config("cpu")
>>> config.train.batch_size > 0
True
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from flowsynth_gui.models import ModelConfig, cpu_config, paper_config
from flowsynth_gui.paths import RESOURCES_DIR

__all__ = ["TrainConfig", "TrainSetup", "load_train_config", "CONFIG_DIR"]

CONFIG_DIR = RESOURCES_DIR / "training"


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings (paper: Adam 2e-4, halve the rate after 20 stalled epochs)."""

    epochs: int = 60
    batch_size: int = 64
    learning_rate: float = 2e-4
    beta_warmup_epochs: int = 10  # beta rises linearly from 0 to 1 over these epochs
    plateau_patience: int = 6  # halve the learning rate after this many stalled epochs
    early_stop_patience: int = 12  # stop after this many epochs without a better valid loss
    min_learning_rate: float = 1e-6
    seed: int = 0
    threads: int = 0  # torch intra-op threads per process; 0 = all cores (split under torchrun)
    max_train_sounds: int = 0  # 0 = the whole training split (a smaller number for smoke runs)
    # Stop before an epoch that would end past this many minutes of training (0 = no limit):
    # "the best model this machine can make in an hour". The epoch time is the mean so far.
    time_budget_minutes: float = 0.0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be at least 1")
        for name in ("beta_warmup_epochs", "plateau_patience", "early_stop_patience", "threads",
                     "max_train_sounds", "seed", "time_budget_minutes"):
            if getattr(self, name) < 0:
                raise ValueError(f"train.{name} must be >= 0")
        if not self.learning_rate > 0:
            raise ValueError("train.learning_rate must be > 0")


@dataclass(frozen=True)
class TrainSetup:
    model_overrides: dict[str, Any] = field(default_factory=dict)
    model_preset: str = "cpu"
    train: TrainConfig = field(default_factory=TrainConfig)
    # The parameter posterior's sizes and optimisation (``PosteriorSettings`` fields).
    posterior: dict[str, Any] = field(default_factory=dict)

    def model_config(self, kind: str, n_params: int) -> ModelConfig:
        presets = {"cpu": cpu_config, "paper": paper_config}
        if self.model_preset not in presets:
            raise ValueError(f"model preset {self.model_preset!r}: choose 'cpu' or 'paper'")
        base = presets[self.model_preset](kind, n_params)
        return base.with_changes(**self.model_overrides) if self.model_overrides else base


def _config_path(name_or_path: str | Path) -> Path:
    path = Path(name_or_path)
    if path.suffix == ".toml":
        return path
    return CONFIG_DIR / f"{name_or_path}.toml"


def load_train_config(name_or_path: str | Path = "cpu", **train_overrides: Any) -> TrainSetup:
    """Read a TOML training config by name (``cpu``, ``paper``, ``tiny``) or path."""
    path = _config_path(name_or_path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.toml")))
        raise ValueError(
            f"no training config {path}; use a .toml path or one of: {known}") from None
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path} is not valid TOML: {err}") from None
    unknown = set(data) - {"model", "train", "posterior"}
    if unknown:
        raise ValueError(f"{path}: unknown tables {sorted(unknown)}; use [model], [train] and "
                         "[posterior]")
    model = dict(data.get("model", {}))
    preset = model.pop("preset", "cpu")
    model_fields = {f.name for f in fields(ModelConfig)} - {"kind", "n_params"}
    bad = set(model) - model_fields
    if bad:
        raise ValueError(f"{path}: unknown [model] keys {sorted(bad)}")
    train_data = dict(data.get("train", {}))
    bad = set(train_data) - {f.name for f in fields(TrainConfig)}
    if bad:
        raise ValueError(f"{path}: unknown [train] keys {sorted(bad)}")
    train = replace(TrainConfig(**train_data),
                    **{k: v for k, v in train_overrides.items() if v is not None})
    return TrainSetup(model_overrides=model, model_preset=preset, train=train,
                      posterior=dict(data.get("posterior", {})))
