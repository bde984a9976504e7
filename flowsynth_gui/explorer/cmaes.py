"""A compact CMA-ES (covariance matrix adaptation evolution strategy) in NumPy.

The standard (mu/mu_w, lambda)-CMA-ES of Hansen's tutorial ("The CMA Evolution Strategy: A
Tutorial", 2016, Algorithm summary in its appendix A), with its default constants: weighted
recombination of the best half, cumulative step-size adaptation, rank-one and rank-mu updates
of the covariance. Used in an ask/tell loop so that the caller renders a whole generation as
one batch (on several threads) and can stop between generations.

Why CMA-ES rather than Nelder–Mead: a generation is a batch of independent evaluations that
renders in parallel, and it copes with the noisy, non-smooth spectral distances a synth gives
(filter thresholds, envelope corners) far better than a simplex in 16-32 dimensions.

>>> es = CMAES(np.zeros(2), sigma=0.5, seed=0)
>>> for _ in range(60):
...     x = es.ask()
...     es.tell(x, np.square(x - 1.0).sum(axis=1))
>>> bool(np.allclose(es.mean, 1.0, atol=1e-2))
True
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["CMAES", "default_population"]


def default_population(dim: int) -> int:
    """Hansen's default population size: ``4 + floor(3 ln n)``."""
    return 4 + int(3 * math.log(dim))


class CMAES:
    """Minimises a function of ``dim`` variables; ``ask`` a generation, ``tell`` its values."""

    def __init__(self, mean: np.ndarray, sigma: float, population: int | None = None,
                 seed: int = 0, bounds: tuple[float, float] | None = None) -> None:
        self.mean = np.asarray(mean, dtype=np.float64).copy()
        n = self.dim = self.mean.size
        if n < 1 or not sigma > 0:
            raise ValueError(f"CMAES needs at least 1 dimension and sigma > 0, got {n}, {sigma}")
        self.sigma = float(sigma)
        self.population = population or default_population(n)
        if self.population < 2:
            raise ValueError("CMAES needs a population of at least 2")
        self.bounds = bounds
        self._rng = np.random.default_rng(seed)
        mu = self.population // 2
        weights = math.log(mu + 0.5) - np.log(np.arange(1, mu + 1))
        self.weights = weights / weights.sum()
        self.mu_eff = 1.0 / np.square(self.weights).sum()
        mu_eff = self.mu_eff
        self.c_c = (4 + mu_eff / n) / (n + 4 + 2 * mu_eff / n)
        self.c_s = (mu_eff + 2) / (n + mu_eff + 5)
        self.c_1 = 2 / ((n + 1.3) ** 2 + mu_eff)
        self.c_mu = min(1 - self.c_1, 2 * (mu_eff - 2 + 1 / mu_eff) / ((n + 2) ** 2 + mu_eff))
        self.d_s = 1 + 2 * max(0.0, math.sqrt((mu_eff - 1) / (n + 1)) - 1) + self.c_s
        self.chi_n = math.sqrt(n) * (1 - 1 / (4 * n) + 1 / (21 * n * n))
        self.p_c = np.zeros(n)
        self.p_s = np.zeros(n)
        self.cov = np.eye(n)
        self._b = np.eye(n)
        self._d = np.ones(n)
        self.generation = 0

    def ask(self) -> np.ndarray:
        """The next generation, ``(population, dim)`` (clipped to ``bounds`` if given)."""
        steps = self._rng.standard_normal((self.population, self.dim)) * self._d
        x = self.mean + self.sigma * steps @ self._b.T
        if self.bounds is not None:
            x = np.clip(x, *self.bounds)
        return x

    def tell(self, x: np.ndarray, values: np.ndarray) -> None:
        """Update from a generation ``x`` and its function values (lower is better)."""
        x = np.asarray(x, dtype=np.float64)
        order = np.argsort(np.asarray(values, dtype=np.float64), kind="stable")
        best = x[order[: len(self.weights)]]
        old = self.mean
        y = (best - old) / self.sigma
        y_w = self.weights @ y
        self.mean = old + self.sigma * y_w
        n, c_s, c_c = self.dim, self.c_s, self.c_c
        inv_sqrt = self._b @ np.diag(1.0 / self._d) @ self._b.T
        self.p_s = (1 - c_s) * self.p_s + math.sqrt(c_s * (2 - c_s) * self.mu_eff) * inv_sqrt @ y_w
        norm_ps = float(np.linalg.norm(self.p_s))
        self.generation += 1
        h_sig = norm_ps / math.sqrt(1 - (1 - c_s) ** (2 * self.generation)) / self.chi_n \
            < 1.4 + 2 / (n + 1)
        self.p_c = (1 - c_c) * self.p_c + h_sig * math.sqrt(c_c * (2 - c_c) * self.mu_eff) * y_w
        rank_mu = (y.T * self.weights) @ y
        self.cov = ((1 - self.c_1 - self.c_mu) * self.cov
                    + self.c_1 * (np.outer(self.p_c, self.p_c)
                                  + (not h_sig) * c_c * (2 - c_c) * self.cov)
                    + self.c_mu * rank_mu)
        self.sigma *= math.exp((c_s / self.d_s) * (norm_ps / self.chi_n - 1))
        self._decompose()

    def _decompose(self) -> None:
        # O(n^3) per generation, negligible at n <= 64 next to the renders it schedules.
        cov = np.triu(self.cov) + np.triu(self.cov, 1).T
        eigenvalues, self._b = np.linalg.eigh(cov)
        self._d = np.sqrt(np.maximum(eigenvalues, 1e-20))
        self.cov = cov
