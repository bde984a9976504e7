"""The training loop: β warm-up, learning-rate halving on plateau, early stopping, resume, DDP.

One function, :func:`train`, serves a laptop and a cluster: run it directly for one process
(CPU or CUDA), or under ``torchrun`` for DistributedDataParallel on several GPUs or hosts (gloo
on CPU, NCCL on CUDA). Every epoch leaves a resumable state file beside the checkpoint
(``NAME.train.pt``, tensors and plain values only, loaded with ``weights_only=True``); the
checkpoint itself (``NAME.pt`` + ``NAME.json``) always holds the best model on the validation
split.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from flowsynth_gui.data.dataset import LoadedDataset, load_dataset
from flowsynth_gui.features.mel import FeatureNormaliser
from flowsynth_gui.fileio import atomic_path
from flowsynth_gui.models import (
    DIAGNOSTIC_TERMS,
    CheckpointMetadata,
    FlowSynthModel,
    build_model,
    save_checkpoint,
    update_training_figures,
)
from flowsynth_gui.training.config import TrainSetup

__all__ = ["TrainRequest", "TrainResult", "train", "TrainingError", "state_path_for"]

STATE_FORMAT = "flowsynth-train-state/1"


class TrainingError(ValueError):
    """A training run that cannot start or resume; the message says what to do."""


@dataclass(frozen=True)
class TrainRequest:
    kind: str
    data_dir: Path
    out: Path  # checkpoint path: NAME.pt (+ NAME.json, NAME.train.pt)
    setup: TrainSetup = field(default_factory=TrainSetup)
    resume: bool = True
    device: str = "cpu"
    show_progress: bool = True


@dataclass
class TrainResult:
    checkpoint: Path
    epochs_run: int
    best_epoch: int
    best_valid: dict[str, float]
    seconds: float
    history: list[dict[str, float]]
    stopped_early: bool
    stopped_by_budget: bool = False


def state_path_for(checkpoint: Path) -> Path:
    return checkpoint.with_suffix(".train.pt")


class _LossModule(nn.Module):
    """Wraps ``model.loss`` as ``forward`` so that DistributedDataParallel syncs its gradients."""

    def __init__(self, model: FlowSynthModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        return self.model.loss(batch)


@dataclass
class _Data:
    mel: torch.Tensor  # (N, n_mels, frames) float16, as stored
    params: torch.Tensor
    tags: torch.Tensor
    train: np.ndarray
    valid: np.ndarray
    normaliser: FeatureNormaliser

    def batch(self, rows: np.ndarray, device: str, beta: float) -> dict[str, Any]:
        index = torch.from_numpy(rows)
        mel = self.mel[index].float()
        mel = (mel - self.normaliser.mean) / self.normaliser.std
        return {"mel": mel.to(device), "params": self.params[index].to(device),
                "tags": self.tags[index].to(device), "beta": beta}


def _load_data(data_dir: Path, max_train: int) -> tuple[LoadedDataset, _Data]:
    dataset = load_dataset(data_dir)
    train = dataset.subset("train")
    if max_train:
        train = train[:max_train]
    valid = dataset.subset("valid")
    if len(train) == 0 or len(valid) == 0:
        raise TrainingError(f"{data_dir}: the training and validation splits must not be empty")
    # Statistics from the training split only (the reference code leaked test statistics).
    normaliser = FeatureNormaliser.fit(dataset.log_mel[train].astype(np.float32))
    tags = dataset.tag_labels if dataset.tag_labels is not None else np.zeros(
        (len(dataset.params), 4), np.int8)
    data = _Data(torch.from_numpy(dataset.log_mel), torch.from_numpy(dataset.params).float(),
                 torch.from_numpy(tags.astype(np.int64)), train, valid, normaliser)
    return dataset, data


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if world > 1:
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _beta(epoch: int, warmup: int) -> float:
    return 1.0 if warmup == 0 else min(1.0, (epoch + 1) / warmup)


def _evaluate(model: FlowSynthModel, data: _Data, device: str, batch_size: int) -> dict[str, float]:
    """Mean loss terms over the validation split, at beta = 1 so epochs compare."""
    model.eval()
    sums: dict[str, float] = {}
    with torch.no_grad():
        for start in range(0, len(data.valid), batch_size):
            rows = data.valid[start:start + batch_size]
            terms = model.loss(data.batch(rows, device, 1.0))
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + float(value) * len(rows)
    model.train()
    return {name: total / len(data.valid) for name, total in sums.items()}


def _epoch_rows(data: _Data, seed: int, epoch: int, rank: int, world: int) -> np.ndarray:
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = data.train[torch.randperm(len(data.train), generator=generator).numpy()]
    usable = len(order) - len(order) % world  # equal shares keep DDP's collectives in step
    return order[rank:usable:world]


def save_train_state(path: Path, state: dict[str, Any]) -> None:
    """Write a resumable training state atomically (tensors and plain values only)."""
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(state, tmp)


def load_train_state(path: Path, resume: bool, fingerprint: dict[str, Any],
                     state_format: str = STATE_FORMAT) -> dict[str, Any] | None:
    """The saved state to resume from (None: start afresh); refuses another run's state."""
    if not (resume and path.exists()):
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for a damaged file
        raise TrainingError(f"cannot resume from {path} ({err}); delete it or use --restart") \
            from None
    if state.get("format") != state_format or state.get("fingerprint") != fingerprint:
        raise TrainingError(f"{path} belongs to another run (model, data or settings differ); "
                            "use another --out, or --restart")
    return state


def train(request: TrainRequest,
          on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> TrainResult:
    """Train ``request.kind`` on a dataset folder; returns where the best model was saved."""
    rank, world = _distributed()
    settings = request.setup.train
    threads = settings.threads or max(1, (os.cpu_count() or 1) // world)
    torch.set_num_threads(threads)
    torch.manual_seed(settings.seed)
    dataset, data = _load_data(Path(request.data_dir), settings.max_train_sounds)
    names = dataset.spec.parameters
    config = request.setup.model_config(request.kind, len(names))
    model = build_model(config).to(request.device)
    wrapped: nn.Module = _LossModule(model)
    if world > 1:
        wrapped = nn.parallel.DistributedDataParallel(wrapped)
    optimiser = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimiser, factor=0.5, patience=settings.plateau_patience,
        min_lr=settings.min_learning_rate)

    checkpoint = Path(request.out).with_suffix(".pt")
    state_path = state_path_for(checkpoint)
    # What must not change between a run and its resumption (more epochs, or another thread
    # count, may be asked for).
    fingerprint = {"kind": request.kind, "model": config.to_dict(),
                   "train": {k: v for k, v in asdict(settings).items()
                             if k not in ("epochs", "threads", "time_budget_minutes")},
                   "dataset": dataset.spec.to_json(), "world": world}
    state = load_train_state(state_path, request.resume, fingerprint)
    history: list[dict[str, float]] = []
    best, best_epoch, stalled, first_epoch, seconds = math.inf, -1, 0, 0, 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        history, best, best_epoch = state["history"], state["best"], state["best_epoch"]
        stalled, first_epoch, seconds = state["stalled"], state["epoch"] + 1, state["seconds"]

    metadata = dict(param_names=tuple(names), normaliser=data.normaliser,
                    tag_rules=dataset.tag_rules.to_dict() if dataset.tag_rules else None)
    progress = _progress_bar(request.show_progress and rank == 0, settings.epochs, first_epoch)
    stopped_early = stalled >= settings.early_stop_patience
    stopped_by_budget = False
    for epoch in range(first_epoch, settings.epochs):
        if stopped_early:
            break
        if _next_epoch_overruns(seconds, len(history), settings.time_budget_minutes, world):
            stopped_by_budget = True
            break
        started = time.perf_counter()
        beta = _beta(epoch, settings.beta_warmup_epochs)
        train_terms = _train_epoch(wrapped, optimiser, data, request.device, settings, epoch,
                                   rank, world, beta, progress)
        valid = _evaluate(model, data, request.device, settings.batch_size)
        scheduler.step(valid["total"])
        seconds += time.perf_counter() - started
        record = {"epoch": epoch, "beta": beta, "lr": optimiser.param_groups[0]["lr"],
                  "seconds": seconds, **{f"train_{k}": v for k, v in train_terms.items()},
                  **{f"valid_{k}": v for k, v in valid.items()}}
        history.append(record)
        if valid["total"] < best:
            best, best_epoch, stalled = valid["total"], epoch, 0
            if rank == 0:
                _save_best(checkpoint, model, metadata, dataset, request, history, seconds, world)
        else:
            stalled += 1
        stopped_early = stalled >= settings.early_stop_patience
        if rank == 0:
            save_train_state(state_path, {
                "format": STATE_FORMAT, "fingerprint": fingerprint, "epoch": epoch,
                "model": model.state_dict(), "optimiser": optimiser.state_dict(),
                "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state(),
                "history": history, "best": best, "best_epoch": best_epoch,
                "stalled": stalled, "seconds": seconds})
        if on_epoch:
            on_epoch(epoch, record)
    if progress is not None:
        progress.close()
    if rank == 0 and checkpoint.exists():
        record_run(checkpoint, history, seconds)
    best_record = next((r for r in history if r["epoch"] == best_epoch), {})
    best_valid = {k[6:]: v for k, v in best_record.items() if k.startswith("valid_")}
    return TrainResult(checkpoint, len(history), best_epoch, best_valid, seconds, history,
                       stopped_early, stopped_by_budget)


def _next_epoch_overruns(seconds: float, epochs_done: int, budget_minutes: float,
                         world: int) -> bool:
    """Would one more epoch of the mean length so far end past the time budget? Under DDP
    rank 0 decides for all, since each process measures its own (slightly different) times."""
    if budget_minutes <= 0 or epochs_done == 0:
        return False
    overruns = seconds + seconds / epochs_done > budget_minutes * 60.0
    if world > 1:
        decision = torch.tensor([float(overruns)])
        torch.distributed.broadcast(decision, src=0)
        overruns = bool(decision.item())
    return overruns


def _train_epoch(wrapped: nn.Module, optimiser: torch.optim.Optimizer, data: _Data, device: str,
                 settings: Any, epoch: int, rank: int, world: int, beta: float,
                 progress: Any) -> dict[str, float]:
    rows = _epoch_rows(data, settings.seed, epoch, rank, world)
    sums: dict[str, float] = {}
    seen = 0
    for start in range(0, len(rows), settings.batch_size):
        batch_rows = rows[start:start + settings.batch_size]
        if len(batch_rows) < 2:  # batch norm needs two examples
            continue
        terms = wrapped(data.batch(batch_rows, device, beta))
        optimiser.zero_grad(set_to_none=True)
        terms["total"].backward()
        optimiser.step()
        seen += len(batch_rows)
        for name, value in terms.items():
            sums[name] = sums.get(name, 0.0) + float(value.detach()) * len(batch_rows)
        if progress is not None:
            shown = {k: f"{v / seen:.3g}" for k, v in sums.items()
                     if k == "total" or k in DIAGNOSTIC_TERMS[:2]}
            progress.set_postfix(epoch=epoch, **shown, refresh=False)
    if progress is not None:
        progress.update(1)
    return {name: total / max(seen, 1) for name, total in sums.items()}


def _progress_bar(enabled: bool, total: int, done: int) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=done, unit="epoch", desc="training")


def _save_best(checkpoint: Path, model: FlowSynthModel, metadata: dict[str, Any],
               dataset: LoadedDataset, request: TrainRequest, history: list[dict[str, float]],
               seconds: float, world: int) -> None:
    figures = {
        "kind": request.kind,
        "dataset": {"folder": Path(request.data_dir).name, "sounds": dataset.spec.size,
                    "param_set": dataset.spec.param_set, "seed": dataset.spec.seed},
        "train_config": asdict(request.setup.train),
        "best_epoch": history[-1]["epoch"],
        "best_valid": {k[6:]: v for k, v in history[-1].items() if k.startswith("valid_")},
        "seconds": round(seconds, 1),
        "processes": world,
        "device": request.device,
        "history": history,
    }
    save_checkpoint(checkpoint, model, CheckpointMetadata(training=figures, **metadata))


def record_run(checkpoint: Path, history: list[dict[str, float]], seconds: float) -> None:
    """Add the whole run to the best model's sidecar: it was written at the best epoch, so its
    figures stop there; readers of the results also want every epoch and the total time."""
    update_training_figures(checkpoint, {"epochs_run": len(history),
                                         "seconds_total": round(seconds, 1),
                                         "run_history": history})
