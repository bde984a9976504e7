"""Polish: CMA-ES in parameter space from the best candidates, until the time budget.

pycma (``cma``, Hansen's reference implementation) runs the search in [0, 1]^P with its bound
handling. Several searches start from the best *distinct* candidates and take generations in
turn (each generation is one rendered batch); after a first share of the budget only the
search that found the closest sound goes on, so a poor start costs little and a good one gets
the time. ``should_stop`` and the budget are checked before each generation; a generation that
would end past the budget (by the time generations took so far) is not started.

Why parameter space: from index starts, CMA-ES in the model's latent space did not help
(0.69 → 0.70 median SC in ``docs/RESULTS.md``), while parameter space reaches presets the model
cannot express (an index preset is one already).
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

from flowsynth_gui.data.renders import StopFlag, stop_requested

__all__ = ["PolishSettings", "polish"]


@dataclass(frozen=True)
class PolishSettings:
    # Measured (docs/RESULTS.md): one search from the best beat three raced ones (0.531 vs
    # 0.552 in-domain), and a step of 0.05 beat 0.12 and 0.08; 0.03 was as good as 0.05.
    starts: int = 1  # searches raced from the best distinct candidates
    race_share: float = 0.3  # share of the polish time they share before the best goes on
    sigma: float = 0.05  # initial step, in normalised parameter units
    population: int | None = None  # pycma's default, 4 + 3 ln P, when None

    def __post_init__(self) -> None:
        if self.starts < 1 or not 0.0 <= self.race_share <= 1.0 or not self.sigma > 0:
            raise ValueError(f"polish settings out of range: {self}")


def _search(start: np.ndarray, settings: PolishSettings, seed: int) -> cma.CMAEvolutionStrategy:
    options = {"bounds": [0.0, 1.0], "seed": seed + 1, "verbose": -9,
               "tolfun": 1e-6, "tolx": 1e-5}
    if settings.population:
        options["popsize"] = settings.population
    return cma.CMAEvolutionStrategy(np.clip(start, 0.0, 1.0), settings.sigma, options)


def polish(starts: list[np.ndarray], score: Callable[[np.ndarray], np.ndarray],
           deadline: float, settings: PolishSettings = PolishSettings(), seed: int = 0,
           on_generation: Callable[[np.ndarray, np.ndarray], None] | None = None,
           should_stop: StopFlag = None) -> tuple[int, bool]:
    """Search from ``starts`` until ``deadline`` (``time.perf_counter()`` seconds).

    ``score`` maps ``(N, P)`` rows to distances; ``on_generation(rows, distances)`` sees every
    generation. Returns (generations run, cancelled).
    """
    searches = [_search(s, settings, seed + i) for i, s in enumerate(starts[:settings.starts])]
    if not searches:
        return 0, False
    began = time.perf_counter()
    race_until = began + settings.race_share * max(0.0, deadline - began)
    best = [np.inf] * len(searches)
    generations, per_generation, turn = 0, 0.0, 0
    while searches:
        if stop_requested(should_stop):
            return generations, True
        now = time.perf_counter()
        if now + per_generation > deadline:
            break
        if len(searches) > 1 and now >= race_until:
            keep = int(np.argmin(best))
            searches, best, turn = [searches[keep]], [best[keep]], 0
        i = turn % len(searches)
        es = searches[i]
        rows = np.asarray(es.ask(), dtype=np.float64)
        distances = score(rows)
        es.tell(list(rows), distances.tolist())
        best[i] = min(best[i], float(distances.min()))
        generations += 1
        per_generation = (time.perf_counter() - began) / generations
        if on_generation is not None:
            on_generation(rows, distances)
        if es.stop():  # converged: restart it around its best with a fresh step
            searches[i] = _search(np.asarray(es.result.xbest), settings, seed + 100 + generations)
        turn += 1
    return generations, False
