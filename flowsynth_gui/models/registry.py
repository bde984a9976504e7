"""Build any model from its config: the single entry point for the trainer, app and loader.

>>> from flowsynth_gui.models.config import ModelConfig
>>> model = build_model(ModelConfig("flow_reg", n_params=4, channels=4, conv_layers=2,
...                                 kernel=3, hidden=16, iaf_steps=1, flow_steps=2))
>>> type(model).__name__, model.invertible
('FlowReg', True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowsynth_gui.models.autoencoders import AE, VAE, WAE, VAEFlow
from flowsynth_gui.models.base import FlowSynthModel
from flowsynth_gui.models.baselines import CNNRegressor, MLPRegressor
from flowsynth_gui.models.config import KINDS, ModelConfig
from flowsynth_gui.models.flow_models import FlowDis, FlowReg

__all__ = ["MODEL_CLASSES", "build_model"]

MODEL_CLASSES: dict[str, type[FlowSynthModel]] = {
    "mlp": MLPRegressor,
    "cnn": CNNRegressor,
    "rescnn": CNNRegressor,
    "ae": AE,
    "vae": VAE,
    "wae": WAE,
    "vae_flow": VAEFlow,
    "flow_reg": FlowReg,
    "flow_dis": FlowDis,
}
assert set(MODEL_CLASSES) == set(KINDS), "every config kind needs a model class"


def build_model(config: ModelConfig | Mapping[str, Any]) -> FlowSynthModel:
    """A freshly initialised model (train mode) for ``config`` (a ModelConfig or its dict)."""
    if not isinstance(config, ModelConfig):
        config = ModelConfig.from_dict(config)
    return MODEL_CLASSES[config.kind](config)
