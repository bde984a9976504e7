"""A NumPy snapshot of a regression flow, for the app's per-cursor-move path (z ↔ v).

z → v runs on every cursor move (budget 1 ms) and v → z whenever a preset is placed on the
map (budget 5 ms). On a single row, torch spends its time in per-operation dispatch rather
than arithmetic: a 6-coupling flow costs about 0.9 ms on the project's 2-core machine under
load, NumPy about 0.35 ms for the same arithmetic. :class:`LatentParamMap` copies the weights
of a :class:`~flowsynth_gui.models.bijections.RegressionFlow` once (an immutable snapshot:
take a new one after changing the weights) and evaluates the same formulas in NumPy.
The tests check it against the torch implementation both ways.

>>> import numpy as np, torch
>>> from flowsynth_gui.models.bijections import RegressionFlow
>>> flow = RegressionFlow(4, steps=2, hidden=8)
>>> fast = LatentParamMap.from_flow(flow)
>>> z = np.zeros(4, dtype=np.float32)
>>> np.allclose(fast.to_params(z), flow.call(torch.zeros(1, 4)).detach().numpy()[0])
True
>>> np.allclose(fast.to_latent(fast.to_params(z)), z, atol=1e-5)
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from flowsynth_gui.models.bijections import RegressionFlow

__all__ = ["LatentParamMap"]


@dataclass(frozen=True)
class _Coupling:
    idx_a: np.ndarray
    idx_b: np.ndarray
    inverse_order: np.ndarray
    # Weights transposed once so that rows multiply on the left: h = x @ w + b.
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    w3: np.ndarray
    b3: np.ndarray

    def shift_log_scale(self, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = _elu(a @ self.w1 + self.b1)
        h = _elu(h @ self.w2 + self.b2)
        out = h @ self.w3 + self.b3
        half = out.shape[1] // 2
        return out[:, :half], np.tanh(out[:, half:])


def _elu(h: np.ndarray) -> np.ndarray:
    # torch.nn.functional.elu with alpha = 1; the minimum keeps expm1 from overflowing.
    return np.where(h > 0, h, np.expm1(np.minimum(h, 0)))


def _array(tensor: torch.Tensor) -> np.ndarray:
    """A float32 (or integer) NumPy copy of a tensor, detached from torch."""
    value = tensor.detach().cpu()
    if value.is_floating_point():
        value = value.float()
    return value.numpy().copy()


class LatentParamMap:
    """z ↔ v of a trained Flow_reg / Flow_dis in NumPy (float32), rows or single vectors."""

    def __init__(self, couplings: list[_Coupling], features: int, eps: float) -> None:
        self._couplings = couplings
        self.features = features
        self.eps = eps

    @classmethod
    def from_flow(cls, flow: RegressionFlow) -> LatentParamMap:
        """Copy the weights of ``flow`` (detached, float32, on the CPU)."""
        couplings = [
            _Coupling(_array(c.idx_a), _array(c.idx_b), _array(c.inverse_order),
                      _array(c.w1).T.copy(), _array(c.b1), _array(c.w2).T.copy(),
                      _array(c.b2), _array(c.w3).T.copy(), _array(c.b3))
            for c in flow.couplings.couplings]
        return cls(couplings, flow.features, flow.sigmoid.eps)

    def _rows(self, x: np.ndarray, name: str) -> tuple[np.ndarray, bool]:
        rows = np.asarray(x, dtype=np.float32)
        single = rows.ndim == 1
        if single:
            rows = rows[None, :]
        if rows.ndim != 2 or rows.shape[1] != self.features:
            raise ValueError(f"{name} must have shape ({self.features},) or (batch, "
                             f"{self.features}), got {np.shape(x)}")
        return rows, single

    def to_params(self, z: np.ndarray) -> np.ndarray:
        """Latent ``(L,)`` or ``(B, L)`` → parameters in [0, 1], same shape."""
        x, single = self._rows(z, "z")
        for c in self._couplings:
            a = x[:, c.idx_a]
            shift, log_scale = c.shift_log_scale(a)
            x = np.concatenate((a, x[:, c.idx_b] * np.exp(log_scale) + shift), axis=1)
        # Sigmoid written to avoid overflow warnings for very negative inputs.
        v = np.exp(-np.logaddexp(0.0, -x)).astype(np.float32)
        return v[0] if single else v

    def to_latent(self, v: np.ndarray) -> np.ndarray:
        """Parameters ``(P,)`` or ``(B, P)`` → latent; 0 and 1 are read as eps and 1 - eps."""
        y, single = self._rows(v, "v")
        y = np.clip(y, self.eps, 1.0 - self.eps)
        y = np.log(y) - np.log1p(-y)
        n_a = self.features // 2  # every coupling keeps its first half (AffineCoupling.n_a)
        for c in reversed(self._couplings):
            a, b = y[:, :n_a], y[:, n_a:]
            shift, log_scale = c.shift_log_scale(a)
            y = np.concatenate((a, (b - shift) * np.exp(-log_scale)), axis=1)[:, c.inverse_order]
        z = y.astype(np.float32)
        return z[0] if single else z
