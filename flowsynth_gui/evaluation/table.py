"""The paper's Table 1 on our synth: parameter and audio errors over a dataset's test split.

For each model: MSE_n on the normalised parameters, and spectral convergence (SC) and log-mel
MSE of the re-rendered prediction against the test sound, as mean ± std over the test sounds
(DESIGN.md section 5). Two references the paper lacks: the nearest training preset by
spectrogram (what a lookup in the training set achieves) and a random preset (chance level).
Out-of-domain sounds (other instruments, voices, other synths) are scored by SC and MSE only.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from flowsynth_gui.data.dataset import LoadedDataset
from flowsynth_gui.features.mel import DEFAULT_SETTINGS, log_mel_batch
from flowsynth_gui.features.metrics import log_mel_mse, spectral_convergence
from flowsynth_gui.fileio import atomic_write_text
from flowsynth_gui.inference.match import Matcher
from flowsynth_gui.models import LoadedCheckpoint
from flowsynth_gui.synth.render import render_batch

__all__ = ["Scores", "EvaluationRow", "score_predictions", "evaluate_model",
           "nearest_neighbour_reference", "random_reference", "evaluate_out_of_domain",
           "training_summary", "write_tables"]

_BATCH = 64


@dataclass
class Scores:
    """Per-sound errors; ``mse_n`` is None where parameters have no ground truth."""

    sc: np.ndarray
    mse: np.ndarray
    mse_n: np.ndarray | None = None

    @staticmethod
    def median(values: np.ndarray | None) -> str:
        """The median: SC's mean is pulled up by the few renders far louder than the target."""
        return "–" if values is None or len(values) == 0 else f"{np.median(values):.3f}"

    @staticmethod
    def summary(values: np.ndarray | None) -> str:
        if values is None or len(values) == 0:
            return "–"
        return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


@dataclass
class EvaluationRow:
    name: str
    n_params: int
    test: Scores
    out_of_domain: Scores | None = None
    notes: dict[str, str] = field(default_factory=dict)
    training: str = "–"  # how the model was trained (see training_summary)


def training_summary(training: dict) -> str:
    """"8 ep. (best 7) × 16,000 sounds, 17.5 min" from a checkpoint sidecar's training figures
    (epochs run, the best epoch counted from 1, training sounds, total minutes), with
    " + slider alignment, 9.8 min" for a model fine-tuned by ``flowsynth align-sliders``."""
    history = training.get("history") or []
    if not history:
        return "–"
    epochs = int(training.get("epochs_run", len(history)))
    best = int(training.get("best_epoch", history[-1].get("epoch", epochs - 1))) + 1
    config = training.get("train_config") or {}
    sounds = (training.get("dataset") or {}).get("sounds")
    train_sounds = config.get("max_train_sounds") or (int(0.8 * sounds) if sounds else None)
    minutes = float(training.get("seconds_total", training.get("seconds", 0.0))) / 60.0
    per = f" × {train_sounds:,} sounds" if train_sounds else ""
    aligned = training.get("slider_alignment")
    then = f" + slider alignment, {aligned['seconds'] / 60.0:.1f} min" if aligned else ""
    return f"{epochs} ep. (best {best}){per}, {minutes:.1f} min{then}"


def _linear_mel(log_mel: np.ndarray) -> np.ndarray:
    return np.maximum(np.exp(log_mel.astype(np.float32)) - DEFAULT_SETTINGS.log_offset, 0.0)


def score_predictions(dataset: LoadedDataset, rows: np.ndarray, predicted: np.ndarray) -> Scores:
    """Render predicted parameters for dataset sounds ``rows`` and score them (Table 1)."""
    names = dataset.spec.parameters
    truth = dataset.params[rows].astype(np.float64)
    predicted = np.clip(predicted.astype(np.float64), 0.0, 1.0)
    sc, mse = [], []
    for start in range(0, len(rows), _BATCH):
        chunk = slice(start, start + _BATCH)
        audio = render_batch(predicted[chunk], names, dataset.spec.note, dataset.spec.velocity,
                             dataset.spec.duration, dataset.spec.sample_rate,
                             seeds=dataset.ids[rows[chunk]].tolist())
        estimate_log = log_mel_batch(audio, dataset.spec.sample_rate)
        target_log = dataset.log_mel[rows[chunk]].astype(np.float32)
        sc.append(spectral_convergence(_linear_mel(target_log), _linear_mel(estimate_log)))
        mse.append(log_mel_mse(target_log, estimate_log))
    mse_n = np.mean((predicted - truth) ** 2, axis=1) / np.maximum(np.mean(truth ** 2, axis=1),
                                                                    1e-12)
    return Scores(np.concatenate(sc), np.concatenate(mse), mse_n)


def _predict(checkpoint: LoadedCheckpoint, dataset: LoadedDataset, rows: np.ndarray) -> np.ndarray:
    model = checkpoint.model.eval()
    normaliser = checkpoint.metadata.normaliser
    out = []
    for start in range(0, len(rows), _BATCH):
        mel = normaliser.apply(dataset.log_mel[rows[start:start + _BATCH]].astype(np.float32))
        out.append(model.predict_params(torch.from_numpy(mel)).numpy())
    return np.concatenate(out)


def evaluate_model(checkpoint: LoadedCheckpoint, dataset: LoadedDataset,
                   rows: np.ndarray) -> Scores:
    names = checkpoint.metadata.param_names
    if tuple(names) != tuple(dataset.spec.parameters):
        raise ValueError("the model and the dataset use different parameter sets: "
                         f"{len(names)} vs {len(dataset.spec.parameters)} parameters")
    return score_predictions(dataset, rows, _predict(checkpoint, dataset, rows))


def nearest_neighbour_reference(dataset: LoadedDataset, rows: np.ndarray,
                                components: int = 128) -> Scores:
    """The training preset whose log-mel is closest (after a PCA of the training split)."""
    train = dataset.subset("train")
    flat_train = torch.from_numpy(dataset.log_mel[train].reshape(len(train), -1).astype(
        np.float32))
    mean = flat_train.mean(dim=0)
    with torch.random.fork_rng():  # pca_lowrank projects randomly: seeded, the row repeats
        torch.manual_seed(0)
        _, _, basis = torch.pca_lowrank(flat_train - mean, q=min(components, len(train) - 1),
                                        center=False, niter=4)
    train_codes = (flat_train - mean) @ basis
    test = torch.from_numpy(dataset.log_mel[rows].reshape(len(rows), -1).astype(np.float32))
    test_codes = (test - mean) @ basis
    nearest = torch.cdist(test_codes, train_codes).argmin(dim=1).numpy()
    return score_predictions(dataset, rows, dataset.params[train[nearest]])


def random_reference(dataset: LoadedDataset, rows: np.ndarray, seed: int = 0) -> Scores:
    rng = np.random.default_rng(seed)
    return score_predictions(dataset, rows, rng.uniform(size=(len(rows),
                                                              len(dataset.spec.parameters))))


def evaluate_out_of_domain(checkpoint: LoadedCheckpoint, files: Iterable[Path]) -> Scores:
    """Match each file (at its own pitch) and score the re-rendered match by SC and MSE."""
    matcher = Matcher(checkpoint)
    sc, mse = [], []
    for path in files:
        result = matcher.match_file(path)
        sc.append(result.spectral_convergence)
        target_log = np.log(result.target_mel + DEFAULT_SETTINGS.log_offset)
        estimate_log = log_mel_batch(result.match_audio[None], DEFAULT_SETTINGS.sample_rate)[0]
        mse.append(float(log_mel_mse(target_log, estimate_log)))
    return Scores(np.array(sc), np.array(mse))


def _table_rows(rows: Sequence[EvaluationRow]) -> list[list[str]]:
    out = []
    for row in rows:
        ood = row.out_of_domain
        out.append([row.name, str(row.n_params), Scores.summary(row.test.mse_n),
                    Scores.summary(row.test.sc), Scores.median(row.test.sc),
                    Scores.summary(row.test.mse),
                    Scores.summary(ood.sc if ood else None),
                    Scores.summary(ood.mse if ood else None), row.training])
    return out


HEADER = ["model", "params", "MSE_n", "SC", "SC median", "MSE (log-mel)", "out-of-domain SC",
          "out-of-domain MSE", "training"]


def write_tables(rows: Sequence[EvaluationRow], markdown: Path, csv_path: Path) -> None:
    """Markdown (mean ± std) and CSV (means and stds in separate columns), written atomically."""
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(cells) + " |" for cells in _table_rows(rows)]
    atomic_write_text(markdown, "\n".join(lines) + "\n")
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["model", "params", "n_test", "mse_n_mean", "mse_n_std", "sc_mean", "sc_std",
                     "sc_median",
                     "mse_mean", "mse_std", "ood_sc_mean", "ood_sc_std", "ood_mse_mean",
                     "ood_mse_std", "training"])
    for row in rows:
        stats = [row.name, row.n_params, len(row.test.sc)]
        for values in (row.test.mse_n, row.test.sc, row.test.mse,
                       row.out_of_domain.sc if row.out_of_domain else None,
                       row.out_of_domain.mse if row.out_of_domain else None):
            stats += ["", ""] if values is None else [f"{np.mean(values):.6g}",
                                                      f"{np.std(values):.6g}"]
            if values is row.test.sc:
                stats.append(f"{np.median(values):.6g}")
        writer.writerow([*stats, row.training])
    atomic_write_text(csv_path, buffer.getvalue())
