"""The one interface every FlowSynth model implements, and the checks it shares.

:class:`FlowSynthModel` is what the app, the trainer and the evaluation code see:

========================  ===================================================================
``encode(mel)``           normalised log-mel ``(B, n_mels, n_frames)`` → latent ``(B, L)``;
                          the posterior *mean* path (no sampling), so deterministic in eval.
``params_from_latent(z)`` latent → parameters ``(B, P)`` in [0, 1].
``latent_from_params(v)`` parameters → latent; raises :class:`NotInvertible` unless the model
                          has an invertible regressor (Flow_reg, Flow_dis).
``decode(z)``             latent → normalised log-mel; :class:`NoDecoder` for the baselines.
``predict_params(mel)``   log-mel → parameters (the preset-from-audio path).
``loss(batch)``           training objective: a dict of named terms including ``'total'``.
``config``                the :class:`~flowsynth_gui.models.config.ModelConfig`.
========================  ===================================================================

The inference methods run without autograd and take or return ``torch.Tensor`` batches (a
NumPy array is accepted as input). They do not switch the module between train and eval mode:
call ``model.eval()`` first, as for any torch module (batch norm and dropout depend on it).

A training batch is a dict: ``'mel'`` ``(B, n_mels, n_frames)`` float, ``'params'`` ``(B, P)``
in [0, 1], optional ``'tags'`` ``(B, n_tags)`` in {-1, 0, +1} (TAG_PAIRS order), optional
``'beta'`` (the latent regularisation weight, warmed up by the trainer; default 1). Only
``'total'`` carries gradients; the other terms are detached values for logging. Those named in
:data:`DIAGNOSTIC_TERMS` are not part of ``'total'``; all the others add up to it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from flowsynth_gui.models.config import ModelConfig

__all__ = [
    "DIAGNOSTIC_TERMS",
    "FlowSynthModel",
    "NoDecoder",
    "NotInvertible",
    "gaussian_log_prob",
    "standard_normal_log_prob",
]

# Reported for monitoring only: per-element MSE of the reconstructed mel and of the predicted
# parameters, and the latent regulariser before its weight (beta is 0 early in a warm-up).
DIAGNOSTIC_TERMS = ("mel_mse", "param_mse", "kl_unweighted", "mmd_unweighted")

_LOG_2PI = math.log(2.0 * math.pi)


class NotInvertible(NotImplementedError):
    """The model's regressor z → v has no inverse: presets cannot be placed in its latent space."""


class NoDecoder(NotImplementedError):
    """The model maps audio straight to parameters and has no latent audio space to decode."""


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """``log N(z; 0, I)`` summed over the last dimension."""
    return -0.5 * (z.square() + _LOG_2PI).sum(dim=-1)


def gaussian_log_prob(x: Tensor, mean: Tensor | float, std: Tensor | float) -> Tensor:
    """``log N(x; mean, std^2)`` element-wise (no reduction)."""
    std_t = torch.as_tensor(std, dtype=x.dtype, device=x.device)
    return -0.5 * (((x - mean) / std_t).square() + _LOG_2PI) - std_t.log()


class FlowSynthModel(nn.Module):
    """Base class of every model; subclasses implement the ``_``-prefixed hooks."""

    #: whether ``latent_from_params`` works (the regressor is a bijection)
    invertible: bool = False
    #: whether ``decode`` works (the model has a latent audio space and a decoder)
    has_decoder: bool = False

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config

    # --- the public interface ------------------------------------------------------------

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def encode(self, mel: Tensor | np.ndarray) -> Tensor:
        """Log-mel ``(B, n_mels, n_frames)`` → latent ``(B, latent_dim)`` (posterior mean)."""
        with torch.no_grad():
            return self._encode(self._check_mel(mel))

    def params_from_latent(self, z: Tensor | np.ndarray) -> Tensor:
        """Latent ``(B, latent_dim)`` → parameters ``(B, n_params)`` in [0, 1]."""
        with torch.no_grad():
            return self._params_from_latent(self._check_rows(z, self.latent_dim, "latent"))

    def latent_from_params(self, params: Tensor | np.ndarray) -> Tensor:
        """Parameters ``(B, n_params)`` in [0, 1] → the latent that ``encode`` would use."""
        if not self.invertible:
            raise NotInvertible(
                f"a {self.config.kind!r} model cannot map parameters back to its latent space "
                "(its regressor is not invertible); use a 'flow_reg' or 'flow_dis' model")
        with torch.no_grad():
            return self._latent_from_params(
                self._check_rows(params, self.config.n_params, "params"))

    def decode(self, z: Tensor | np.ndarray) -> Tensor:
        """Latent ``(B, latent_dim)`` → normalised log-mel ``(B, n_mels, n_frames)``."""
        if not self.has_decoder:
            raise NoDecoder(f"a {self.config.kind!r} model has no decoder (it maps audio "
                            "straight to parameters)")
        with torch.no_grad():
            return self._decode(self._check_rows(z, self.latent_dim, "latent"))

    def sample_latent(self, mel: Tensor | np.ndarray, count: int,
                      generator: torch.Generator | None = None) -> Tensor | None:
        """``count`` draws ``(count, latent_dim)`` of the posterior q(z | x) of ONE log-mel
        ``(1, n_mels, n_frames)``; None for models whose posterior is a point (no sampling)."""
        return None

    def predict_params(self, mel: Tensor | np.ndarray) -> Tensor:
        """Log-mel ``(B, n_mels, n_frames)`` → parameters ``(B, n_params)`` in [0, 1]."""
        with torch.no_grad():
            return self._predict_params(self._check_mel(mel))

    def loss(self, batch: Mapping[str, Any]) -> dict[str, Tensor]:
        """Training objective on one batch; ``'total'`` is what to minimise."""
        mel = self._check_mel(batch["mel"])
        params = self._check_rows(batch["params"], self.config.n_params, "params")
        if mel.shape[0] != params.shape[0]:
            raise ValueError(f"batch: {mel.shape[0]} mels but {params.shape[0]} parameter rows")
        tags = batch.get("tags")
        if tags is not None:
            tags = self._check_tags(tags, mel.shape[0])
        beta = float(batch.get("beta", 1.0))
        if not (math.isfinite(beta) and beta >= 0.0):
            raise ValueError(f"batch: beta must be a finite number >= 0, got {beta}")
        terms = self._loss(mel, params, tags, beta)
        total = sum((v for k, v in terms.items() if k not in DIAGNOSTIC_TERMS),
                    torch.zeros((), device=mel.device))
        # Only the total carries the graph: the parts are for logging.
        return {**{k: v.detach() for k, v in terms.items()}, "total": total}

    # --- hooks ---------------------------------------------------------------------------

    def _encode(self, mel: Tensor) -> Tensor:  # pragma: no cover - overridden where it applies
        raise NotImplementedError

    def _params_from_latent(self, z: Tensor) -> Tensor:  # pragma: no cover - see above
        raise NotImplementedError

    def _latent_from_params(self, params: Tensor) -> Tensor:  # pragma: no cover - see above
        raise NotImplementedError

    def _decode(self, z: Tensor) -> Tensor:  # pragma: no cover - see above
        raise NotImplementedError

    def _predict_params(self, mel: Tensor) -> Tensor:
        return self._params_from_latent(self._encode(mel))

    def _loss(self, mel: Tensor, params: Tensor, tags: Tensor | None,
              beta: float) -> dict[str, Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    # --- input checks --------------------------------------------------------------------

    def _as_tensor(self, x: Tensor | np.ndarray, name: str, floating: bool = True) -> Tensor:
        if isinstance(x, np.ndarray):
            x = torch.from_numpy(np.ascontiguousarray(x))
        if not isinstance(x, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor or numpy array, got {type(x).__name__}")
        # Inputs follow the weights' device and dtype (e.g. float16 mels from a dataset).
        reference = next(self.parameters())
        if floating:
            return x.to(device=reference.device, dtype=reference.dtype)
        return x.to(device=reference.device)

    def _check_mel(self, mel: Tensor | np.ndarray) -> Tensor:
        mel = self._as_tensor(mel, "mel")
        want = (self.config.n_mels, self.config.n_frames)
        if mel.ndim != 3 or tuple(mel.shape[1:]) != want:
            hint = " (add a batch dimension: mel[None])" if tuple(mel.shape) == want else ""
            raise ValueError(f"mel must have shape (batch, {want[0]}, {want[1]}), "
                             f"got {tuple(mel.shape)}{hint}")
        return mel

    def _check_rows(self, x: Tensor | np.ndarray, width: int, name: str) -> Tensor:
        x = self._as_tensor(x, name)
        if x.ndim != 2 or x.shape[1] != width:
            hint = f" (add a batch dimension: {name}[None])" if tuple(x.shape) == (width,) else ""
            raise ValueError(f"{name} must have shape (batch, {width}), got {tuple(x.shape)}"
                             f"{hint}")
        return x

    def _check_tags(self, tags: Tensor | np.ndarray, batch: int) -> Tensor:
        tags = self._as_tensor(tags, "tags", floating=False)
        n_tags = self.config.n_tags
        if tags.ndim != 2 or tags.shape != (batch, n_tags):
            raise ValueError(f"tags must have shape ({batch}, {n_tags}), got {tuple(tags.shape)}")
        if not bool(((tags == -1) | (tags == 0) | (tags == 1)).all()):
            raise ValueError("tags must hold -1 (negative tag), 0 (untagged) or +1 (positive)")
        return tags.to(torch.long)
