"""The paper's direct-inference baselines: spectrogram → parameters, MSE loss (section 4.2).

- ``'mlp'`` — :class:`MLPRegressor`: the flattened log-mel through ``mlp_layers`` dense layers
  (``hidden`` units, ELU, batch norm, dropout), sigmoid out.
- ``'cnn'`` / ``'rescnn'`` — :class:`CNNRegressor`: the strided dilated CNN (or its residual
  version) followed by a ``dense_layers``-layer MLP, sigmoid out.

These models have no latent audio space: their "latent" is the pre-sigmoid output (one value
per parameter), so ``encode`` / ``params_from_latent`` still compose to ``predict_params``, but
``decode`` and ``latent_from_params`` are refused.

>>> import torch
>>> from flowsynth_gui.models.config import ModelConfig
>>> cfg = ModelConfig("cnn", n_params=4, channels=4, conv_layers=2, kernel=3, hidden=16)
>>> CNNRegressor(cfg).eval().predict_params(torch.zeros(2, 128, 87)).shape
torch.Size([2, 4])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from flowsynth_gui.models.base import FlowSynthModel
from flowsynth_gui.models.config import ModelConfig
from flowsynth_gui.models.nets import ConvEncoder, DenseStack, init_weights

__all__ = ["CNNRegressor", "MLPRegressor"]


class _DirectRegressor(FlowSynthModel):
    """Shared part: a network to pre-sigmoid logits; the latent is those logits."""

    def _network(self, mel: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _encode(self, mel: Tensor) -> Tensor:
        return self._network(mel)

    def _params_from_latent(self, z: Tensor) -> Tensor:
        return torch.sigmoid(z)

    def _loss(self, mel: Tensor, params: Tensor, tags: Tensor | None,
              beta: float) -> dict[str, Tensor]:
        mse = F.mse_loss(torch.sigmoid(self._network(mel)), params)
        return {"reg": mse, "param_mse": mse.detach()}


class MLPRegressor(_DirectRegressor):
    """``'mlp'``: flattened log-mel → ``mlp_layers`` dense layers → sigmoid."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        sizes = ([config.n_mels * config.n_frames] + [config.hidden] * (config.mlp_layers - 1)
                 + [config.n_params])
        self.net = DenseStack(sizes, config.dropout)
        init_weights(self)

    @property
    def latent_dim(self) -> int:
        return self.config.n_params

    def _network(self, mel: Tensor) -> Tensor:
        return self.net(mel.flatten(1))


class CNNRegressor(_DirectRegressor):
    """``'cnn'`` and ``'rescnn'``: the paper's CNN (or ResCNN) → 3-layer MLP → sigmoid."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.net = ConvEncoder(
            config.n_mels, config.n_frames, config.n_params, channels=config.channels,
            layers=config.conv_layers, kernel=config.kernel, dilation_base=config.dilation_base,
            hidden=config.hidden, dense_layers=config.dense_layers, dropout=config.dropout,
            residual=config.kind == "rescnn")

    @property
    def latent_dim(self) -> int:
        return self.config.n_params

    def _network(self, mel: Tensor) -> Tensor:
        return self.net(mel)
