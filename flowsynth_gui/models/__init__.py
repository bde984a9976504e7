"""FlowSynth's models (paper sections 3 and 4.2), behind one interface.

- :mod:`.config` — :class:`ModelConfig` (JSON-serialisable), the paper's and the CPU sizes.
- :mod:`.base` — :class:`FlowSynthModel`: ``encode``, ``params_from_latent``,
  ``latent_from_params``, ``decode``, ``predict_params``, ``loss``.
- :mod:`.nets` — the CNN / ResCNN encoders, the mirrored decoder, dense stacks.
- :mod:`.bijections` — IAF posterior (zuko), affine couplings, sigmoid output.
- :mod:`.baselines` — MLP, CNN, ResCNN (spectrogram → parameters).
- :mod:`.autoencoders` — AE, VAE, WAE, VAE-flow with an MLP regressor.
- :mod:`.flow_models` — Flow_reg and Flow_dis.
- :mod:`.latent_map` — :class:`LatentParamMap`, a NumPy snapshot of the regression flow for the
  app's per-cursor-move z ↔ v path.
- :mod:`.registry` — :func:`build_model` for every kind.
- :mod:`.checkpoint` — weights + JSON sidecar, loaded without executing code.

This package imports torch, zuko, numpy and FlowSynth's parameter and feature modules; never
training code, Qt or sounddevice.
"""

from flowsynth_gui.models.base import (
    DIAGNOSTIC_TERMS,
    FlowSynthModel,
    NoDecoder,
    NotInvertible,
)
from flowsynth_gui.models.checkpoint import (
    CheckpointError,
    CheckpointMetadata,
    LoadedCheckpoint,
    load_checkpoint,
    read_checkpoint_metadata,
    save_checkpoint,
    update_training_figures,
)
from flowsynth_gui.models.config import KINDS, ModelConfig, cpu_config, paper_config
from flowsynth_gui.models.flow_models import FlowDis, FlowReg
from flowsynth_gui.models.latent_map import LatentParamMap
from flowsynth_gui.models.registry import build_model

__all__ = [
    "DIAGNOSTIC_TERMS",
    "KINDS",
    "CheckpointError",
    "CheckpointMetadata",
    "FlowDis",
    "FlowReg",
    "FlowSynthModel",
    "LatentParamMap",
    "LoadedCheckpoint",
    "ModelConfig",
    "NoDecoder",
    "NotInvertible",
    "build_model",
    "cpu_config",
    "load_checkpoint",
    "paper_config",
    "read_checkpoint_metadata",
    "save_checkpoint",
    "update_training_figures",
]
