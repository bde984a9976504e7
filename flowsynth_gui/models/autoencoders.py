"""Auto-encoders with a parameter regressor (paper, section 4.2): AE, VAE, WAE and VAE-flow.

All four encode the log-mel with the paper's CNN, decode it with the mirrored transposed CNN
(latent size = number of parameters by default) and predict parameters from the latent with a
2-layer MLP regressor (sigmoid out). They differ in how the latent is regularised:

- ``'ae'`` — :class:`AE`: deterministic, no regularisation.
- ``'vae'`` — :class:`VAE`: Gaussian posterior, analytic KL to N(0, I).
- ``'wae'`` — :class:`WAE`: deterministic encoder, MMD between the batch's codes and samples
  of N(0, I) (inverse multiquadratic or RBF kernel, summed over several scales).
- ``'vae_flow'`` — :class:`VAEFlow`: Gaussian posterior refined by IAF steps; Monte-Carlo KL
  ``log q(z_K|x) - log N(z_K; 0, I)`` with ``log q(z_K|x) = log q0(z_0|x) - log|det dz_K/dz_0|``.

Loss terms (per sound, averaged over the batch), which add up to ``'total'``:

- ``'recon'`` — ``0.5 * sum((x - x_hat)^2)`` over the mel bins and frames: the Gaussian
  negative log-likelihood (unit variance, constant dropped) of the normalised log-mel, so that
  reconstruction and the latent terms are in the same unit (nats) as in an ELBO.
- ``'kl'`` / ``'mmd'`` — the latent regulariser times the batch's ``beta`` (warm-up; the MMD
  also times ``config.mmd_weight``).
- ``'reg'`` — ``-log N(v; v_hat, reg_sigma^2)`` summed over parameters: the MLP regressor's MSE
  written as a Gaussian likelihood, on the same scale as Flow_reg's regression term.

Diagnostics (not in the total): ``'mel_mse'``, ``'param_mse'`` (per element) and the latent
regulariser before weighting (``'kl_unweighted'`` / ``'mmd_unweighted'``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from flowsynth_gui.models.base import FlowSynthModel, gaussian_log_prob, standard_normal_log_prob
from flowsynth_gui.models.bijections import IAFPosterior
from flowsynth_gui.models.config import ModelConfig
from flowsynth_gui.models.nets import ConvDecoder, ConvEncoder, DenseStack, init_weights

__all__ = ["AE", "VAE", "VAEFlow", "WAE", "LatentSample", "gaussian_kl", "mmd"]

# Bounds on the posterior log-variance: exp(-12) to exp(6) in variance. Outside, a freshly
# initialised encoder can produce overflowing KL terms on unusual inputs.
_LOGVAR_RANGE = (-12.0, 6.0)
# MMD kernel scales, relative to C = 2 * latent_dim (the usual choice for a N(0, I) prior):
# summing several keeps the estimate informative both early (codes far from the prior) and late.
_MMD_SCALES = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


class LatentSample(NamedTuple):
    """A latent batch and its regulariser: ``penalty`` (scalar, before ``beta``) or None."""

    z: Tensor
    penalty: Tensor | None


def gaussian_kl(mean: Tensor, logvar: Tensor) -> Tensor:
    """``KL(N(mean, exp(logvar)) || N(0, I))`` per row, summed over dimensions."""
    return 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar).sum(dim=1)


def mmd(z: Tensor, prior: Tensor, kernel: str = "imq") -> Tensor:
    """Unbiased squared maximum mean discrepancy between two equal-size batches (WAE-MMD)."""
    n, dim = z.shape
    if n < 2:
        raise ValueError("MMD needs at least 2 samples per batch")
    both = torch.cat((z, prior))
    distances = torch.cdist(both, both).square()
    base = 2.0 * dim
    gram = torch.zeros_like(distances)
    for scale in _MMD_SCALES:
        c = base * scale
        gram = gram + (c / (c + distances) if kernel == "imq" else torch.exp(-distances / c))
    off_diagonal = 1.0 - torch.eye(n, device=z.device, dtype=z.dtype)
    k_zz, k_pp, k_zp = gram[:n, :n], gram[n:, n:], gram[:n, n:]
    within = ((k_zz + k_pp) * off_diagonal).sum() / (n * (n - 1))
    return within - 2.0 * k_zp.mean()


class _AutoEncoder(FlowSynthModel):
    """Encoder, decoder and regressor; subclasses define the latent (:meth:`_latent`)."""

    has_decoder = True
    #: encoder outputs per latent dimension: 1 (deterministic) or 2 (mean and log-variance)
    _outputs_per_dim = 1
    #: name of the latent regulariser in the loss dict
    _penalty_name = "kl"

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        latent = config.latent_dim
        conv = dict(channels=config.channels, layers=config.conv_layers, kernel=config.kernel,
                    dilation_base=config.dilation_base, hidden=config.hidden,
                    dense_layers=config.dense_layers)
        self.encoder = ConvEncoder(config.n_mels, config.n_frames,
                                   self._outputs_per_dim * latent, dropout=config.dropout, **conv)
        self.decoder = ConvDecoder(config.n_mels, config.n_frames, latent, **conv)
        self._build_regressor()

    def _build_regressor(self) -> None:
        config = self.config
        self.regressor = DenseStack([config.latent_dim, config.regressor_hidden,
                                     config.n_params], config.dropout)
        init_weights(self.regressor)

    # --- latent --------------------------------------------------------------------------

    def _latent(self, mel: Tensor, sample: bool) -> LatentSample:
        """The latent of a batch; ``sample=False`` is the deterministic (posterior mean) path."""
        return LatentSample(self.encoder(mel), None)

    def _encode(self, mel: Tensor) -> Tensor:
        return self._latent(mel, sample=False).z

    def _decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    # --- regression ----------------------------------------------------------------------

    def _params_from_latent(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.regressor(z))

    def _regression_terms(self, z: Tensor, params: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        """Loss terms of the regressor and its prediction (for the diagnostics)."""
        predicted = torch.sigmoid(self.regressor(z))
        nll = -gaussian_log_prob(params, predicted, self.config.reg_sigma).sum(dim=1).mean()
        return {"reg": nll}, predicted

    # --- loss ----------------------------------------------------------------------------

    def _loss(self, mel: Tensor, params: Tensor, tags: Tensor | None,
              beta: float) -> dict[str, Tensor]:
        latent = self._latent(mel, sample=True)
        reconstruction = self.decoder(latent.z)
        squared = (reconstruction - mel).square()
        terms = {"recon": 0.5 * squared.flatten(1).sum(dim=1).mean()}
        if latent.penalty is not None:
            terms[self._penalty_name] = beta * self._penalty_weight() * latent.penalty
            terms[f"{self._penalty_name}_unweighted"] = latent.penalty.detach()
        regression, predicted = self._regression_terms(latent.z, params)
        terms.update(regression)
        terms.update(self._extra_terms(latent.z, tags, beta))
        terms["mel_mse"] = squared.mean().detach()
        terms["param_mse"] = F.mse_loss(predicted, params).detach()
        return terms

    def _penalty_weight(self) -> float:
        return 1.0

    def _extra_terms(self, z: Tensor, tags: Tensor | None, beta: float) -> dict[str, Tensor]:
        """Further loss terms of a subclass (Flow_dis's tag targets); none here."""
        return {}


class AE(_AutoEncoder):
    """``'ae'``: deterministic auto-encoder without latent regularisation."""


class VAE(_AutoEncoder):
    """``'vae'``: Gaussian posterior with the analytic KL to N(0, I)."""

    _outputs_per_dim = 2

    def _posterior(self, mel: Tensor) -> tuple[Tensor, Tensor]:
        mean, logvar = self.encoder(mel).chunk(2, dim=1)
        return mean, logvar.clamp(*_LOGVAR_RANGE)

    def _latent(self, mel: Tensor, sample: bool) -> LatentSample:
        mean, logvar = self._posterior(mel)
        if not sample:
            return LatentSample(mean, None)
        z = mean + torch.randn_like(mean) * (0.5 * logvar).exp()
        return LatentSample(z, gaussian_kl(mean, logvar).mean())

    def sample_latent(self, mel: Tensor | np.ndarray, count: int,
                      generator: torch.Generator | None = None) -> Tensor | None:
        mel = self._check_mel(mel)
        if mel.shape[0] != 1 or count < 1:
            raise ValueError(f"sample_latent takes one log-mel and count >= 1, got a batch of "
                             f"{mel.shape[0]} and count {count}")
        eps = torch.randn((count, self.latent_dim), generator=generator)
        with torch.no_grad():  # the encoder runs once; only the draws are per sample
            return self._posterior_draws(mel, eps)

    def _posterior_draws(self, mel: Tensor, eps: Tensor) -> Tensor:
        """Latents of one sound for the standard-normal draws ``eps`` ``(count, latent_dim)``."""
        mean, logvar = self._posterior(mel)
        return mean + eps * (0.5 * logvar).exp()


class WAE(_AutoEncoder):
    """``'wae'``: deterministic encoder, MMD to N(0, I) weighted by ``config.mmd_weight``."""

    _penalty_name = "mmd"

    def _latent(self, mel: Tensor, sample: bool) -> LatentSample:
        z = self.encoder(mel)
        if not sample:
            return LatentSample(z, None)
        return LatentSample(z, mmd(z, torch.randn_like(z), self.config.mmd_kernel))

    def _penalty_weight(self) -> float:
        return self.config.mmd_weight


class VAEFlow(VAE):
    """``'vae_flow'``: the VAE posterior refined by ``config.iaf_steps`` IAF steps."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.iaf = IAFPosterior(config.latent_dim, config.iaf_steps, config.iaf_hidden)

    def _flow_posterior(self, mel: Tensor, sample: bool) -> tuple[Tensor, Tensor | None]:
        """``z_K`` and ``log q(z_K | x)`` per row (None on the deterministic path)."""
        mean, logvar = self._posterior(mel)
        if not sample:
            return self.iaf(mean)[0], None
        std = (0.5 * logvar).exp()
        eps = torch.randn_like(mean)
        z0 = mean + eps * std
        # log N(z0; mean, std^2) = sum(-eps^2/2 - log std - log(2 pi)/2)
        log_q0 = -(0.5 * eps.square() + 0.5 * logvar + 0.5 * math.log(2 * math.pi)).sum(dim=1)
        z, ladj = self.iaf(z0)
        return z, log_q0 - ladj

    def _posterior_draws(self, mel: Tensor, eps: Tensor) -> Tensor:
        return self.iaf(super()._posterior_draws(mel, eps))[0]

    def _latent(self, mel: Tensor, sample: bool) -> LatentSample:
        z, log_q = self._flow_posterior(mel, sample)
        if log_q is None:
            return LatentSample(z, None)
        return LatentSample(z, (log_q - standard_normal_log_prob(z)).mean())
