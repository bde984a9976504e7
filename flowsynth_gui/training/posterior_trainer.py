"""Train the parameter posterior (``flowsynth train --model param_posterior``) on a sound index.

The index already holds what the flow learns from: 200,000 presets and the embedding of their
sound, so training needs no rendering and sees ten times the sounds the auto-encoders do. The
presets can be made canonical first (:func:`~flowsynth_gui.synth.symmetry.canonical`,
``canonical = true``). The last
``valid_sounds`` of the index are held out; the best epoch by their log-likelihood is kept.

Like the other trainer: a time budget (no epoch that would end past it starts), resume from
``NAME.train.pt`` (tensors only, ``weights_only=True``; a state from another run is refused),
and the run's figures in the checkpoint's sidecar. Adam with a cosine schedule over the
planned epochs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from flowsynth_gui.matching.index import SoundIndex, load_index
from flowsynth_gui.models.param_posterior import (
    ParameterPosterior,
    PosteriorConfig,
    save_posterior,
)
from flowsynth_gui.synth.symmetry import canonical
from flowsynth_gui.training.trainer import (
    TrainingError,
    load_train_state,
    save_train_state,
    state_path_for,
)

__all__ = ["PosteriorRequest", "PosteriorResult", "PosteriorSettings", "train_posterior"]

STATE_FORMAT = "flowsynth-posterior-train-state-v1"


@dataclass(frozen=True)
class PosteriorSettings:
    """The flow's sizes and its optimisation (the ``[posterior]`` table of a training config)."""

    transforms: int = 8
    hidden: int = 256
    hidden_layers: int = 2
    bins: int = 8
    dequantise: float = 0.0  # std of the training noise on the standardised-logit scale
    logit_eps: float = 1e-3
    canonical: bool = True  # inaudible knobs at their defaults (and the never-heard frozen)
    epochs: int = 30
    batch_size: int = 512
    learning_rate: float = 1e-3
    valid_sounds: int = 5000
    max_train_sounds: int = 0  # 0: every index sound not held out
    time_budget_minutes: float = 0.0
    threads: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("transforms", "hidden", "hidden_layers", "bins", "epochs", "batch_size",
                     "valid_sounds"):
            if getattr(self, name) < 1:
                raise ValueError(f"posterior.{name} must be at least 1")
        if not self.learning_rate > 0 or self.time_budget_minutes < 0 or self.threads < 0:
            raise ValueError("posterior: learning_rate > 0, time budget and threads >= 0")

    @classmethod
    def from_table(cls, table: dict[str, Any], **overrides: Any) -> PosteriorSettings:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(table) - known)
        if unknown:
            raise ValueError(f"unknown [posterior] keys {unknown}; known: {sorted(known)}")
        given = {k: v for k, v in overrides.items() if v is not None and k in known}
        return cls(**{**table, **given})

    def model_config(self, n_params: int, context: int, frozen: tuple[int, ...] = (),
                     ) -> PosteriorConfig:
        return PosteriorConfig(n_params, context, self.transforms, self.hidden,
                               self.hidden_layers, self.bins, logit_eps=self.logit_eps,
                               dequantise=self.dequantise, frozen=frozen, seed=self.seed)


@dataclass(frozen=True)
class PosteriorRequest:
    index_dir: Path
    out: Path  # NAME.pt (+ NAME.json, NAME.train.pt)
    settings: PosteriorSettings
    resume: bool = True
    device: str = "cpu"


@dataclass(frozen=True)
class PosteriorResult:
    checkpoint: Path
    epochs_run: int
    best_epoch: int
    best_valid_nll: float
    seconds: float
    stopped_by_budget: bool
    history: list[dict[str, float]]


def _split(index: SoundIndex, settings: PosteriorSettings
           ) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    n = len(index)
    held = min(settings.valid_sounds, n // 5)
    if n - held < 1 or held < 1:
        raise TrainingError(f"the index has {n} sounds: too few to train and validate on")
    values = index.params(np.arange(n))
    if settings.canonical:
        values = canonical(values, index.names)
    values = values.astype(np.float32)
    embedding = index.embedding.astype(np.float32)
    train_end = n - held
    if settings.max_train_sounds:
        train_end = min(train_end, settings.max_train_sounds)
    train = (torch.from_numpy(values[:train_end]), torch.from_numpy(embedding[:train_end]))
    valid = (torch.from_numpy(values[n - held:]), torch.from_numpy(embedding[n - held:]))
    return train, valid


def _mean_nll(model: ParameterPosterior, data: tuple[torch.Tensor, torch.Tensor],
              batch: int, device: str) -> float:
    """Validation loss: the training objective under fixed noise, so epochs compare."""
    model.eval()
    total = 0.0
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)
        for start in range(0, len(data[0]), batch):
            v, e = (t[start:start + batch].to(device) for t in data)
            total += float(model.training_loss(v, e)) * len(v)
    return total / len(data[0])


def train_posterior(request: PosteriorRequest,
                    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
                    ) -> PosteriorResult:
    """Train (or resume) a posterior on ``request.index_dir``; the best epoch is saved."""
    s = request.settings
    torch.set_num_threads(s.threads or torch.get_num_threads())
    torch.manual_seed(s.seed)
    index = load_index(request.index_dir)
    train, valid = _split(index, s)
    # Parameters at one value in every canonical training preset were never heard.
    frozen = tuple(int(i) for i in torch.nonzero(torch.all(train[0] == train[0][0], dim=0)).ravel())
    config = s.model_config(len(index.names), index.embedding.shape[1], frozen)
    model = ParameterPosterior(config)
    model.fit_scaling(*train)
    model.to(request.device)
    optimiser = torch.optim.Adam(model.parameters(), lr=s.learning_rate)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, s.epochs)
    checkpoint = Path(request.out).with_suffix(".pt")
    state_path = state_path_for(checkpoint)
    fingerprint = {"config": asdict(config), "index": index.spec.to_json(),
                   "train": {k: v for k, v in asdict(s).items()
                             if k not in ("epochs", "time_budget_minutes", "threads")}}
    history: list[dict[str, float]] = []
    best, best_epoch, first, seconds = math.inf, -1, 0, 0.0
    state = load_train_state(state_path, request.resume, fingerprint, STATE_FORMAT)
    if state is not None:
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        scheduler.load_state_dict(state["scheduler"])
        scheduler.T_max = s.epochs  # more epochs asked for: the cosine stretches to them
        torch.set_rng_state(state["rng"])
        history, best, best_epoch = state["history"], state["best"], state["best_epoch"]
        first, seconds = state["epoch"] + 1, state["seconds"]
    embedding_id = index.fingerprint
    stopped_by_budget = False
    for epoch in range(first, s.epochs):
        if history and s.time_budget_minutes and (
                seconds + seconds / len(history) > 60.0 * s.time_budget_minutes):
            stopped_by_budget = True
            break
        began = time.perf_counter()
        train_nll = _train_epoch(model, optimiser, train, s.batch_size, request.device)
        scheduler.step()
        valid_nll = _mean_nll(model, valid, 4 * s.batch_size, request.device)
        seconds += time.perf_counter() - began
        record = {"epoch": epoch, "train_nll": train_nll, "valid_nll": valid_nll,
                  "lr": optimiser.param_groups[0]["lr"], "seconds": seconds}
        history.append(record)
        if valid_nll < best:
            best, best_epoch = valid_nll, epoch
            save_posterior(checkpoint, model.cpu(), index.names, embedding_id, {
                "index": str(request.index_dir), "train_sounds": len(train[0]),
                "valid_sounds": len(valid[0]), "best_epoch": epoch,
                "valid_nll": valid_nll, "seconds": seconds})
            model.to(request.device)
        save_train_state(state_path, {
            "format": STATE_FORMAT, "fingerprint": fingerprint, "epoch": epoch,
            "model": model.state_dict(), "optimiser": optimiser.state_dict(),
            "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state(),
            "history": history, "best": best, "best_epoch": best_epoch, "seconds": seconds})
        if on_epoch:
            on_epoch(epoch, record)
    return PosteriorResult(checkpoint, len(history), best_epoch, best, seconds,
                           stopped_by_budget, history)


def _train_epoch(model: ParameterPosterior, optimiser: torch.optim.Optimizer,
                 data: tuple[torch.Tensor, torch.Tensor], batch: int, device: str) -> float:
    model.train()
    order = torch.randperm(len(data[0]))
    total = 0.0
    for start in range(0, len(order), batch):
        rows = order[start:start + batch]
        v, e = data[0][rows].to(device), data[1][rows].to(device)
        loss = model.training_loss(v, e)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimiser.step()
        total += loss.item() * len(rows)
    return total / len(order)
