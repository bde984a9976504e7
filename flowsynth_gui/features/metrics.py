"""Evaluation metrics of the paper (section 5.1; DESIGN.md section 5).

- :func:`spectral_convergence` (SC): ``||M - M_hat||_F / ||M||_F`` on *linear* mel magnitudes,
  the target first. 0 for a perfect match, 1 for a silent estimate.
- :func:`log_mel_mse`: mean squared error between two log-mel spectrograms.
- :func:`normalised_parameter_mse` (MSE_n): ``mean((v_hat - v)^2) / mean(v^2)`` on normalised
  parameter vectors.

Each accepts one item or a leading batch axis: a mel item is 2-D ``(n_mels, frames)`` and a
parameter item 1-D ``(n_params,)``. One item gives a float, a batch a float64 array ``(n,)`` of
per-item values; report their mean and standard deviation over the test set.

>>> import numpy as np
>>> m = np.ones((2, 3))
>>> spectral_convergence(m, np.zeros((2, 3)))
1.0
>>> normalised_parameter_mse(np.array([0.5, 0.5]), np.array([1.0, 0.0]))
0.5
"""

from __future__ import annotations

import numpy as np

__all__ = ["log_mel_mse", "normalised_parameter_mse", "spectral_convergence"]

_MEL_ITEM_NDIM = 2
_PARAM_ITEM_NDIM = 1


def spectral_convergence(target_mel: np.ndarray, estimate_mel: np.ndarray) -> float | np.ndarray:
    """SC of ``estimate_mel`` against ``target_mel`` (linear mel magnitudes, target first).

    Raises ValueError for a silent target, for which SC is undefined.
    """
    target, estimate, batched = _pair(
        target_mel, estimate_mel, _MEL_ITEM_NDIM, "spectral_convergence"
    )
    axes = tuple(range(1, target.ndim))
    target_norm = np.sqrt(np.square(target).sum(axis=axes))
    silent = np.flatnonzero(target_norm == 0.0)
    if silent.size:
        where = f" (batch items {silent[:10].tolist()})" if batched else ""
        raise ValueError(
            f"spectral_convergence: the target mel is silent{where}; SC divides by the "
            "target's norm, so leave silent sounds out of the evaluation"
        )
    error_norm = np.sqrt(np.square(target - estimate).sum(axis=axes))
    return _result(error_norm / target_norm, batched)


def log_mel_mse(a_log: np.ndarray, b_log: np.ndarray) -> float | np.ndarray:
    """Mean squared error between two log-mel spectrograms (symmetric)."""
    a, b, batched = _pair(a_log, b_log, _MEL_ITEM_NDIM, "log_mel_mse")
    return _result(np.square(a - b).mean(axis=tuple(range(1, a.ndim))), batched)


def normalised_parameter_mse(v_hat: np.ndarray, v: np.ndarray) -> float | np.ndarray:
    """MSE_n = ``mean((v_hat - v)^2) / mean(v^2)``, per item for a batch ``(n, n_params)``.

    The paper's corpus-level figure divides over the whole test set; pass the flattened arrays
    (``v_hat.ravel(), v.ravel()``) to get that instead of per-item values.
    """
    estimate, target, batched = _pair(v_hat, v, _PARAM_ITEM_NDIM, "normalised_parameter_mse")
    energy = np.square(target).mean(axis=1)
    zero = np.flatnonzero(energy == 0.0)
    if zero.size:
        where = f" (batch items {zero[:10].tolist()})" if batched else ""
        raise ValueError(
            f"normalised_parameter_mse: the target vector is all zeros{where}, so MSE_n is "
            "undefined; report the plain MSE for such presets"
        )
    return _result(np.square(estimate - target).mean(axis=1) / energy, batched)


def _pair(
    a: np.ndarray, b: np.ndarray, item_ndim: int, caller: str
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Validate two same-shaped arrays; return them with a leading batch axis, float64."""
    first = np.asarray(a, dtype=np.float64)
    second = np.asarray(b, dtype=np.float64)
    if first.shape != second.shape:
        raise ValueError(f"{caller}: shapes differ: {first.shape} vs {second.shape}")
    if first.ndim not in (item_ndim, item_ndim + 1) or first.size == 0:
        raise ValueError(
            f"{caller}: expected a {item_ndim}-D item or a batch of them ({item_ndim + 1}-D), "
            f"got shape {first.shape}"
        )
    if not (np.isfinite(first).all() and np.isfinite(second).all()):
        raise ValueError(f"{caller}: inputs contain NaN or inf")
    batched = first.ndim == item_ndim + 1
    if not batched:
        first, second = first[None], second[None]
    return first, second, batched


def _result(values: np.ndarray, batched: bool) -> float | np.ndarray:
    return values if batched else float(values[0])
