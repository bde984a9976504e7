"""Slider alignment: teach a Flow_dis's regression flow what its semantic sliders mean.

Flow_dis's disentangling flow puts sounds tagged *Moving* at +1.4 on the Constant↔Moving
dimension and *Constant* ones at −1.4, but nothing in its training says what the regression
flow ``f`` must do when that one coordinate moves with the others fixed: away from the training
sounds ``f`` extrapolates, and the slider may change a parameter that moves nothing. Measured on
the shipped model before alignment, the rendered audio followed two of the four sliders (median
Spearman 1.00) and not the others (0.79, 0.63).

This stage fine-tunes ``f`` alone (encoder and disentangling flow frozen, so every sound keeps
its place on the map) on three terms:

- the model's own regression loss on the training sounds (their encoded latents → their
  parameters), so matching stays as good as it was;
- a **monotonic hinge** per slider: for a start latent and two random slider positions
  ``a < b`` (the other coordinates kept), the tag's score of ``f(z | z_j = b)`` must exceed that
  of ``f(z | z_j = a)`` by ``margin · (b − a)`` (scores in corpus standard deviations). Half
  the starts are encoded training sounds, half prior draws: the map's sketches, and any point
  a user drags to, sit in the prior rather than on sounds (aligned on sounds alone, the
  sliders from prior draws measured 0.89 / 0.64 / 0.89 / 0.75);
- a **path term**: at random points between two training latents, where the interpolation's
  latent path runs, ``f`` keeps its values (Gaussian, the regression's σ). Without it the
  sliders were met but the latent interpolation lost its edge over the straight path (36 %
  of pairs against 53 %, shipped model); the sliders need ``f`` to change where one coordinate
  is pushed out of the data, not between sounds.

Scores come from audio, which the synth renders without gradients; a small ensemble of MLPs
(:class:`ScoreSurrogate`) learns parameters → the four tag scores and stands in for the render
during fine-tuning. A surrogate fitted on the dataset alone is least reliable exactly where the
fine-tuned f goes (off the dataset's presets), so the stage runs in rounds: render every
slider's sweep from a few hundred training latents, add those (parameters, scores) to the
surrogate's pool and refit it, fine-tune f, render again. The sweeps' median Spearman
correlations (the benchmark's measure, on training latents) are each round's figure; the
benchmark then measures the sliders on held-out sounds (``benchmarks/bench_explorer.py``).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from flowsynth_gui.data.dataset import LoadedDataset, load_dataset
from flowsynth_gui.features.descriptors import DESCRIPTOR_NAMES
from flowsynth_gui.features.tags import TAG_PAIRS, TagRules
from flowsynth_gui.latent.codec import LatentCodec
from flowsynth_gui.latent.sliders import (
    SLIDER_RANGE,
    SliderSweep,
    slider_rank_correlations,
    sweep_slider,
)
from flowsynth_gui.models import load_checkpoint, save_checkpoint
from flowsynth_gui.models.checkpoint import LoadedCheckpoint
from flowsynth_gui.models.flow_models import FlowDis

__all__ = ["AlignSettings", "AlignResult", "ScoreSurrogate", "align_sliders", "slider_hinge"]

SLIDER_SPAN = SLIDER_RANGE[1]  # the app's sliders run over ±SLIDER_SPAN: the range to align


@dataclass(frozen=True)
class AlignSettings:
    rounds: int = 4  # fine-tune, render sweeps, teach the surrogate what they sounded like
    steps: int = 1000  # fine-tuning steps per round
    batch_size: int = 128
    learning_rate: float = 2e-4
    weight: float = 500.0  # hinge weight against the regression loss (a few hundred nats)
    margin: float = 0.3  # score rise per latent unit, in corpus standard deviations
    path_weight: float = 4.0  # keeps f as it was between training latents (interpolation)
    prior_fraction: float = 0.5  # share of slider starts drawn from the prior, not encoded
    surrogates: int = 3
    surrogate_epochs: int = 40
    surrogate_hidden: int = 256
    refit_epochs: int = 10  # surrogate epochs on the grown pool after each round's sweeps
    sweep_starts: int = 300  # training latents swept per slider and round
    sweep_positions: int = 7
    eval_every: int = 250
    workers: int | None = None  # render processes for the sweeps (None: one per core)
    seed: int = 0
    threads: int = 0  # torch threads; 0 = leave torch's setting

    def __post_init__(self) -> None:
        for name in ("rounds", "steps", "batch_size", "surrogates", "surrogate_epochs",
                     "surrogate_hidden", "refit_epochs", "sweep_starts", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"align: {name} must be at least 1")
        if not (self.learning_rate > 0 and min(self.weight, self.margin, self.path_weight,
                                                self.threads) >= 0):
            raise ValueError("align: learning_rate must be > 0; weight, margin, path_weight, "
                             "threads >= 0")
        if not 0.0 <= self.prior_fraction <= 1.0:
            raise ValueError("align: prior_fraction must be in [0, 1]")
        if self.sweep_positions < 3:
            raise ValueError("align: sweep_positions must be at least 3 (a rank correlation)")


@dataclass
class AlignResult:
    checkpoint: Path
    figures: dict[str, Any]


class ScoreSurrogate(nn.Module):
    """Ensemble of MLPs: parameters ``(B, P)`` in [0, 1] → the tag scores ``(B, 4)``,
    standardised on the corpus. The mean over members smooths what one net gets wrong."""

    def __init__(self, n_params: int, n_scores: int, members: int, hidden: int) -> None:
        super().__init__()
        self.members = nn.ModuleList(
            nn.Sequential(nn.Linear(n_params, hidden), nn.SiLU(), nn.Linear(hidden, hidden),
                          nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                          nn.Linear(hidden, n_scores))
            for _ in range(members))

    def forward(self, params: Tensor) -> Tensor:
        return torch.stack([member(params) for member in self.members]).mean(dim=0)

    def fit(self, params: Tensor, scores: Tensor, epochs: int, batch_size: int,
            generator: torch.Generator) -> None:
        """Each member (from its current weights) on its own shuffles of the same pairs (MSE,
        Adam 1e-3); then frozen."""
        self.requires_grad_(True)
        self.train()
        for member in self.members:
            optimiser = torch.optim.Adam(member.parameters(), lr=1e-3)
            for _ in range(epochs):
                order = torch.randperm(len(params), generator=generator)
                for start in range(0, len(order), batch_size):
                    rows = order[start:start + batch_size]
                    loss = (member(params[rows]) - scores[rows]).square().mean()
                    optimiser.zero_grad()
                    loss.backward()
                    optimiser.step()
        self.requires_grad_(False)
        self.eval()

    def r_squared(self, params: Tensor, scores: Tensor) -> list[float]:
        """Per-score R² on held-out pairs (scores are standardised, so 1 − MSE / variance)."""
        with torch.no_grad():
            error = (self(params) - scores).square().mean(dim=0)
        return (1.0 - error / scores.var(dim=0).clamp_min(1e-12)).tolist()


def slider_hinge(params_of: Callable[[Tensor], Tensor], surrogate: ScoreSurrogate, z: Tensor,
                 positions: Tensor, margin: float) -> Tensor:
    """Per-slider mean hinge ``(n_sliders,)``: how far the score falls short of rising by
    ``margin`` per latent unit between the two ``positions`` ``(B, n_sliders, 2)`` of each row."""
    losses = []
    for dim in range(positions.shape[1]):
        low, high = positions[:, dim].min(dim=1).values, positions[:, dim].max(dim=1).values
        z_low, z_high = z.clone(), z.clone()
        z_low[:, dim], z_high[:, dim] = low, high
        rise = surrogate(params_of(z_high))[:, dim] - surrogate(params_of(z_low))[:, dim]
        losses.append(torch.relu(margin * (high - low) - rise).mean())
    return torch.stack(losses)


def _random_positions(rows: int, sliders: int, generator: torch.Generator) -> Tensor:
    return (torch.rand(rows, sliders, 2, generator=generator) * 2 - 1) * SLIDER_SPAN


@dataclass
class _Corpus:
    z: Tensor  # encoded latents (N, L), the app's space
    params: Tensor  # (N, P)
    scores: Tensor  # standardised tag scores (N, 4)
    score_mean: np.ndarray  # the standardisation, for the sweeps' scores
    score_std: np.ndarray
    train: Tensor  # row indices
    valid: Tensor
    audible_train: Tensor
    audible_valid: Tensor


def _check_pair(loaded: LoadedCheckpoint, data: LoadedDataset, where: Path) -> TagRules:
    if not isinstance(loaded.model, FlowDis):
        raise ValueError(f"{where}: slider alignment needs a 'flow_dis' model (the one with "
                         f"semantic sliders), this is {loaded.config.kind!r}")
    if tuple(data.spec.parameters) != tuple(loaded.metadata.param_names):
        raise ValueError(f"{where}: the dataset's parameters differ from the model's; use the "
                         "dataset the model was trained on")
    if loaded.metadata.tag_rules is None:
        raise ValueError(f"{where}: the checkpoint carries no tag rules to score sounds with")
    return TagRules.from_dict(loaded.metadata.tag_rules)


def _corpus(loaded: LoadedCheckpoint, data: LoadedDataset, rules: TagRules) -> _Corpus:
    descriptors = {name: data.descriptors[:, i] for i, name in enumerate(DESCRIPTOR_NAMES)}
    scores = rules.scores(descriptors)
    audible = descriptors["loudness_db"] >= rules.silent_db
    train, valid = data.subset("train"), data.subset("valid")
    if audible[train].sum() < 10 or audible[valid].sum() < 2:
        raise ValueError("align: the dataset has too few audible sounds to learn tag scores from")
    mean, std = scores[audible].mean(axis=0), np.maximum(scores[audible].std(axis=0), 1e-12)
    z = LatentCodec(loaded).encode_log_mels(data.log_mel)
    return _Corpus(
        z=torch.as_tensor(z, dtype=torch.float32),
        params=torch.as_tensor(data.params, dtype=torch.float32),
        scores=torch.as_tensor((scores - mean) / std, dtype=torch.float32),
        score_mean=mean, score_std=std,
        train=torch.as_tensor(train), valid=torch.as_tensor(valid),
        audible_train=torch.as_tensor(train[audible[train]]),
        audible_valid=torch.as_tensor(valid[audible[valid]]))


class _Aligner:
    """The state of one alignment: model, surrogate and its growing pool of (params, scores)."""

    def __init__(self, loaded: LoadedCheckpoint, corpus: _Corpus, rules: TagRules,
                 settings: AlignSettings, report: Callable[[str], None]) -> None:
        self.model: FlowDis = loaded.model  # type: ignore[assignment]
        self.names = loaded.metadata.param_names
        self.corpus, self.rules, self.settings, self.report = corpus, rules, settings, report
        self.n_sliders = min(self.model.config.n_tags, len(TAG_PAIRS))
        self.generator = torch.Generator().manual_seed(settings.seed)
        self.rng = np.random.default_rng(settings.seed)
        torch.manual_seed(settings.seed)  # the surrogate members' initial weights
        self.surrogate = ScoreSurrogate(corpus.params.shape[1], corpus.scores.shape[1],
                                        settings.surrogates, settings.surrogate_hidden)
        self.pool_params = corpus.params[corpus.audible_train]
        self.pool_scores = corpus.scores[corpus.audible_train]
        self.original = copy.deepcopy(self.model.regression_flow).requires_grad_(False)
        self.check_positions = _random_positions(
            min(2000, len(corpus.valid)), self.n_sliders, torch.Generator().manual_seed(1))

    def params_of(self, z: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            latent = torch.as_tensor(z, dtype=torch.float32)
            return self.model.regression_flow.call(latent).double().numpy()

    def sweep(self, round_index: int) -> dict[str, Any]:
        """Render every slider's sweep from fresh training latents and prior draws; add the
        audible renders to the surrogate's pool; each kind of start's median Spearman per
        slider is the round's figure."""
        corpus, settings = self.corpus, self.settings
        n_prior = int(round(settings.prior_fraction * settings.sweep_starts))
        rows = self.rng.choice(corpus.train.numpy(), min(settings.sweep_starts - n_prior,
                                                         len(corpus.train)), replace=False)
        starts = np.concatenate([corpus.z[rows].numpy(),
                                 self.rng.standard_normal((n_prior, corpus.z.shape[1]))])
        positions = np.linspace(-SLIDER_SPAN, SLIDER_SPAN, settings.sweep_positions)
        trained, prior = [], []
        for dim in range(self.n_sliders):
            sweep = sweep_slider(self.params_of, self.names, starts, dim, positions, self.rules,
                                 settings.workers)
            rhos = slider_rank_correlations(positions, sweep.scores[:, :, dim])
            trained.append(round(float(np.median(rhos[:len(rows)])), 3))
            prior.append(round(float(np.median(rhos[len(rows):])), 3) if n_prior else None)
            self._add_to_pool(sweep)
        self.report(f"round {round_index}: rendered sweeps, median Spearman per slider from "
                    f"training sounds {trained}, from the prior {prior}")
        return {"round": round_index, "sweep_spearman_median": trained,
                "prior_spearman_median": prior, "sweep_starts": len(starts)}

    def _add_to_pool(self, sweep: SliderSweep) -> None:
        heard = sweep.audible.reshape(-1)
        scores = sweep.scores.reshape(-1, sweep.scores.shape[-1])
        standard = (scores - self.corpus.score_mean) / self.corpus.score_std
        params = sweep.params.reshape(-1, sweep.params.shape[-1])
        self.pool_params = torch.cat([self.pool_params,
                                      torch.as_tensor(params[heard], dtype=torch.float32)])
        self.pool_scores = torch.cat([self.pool_scores,
                                      torch.as_tensor(standard[heard], dtype=torch.float32)])

    def fit_surrogate(self, epochs: int) -> None:
        self.surrogate.fit(self.pool_params, self.pool_scores, epochs, self.settings.batch_size,
                           self.generator)

    def valid_hinge(self, params_of: Callable[[Tensor], Tensor]) -> list[float]:
        """Per-slider hinge on validation latents under the current surrogate."""
        rows = self.corpus.valid[: len(self.check_positions)]
        with torch.no_grad():
            hinge = slider_hinge(params_of, self.surrogate, self.corpus.z[rows],
                                 self.check_positions[: len(rows)], self.settings.margin)
        return [round(float(h), 5) for h in hinge]

    def valid_figures(self) -> dict[str, Any]:
        corpus, flow = self.corpus, self.model.regression_flow
        with torch.no_grad():
            z, params = corpus.z[corpus.valid], corpus.params[corpus.valid]
            return {"regression_loss": float(self.model.regression_loss(z, params)),
                    "param_mse": float((flow.call(z) - params).square().mean()),
                    "hinge": self.valid_hinge(flow.call)}

    def hinge_starts(self, z: Tensor) -> Tensor:
        """The batch's latents with a share replaced by prior draws: the map's sketches (and
        any point a user drags to) start from the prior, not only from encoded sounds."""
        n_prior = int(round(self.settings.prior_fraction * len(z)))
        if not n_prior:
            return z
        draws = torch.randn(n_prior, z.shape[1], generator=self.generator)
        return torch.cat([z[n_prior:], draws])

    def path_change(self, z: Tensor) -> Tensor:
        """How far f has moved from the original at points between training latents, on the
        regression loss's scale (Gaussian, σ of the model): the interpolation's latent path
        runs there, and the sliders need f to change elsewhere (one coordinate pushed out)."""
        partners = self.corpus.z[self.corpus.train[torch.randint(
            len(self.corpus.train), (len(z),), generator=self.generator)]]
        t = torch.rand(len(z), 1, generator=self.generator)
        between = (1 - t) * z + t * partners
        with torch.no_grad():
            before = self.original.call(between)
        change = self.model.regression_flow.call(between) - before
        return 0.5 * (change / self.model.sigma).square().sum(dim=1).mean()

    def fine_tune(self, round_index: int) -> list[dict[str, Any]]:
        settings, corpus, flow = self.settings, self.corpus, self.model.regression_flow
        self.model.eval().requires_grad_(False)
        flow.requires_grad_(True)
        optimiser = torch.optim.Adam(flow.parameters(), lr=settings.learning_rate)
        history: list[dict[str, Any]] = []
        for step in range(1, settings.steps + 1):
            rows = corpus.train[torch.randint(len(corpus.train), (settings.batch_size,),
                                              generator=self.generator)]
            z = corpus.z[rows]
            positions = _random_positions(len(rows), self.n_sliders, self.generator)
            hinge = slider_hinge(flow.call, self.surrogate, self.hinge_starts(z), positions,
                                 settings.margin)
            loss = self.model.regression_loss(z, corpus.params[rows]) \
                + settings.weight * hinge.sum()
            if settings.path_weight:
                loss = loss + settings.path_weight * self.path_change(z)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            if step % settings.eval_every == 0 or step == settings.steps:
                history.append({"round": round_index, "step": step, **self.valid_figures()})
                last = history[-1]
                self.report(f"round {round_index} step {step}: valid regression loss "
                            f"{last['regression_loss']:.2f}, param MSE {last['param_mse']:.4f}, "
                            f"surrogate hinge {last['hinge']}")
        flow.requires_grad_(False)
        return history


def align_sliders(checkpoint: str | Path, data_dir: str | Path, out: str | Path,
                  settings: AlignSettings | None = None,
                  report: Callable[[str], None] = print) -> AlignResult:
    """Fine-tune ``checkpoint``'s regression flow on ``data_dir`` (its training dataset) and
    save the result to ``out``; the sidecar's ``training.slider_alignment`` holds the figures.

    Round 0 renders sweeps of the model as it is; each round then fine-tunes f against the
    surrogate and renders new sweeps, which the surrogate learns from before the next round,
    so that it is right where f goes rather than only where the dataset was.
    """
    settings = settings or AlignSettings()
    started = time.perf_counter()
    previous_threads = torch.get_num_threads()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    try:
        loaded = load_checkpoint(checkpoint)
        data = load_dataset(data_dir)
        rules = _check_pair(loaded, data, Path(checkpoint))
        corpus = _corpus(loaded, data, rules)
        report(f"encoded {len(corpus.z)} sounds ({time.perf_counter() - started:.0f} s)")
        aligner = _Aligner(loaded, corpus, rules, settings, report)
        rounds = [aligner.sweep(0)]
        aligner.fit_surrogate(settings.surrogate_epochs)
        before = aligner.valid_figures()
        r_squared = aligner.surrogate.r_squared(corpus.params[corpus.audible_valid],
                                                corpus.scores[corpus.audible_valid])
        report("tag-score surrogate, valid R²: " + ", ".join(
            f"{neg}/{pos} {r:.2f}" for (neg, pos), r in zip(TAG_PAIRS, r_squared, strict=True)))
        history: list[dict[str, Any]] = []
        for index in range(1, settings.rounds + 1):
            history += aligner.fine_tune(index)
            rounds.append(aligner.sweep(index))
            if index < settings.rounds:
                aligner.fit_surrogate(settings.refit_epochs)
        figures = {
            "settings": asdict(settings),
            "surrogate_valid_r2": [round(r, 4) for r in r_squared],
            "rounds": rounds,
            # Both hinges under the last surrogate (it changes every round).
            "before": {**before, "hinge": aligner.valid_hinge(aligner.original.call)},
            "after": aligner.valid_figures(),
            "history": history,
            "seconds": round(time.perf_counter() - started, 1),
        }
        training = {**(loaded.metadata.training or {}), "slider_alignment": figures}
        save_checkpoint(out, aligner.model, replace(loaded.metadata, training=training))
        return AlignResult(Path(out), figures)
    finally:
        torch.set_num_threads(previous_threads)
