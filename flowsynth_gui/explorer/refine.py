"""Refined matching: search the latent space around the model's answer, by ear.

The model's one-shot answer (encode → z → parameters) is a good start but not the best
preset the synth can reach. :func:`refine_match` runs CMA-ES (pycma) from that z: each
generation's latents go through the regression flow to parameters, are rendered at the
target's pitch (one batch, several threads) and scored by spectral convergence on the linear
mel (SC, the paper's audio metric; lower is better). The budget is a number of renders, with
an optional time limit; ``progress`` is called after every generation and ``should_stop``
(an Event or a callable) is checked before each one, so the app can show a bar with Cancel.

The start is rendered and scored first and stays in the pool of candidates: the best
candidate returned is never worse than the start.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

with warnings.catch_warnings():  # pycma warns that matplotlib (its plots) is absent
    warnings.simplefilter("ignore")
    import cma

from flowsynth_gui.data.renders import StopFlag, render_mels, stop_requested
from flowsynth_gui.features.metrics import spectral_convergence
from flowsynth_gui.latent.codec import LatentCodec

__all__ = ["Candidate", "RefineProgress", "RefineResult", "refine_match"]

LATENT_BOUND = 5.0  # |z| beyond 5 prior standard deviations is never a trained sound


@dataclass(frozen=True)
class Candidate:
    """A latent, its parameters (model order) and its SC to the target (lower is better)."""

    z: np.ndarray
    params: np.ndarray
    distance: float


@dataclass(frozen=True)
class RefineProgress:
    renders: int
    budget: int
    best: float  # best SC so far
    start: float  # SC of the start


@dataclass(frozen=True)
class RefineResult:
    start: Candidate
    candidates: tuple[Candidate, ...]  # best first; the first is never worse than the start
    renders: int
    generations: int
    cancelled: bool
    seconds: float

    @property
    def best(self) -> Candidate:
        return self.candidates[0]

    @property
    def reduction(self) -> float:
        """Relative SC reduction of the best candidate against the start (0 = no gain)."""
        return 1.0 - self.best.distance / self.start.distance


def _scores(target: np.ndarray, estimates: np.ndarray) -> np.ndarray:
    return np.asarray(spectral_convergence(np.broadcast_to(target, estimates.shape), estimates))


def refine_match(codec: LatentCodec, target_mel: np.ndarray, start_z: np.ndarray, note: int, *,
                 start_params: np.ndarray | None = None, budget: int = 150,
                 sigma: float = 0.5, keep: int = 5, population: int | None = None,
                 seed: int = 0, workers: int | None = None, time_limit: float | None = None,
                 progress: Callable[[RefineProgress], None] | None = None,
                 should_stop: StopFlag = None) -> RefineResult:
    """Search latents near ``start_z`` for a render closer to ``target_mel`` (see module doc).

    ``target_mel``: linear mel magnitude of the 4 s target (``mel_magnitude``), ``note``: the
    pitch to render at. ``start_params``: the one-shot answer's own parameters when they are
    known (the start candidate is then exactly that preset; else ``f(start_z)``). ``budget``
    counts renders including the start's; ``time_limit`` (s) ends the search before a
    generation that would not finish in time; ``keep``: how many candidates to return.
    """
    started = time.perf_counter()
    target = np.asarray(target_mel, dtype=np.float64)
    if target.ndim != 2 or not np.all(np.isfinite(target)) or not np.any(target):
        raise ValueError("refine: the target must be the linear mel of an audible 4 s sound, "
                         f"shape (n_mels, frames); got shape {target.shape}")
    if budget < 1 or keep < 1:
        raise ValueError(f"refine: budget and keep must be at least 1, got {budget}, {keep}")
    z0 = np.clip(np.asarray(start_z, dtype=np.float64), -LATENT_BOUND, LATENT_BOUND)
    v0 = codec.to_params(z0) if start_params is None else np.array(start_params, np.float64)
    if v0.shape != (codec.n_params,):
        raise ValueError(f"refine: start_params must hold {codec.n_params} values")
    start = Candidate(z0, v0, float(_scores(target, render_mels(v0[None], codec.names, note,
                                                                  workers))[0]))
    pool = [start]
    renders, cancelled = 1, False
    options = {"bounds": [-LATENT_BOUND, LATENT_BOUND], "seed": seed + 1, "verbose": -9}
    if population:
        options["popsize"] = population
    es = cma.CMAEvolutionStrategy(z0, sigma, options)
    per_render = time.perf_counter() - started  # the start's render: the first estimate
    while renders < budget:
        if stop_requested(should_stop):
            cancelled = True
            break
        elapsed = time.perf_counter() - started
        if time_limit is not None and elapsed + per_render * es.popsize > time_limit:
            break
        x = np.asarray(es.ask(), dtype=np.float64)[: budget - renders]
        params = codec.to_params(x)
        distances = _scores(target, render_mels(params, codec.names, note, workers))
        renders += len(x)
        per_render = (time.perf_counter() - started) / renders
        pool.extend(Candidate(x[i], params[i], float(distances[i])) for i in range(len(x)))
        if progress is not None:  # before a last, short generation too: the shown best is final
            progress(RefineProgress(renders, budget, min(c.distance for c in pool),
                                    start.distance))
        if len(x) < es.popsize:
            break  # the budget cut this generation short: nothing more to learn from it
        es.tell(list(x), distances.tolist())
    # Stable sort: on a tie the start (first in the pool) wins, so equal is never "worse".
    ranked = sorted(pool, key=lambda c: c.distance)
    return RefineResult(start, tuple(ranked[:keep]), renders, es.countiter, cancelled,
                        time.perf_counter() - started)
