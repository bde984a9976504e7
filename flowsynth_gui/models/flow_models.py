"""The paper's own models: Flow_reg (regression flow) and Flow_dis (plus disentangling flow).

**Flow_reg** (``'flow_reg'``, paper section 3.2) is a VAE-flow whose regressor is an invertible
flow f: z → v on the same dimension (``latent = n_params``) ending in a sigmoid, with a
Gaussian error model ``v = f(z) + eps``, ``eps ~ N(0, diag(sigma^2))`` (sigma learnt per
parameter, or fixed with ``learn_sigma=False``). Its loss adds to the VAE-flow terms:

- ``'reg'`` — ``-log N(v; f(z), sigma^2)`` summed over parameters;
- ``'flow'`` — ``-flow_logdet_weight * log|det df/dz|`` at the encoded z (eq. 13, "posterior
  parameterisation"). With the uniform prior on (0, 1)^P that the sigmoid's range suggests,
  eq. 13's KL reduces to this term (``log q0`` does not depend on f): maximising it pushes the
  distribution of f(z) towards covering the parameter cube. That is what makes ``f^-1`` place
  an arbitrary preset inside the region of latent space the encoder uses. The encoded z is
  detached for this term so that it shapes f only; the encoder is shaped by the ELBO and
  the regression term.

Both directions of f cost the same (affine couplings, see ``bijections.py``): z → v for every
cursor move, v → z to place presets on the map. ``latent_map()`` returns a NumPy snapshot of
f for that path, about 2.5 times faster than torch on single rows.

**Flow_dis** (``'flow_dis'``, section 3.3) inserts a disentangling flow g after the posterior
flow: ``z_K → g → z`` and both the decoder and the regression flow read ``z`` (the order of
the reference code). Its prior is conditioned on the tags: for a sound tagged on pair ``j``
(``j < n_tags``, TAG_PAIRS order) latent dimension ``j`` targets ``N(-tag_mu, tag_sigma^2)``
for the negative tag and ``N(+tag_mu, tag_sigma^2)`` for the positive one; every other
(sound, dimension) keeps N(0, 1) (eq. 16). The KL to this prior is split into ``'kl'`` (to
N(0, I), as Flow_reg) and ``'dis'`` (the change of prior on tagged dimensions), both times
``beta``; ``'dis'`` also times ``dis_weight`` (default 10, as the reference code). A tag is one
bit about a sound whose reconstruction term sums over 11,136 mel bins: at weight 1 its pull on
the latent is lost in the reconstruction gradients for many epochs.

The defaults ``tag_mu = 1.4``, ``tag_sigma = 0.5`` match where tagged sounds would sit anyway
if a latent dimension were an N(0, 1) copy of the tag's descriptor: tags mark the top and
bottom fifths of a descriptor (``features/tags.py``), and the top fifth of N(0, 1) has mean
1.40 and standard deviation 0.46. The sliders then keep the prior's scale.

**The latent space the app uses** is Flow_dis's disentangled ``z``: ``encode`` returns it,
``decode`` and ``params_from_latent`` read it, and ``latent_from_params`` is ``f^-1`` alone —
no pass through g is needed, because g sits before both the decoder and f. Dimensions
``0 .. n_tags-1`` are the semantic sliders (Dark→Bright, Constant→Moving, Clean→Dirty,
Soft→Aggressive with the default TAG_PAIRS: negative tag at negative values). ``entangle``
and ``disentangle`` convert to and from the posterior-flow space ``z_K`` when needed.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from flowsynth_gui.models.autoencoders import VAEFlow
from flowsynth_gui.models.base import gaussian_log_prob
from flowsynth_gui.models.bijections import CouplingFlow, RegressionFlow
from flowsynth_gui.models.config import ModelConfig
from flowsynth_gui.models.latent_map import LatentParamMap

__all__ = ["FlowDis", "FlowReg"]

# The learnt error std never falls below this: the likelihood would otherwise reward
# collapsing sigma on parameters the regression fits (nearly) exactly.
_SIGMA_FLOOR = 1e-3


class FlowReg(VAEFlow):
    """``'flow_reg'``: VAE-flow with an invertible regression flow f: z → v in (0, 1)^P."""

    invertible = True

    def _build_regressor(self) -> None:
        config = self.config
        self.regression_flow = RegressionFlow(config.n_params, config.flow_steps,
                                              config.flow_hidden, config.logit_eps, config.seed)
        log_sigma = torch.full((config.n_params,), math.log(config.reg_sigma))
        if config.learn_sigma:
            self.log_sigma = nn.Parameter(log_sigma)
        else:
            self.register_buffer("log_sigma", log_sigma)

    @property
    def sigma(self) -> Tensor:
        """Std of the Gaussian error model on each parameter."""
        return self.log_sigma.exp().clamp_min(_SIGMA_FLOOR)

    def latent_map(self) -> LatentParamMap:
        """A NumPy snapshot of f for the app's cursor path (see ``latent_map.py``)."""
        return LatentParamMap.from_flow(self.regression_flow)

    def _params_from_latent(self, z: Tensor) -> Tensor:
        return self.regression_flow.call(z)

    def _latent_from_params(self, params: Tensor) -> Tensor:
        return self.regression_flow.inverse(params)

    def regression_loss(self, z: Tensor, params: Tensor) -> Tensor:
        """The training objective's terms for f alone, on given latents (slider alignment
        fine-tunes f on it with the encoder frozen)."""
        terms, _ = self._regression_terms(z, params)
        return sum(terms.values(), z.new_zeros(()))

    def _regression_terms(self, z: Tensor, params: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        predicted, _ = self.regression_flow(z)
        nll = -gaussian_log_prob(params, predicted, self.sigma).sum(dim=1).mean()
        terms = {"reg": nll}
        if self.config.flow_logdet_weight:
            _, ladj = self.regression_flow(z.detach())
            terms["flow"] = -self.config.flow_logdet_weight * ladj.mean()
        return terms, predicted


class FlowDis(FlowReg):
    """``'flow_dis'``: Flow_reg plus a disentangling flow whose first dims follow the tags."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.disentangling_flow = CouplingFlow(config.latent_dim, config.dis_steps,
                                               config.dis_hidden, seed=config.seed + 1)

    def _flow_posterior(self, mel: Tensor, sample: bool) -> tuple[Tensor, Tensor | None]:
        z_k, log_q = super()._flow_posterior(mel, sample)
        z, ladj = self.disentangling_flow(z_k)
        return z, None if log_q is None else log_q - ladj

    def _posterior_draws(self, mel: Tensor, eps: Tensor) -> Tensor:
        return self.disentangling_flow(super()._posterior_draws(mel, eps))[0]

    def _extra_terms(self, z: Tensor, tags: Tensor | None, beta: float) -> dict[str, Tensor]:
        if tags is None:
            return {"dis": z.new_zeros(())}
        n_tags = self.config.n_tags
        semantic = z[:, :n_tags]
        tagged = tags != 0
        target = gaussian_log_prob(semantic, self.config.tag_mu * tags.to(z.dtype),
                                   self.config.tag_sigma)
        standard = gaussian_log_prob(semantic, 0.0, 1.0)
        # Tagged (sound, dimension) pairs swap the N(0, 1) prior for their tag's target.
        change = torch.where(tagged, standard - target, torch.zeros_like(semantic))
        return {"dis": beta * self.config.dis_weight * change.sum(dim=1).mean()}

    def entangle(self, z: Tensor | np.ndarray) -> Tensor:
        """Disentangled latent (the app's space) → posterior-flow latent ``z_K``."""
        with torch.no_grad():
            return self.disentangling_flow.inverse(self._check_rows(z, self.latent_dim, "latent"))

    def disentangle(self, z_k: Tensor | np.ndarray) -> Tensor:
        """Posterior-flow latent ``z_K`` → disentangled latent (the app's space)."""
        with torch.no_grad():
            z_k = self._check_rows(z_k, self.latent_dim, "latent")
            return self.disentangling_flow(z_k)[0]
