"""Model configuration: one small JSON-serialisable dataclass for every model kind.

A :class:`ModelConfig` names the model family (``kind``) and every size that shapes its
weights, so that a checkpoint's sidecar can rebuild the exact architecture before loading the
weights (no pickled modules). Two presets are provided:

- :func:`paper_config` — the sizes of the paper (section 4.2): CNN with 128 channels, kernel 7,
  dense layers of 2048 units; the auto-encoders halve channels and units for equal capacity;
  16 IAF steps. Far too slow to train on the 2-core machine FlowSynth targets.
- :func:`cpu_config` — FlowSynth's default, sized so that Flow_dis at 32 parameters runs about
  25 epochs of ~20,000 sounds in an hour on 2 CPU cores (see ``benchmarks/bench_models.py``).

>>> config = cpu_config("flow_dis", n_params=32)
>>> ModelConfig.from_dict(config.to_dict()) == config
True
>>> config.latent_dim
32
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

__all__ = [
    "BASELINE_KINDS",
    "AUTOENCODER_KINDS",
    "FLOW_KINDS",
    "KINDS",
    "ModelConfig",
    "cpu_config",
    "paper_config",
]

BASELINE_KINDS = ("mlp", "cnn", "rescnn")
AUTOENCODER_KINDS = ("ae", "vae", "wae", "vae_flow")
FLOW_KINDS = ("flow_reg", "flow_dis")
KINDS = BASELINE_KINDS + AUTOENCODER_KINDS + FLOW_KINDS

_MMD_KERNELS = ("imq", "rbf")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and loss settings of one model; saved verbatim in checkpoint sidecars.

    Fields a kind does not use are ignored by it (e.g. ``iaf_steps`` for a CNN baseline) but
    still saved, so that a config reads the same whatever the kind.
    """

    kind: str
    n_params: int
    # Input: normalised log-mel of a 4 s sound (DESIGN.md section 2).
    n_mels: int = 128
    n_frames: int = 87
    # Latent size; 0 means "number of synth parameters", as in the paper.
    latent: int = 0
    # Convolutional encoder (and its mirrored decoder): layer l has dilation base**l.
    channels: int = 128
    conv_layers: int = 5
    kernel: int = 7
    dilation_base: int = 2
    # Dense layers: `dense_layers` after the convolutions, `mlp_layers` in the MLP baseline.
    hidden: int = 2048
    dense_layers: int = 3
    mlp_layers: int = 5
    dropout: float = 0.3
    # The auto-encoders' 2-layer MLP regressor z -> v.
    regressor_hidden: int = 256
    # Posterior IAF (vae_flow, flow_reg, flow_dis): zuko masked autoregressive steps.
    iaf_steps: int = 16
    iaf_hidden: int = 64
    # Regression flow f: z -> v (affine couplings, then a sigmoid).
    flow_steps: int = 8
    flow_hidden: int = 128
    # Disentangling flow on z (flow_dis).
    dis_steps: int = 4
    dis_hidden: int = 64
    # Losses.
    reg_sigma: float = 0.1  # std of the Gaussian error model on v (initial value if learnt)
    learn_sigma: bool = True
    flow_logdet_weight: float = 1.0  # weight of the regression flow's log-det term (eq. 13)
    mmd_weight: float = 100.0
    mmd_kernel: str = "imq"
    n_tags: int = 4
    tag_mu: float = 1.4  # targets N(-mu*, sigma*) / N(+mu*, sigma*) of tagged dimensions
    tag_sigma: float = 0.5
    dis_weight: float = 10.0  # weight of the tag targets (the reference code uses 10 too)
    # v at exactly 0 or 1 is clamped to (eps, 1 - eps) before the logit (see bijections.py).
    logit_eps: float = 1e-3
    # Seeds the fixed permutations between coupling steps (they are also saved as buffers).
    seed: int = 0

    def __post_init__(self) -> None:
        problems = []
        if self.kind not in KINDS:
            problems.append(f"kind {self.kind!r} is not one of {', '.join(KINDS)}")
        sizes = ("n_params", "n_mels", "n_frames", "channels", "conv_layers", "kernel", "hidden",
                 "dense_layers", "mlp_layers", "regressor_hidden", "iaf_hidden", "flow_hidden",
                 "dis_hidden", "dilation_base")
        problems += [f"{name} must be a positive integer, got {getattr(self, name)!r}"
                     for name in sizes if not _positive_int(getattr(self, name))]
        counts = ("latent", "iaf_steps", "flow_steps", "dis_steps", "n_tags", "seed")
        problems += [f"{name} must be an integer >= 0, got {getattr(self, name)!r}"
                     for name in counts if not _positive_int(getattr(self, name), allow_zero=True)]
        if _positive_int(self.kernel) and self.kernel % 2 == 0:
            problems.append(f"kernel must be odd (symmetric padding), got {self.kernel}")
        if not 0.0 <= self.dropout < 1.0:
            problems.append(f"dropout must be in [0, 1), got {self.dropout}")
        if self.mmd_kernel not in _MMD_KERNELS:
            problems.append(f"mmd_kernel must be one of {_MMD_KERNELS}, got {self.mmd_kernel!r}")
        if not 0.0 < self.logit_eps < 0.5:
            problems.append(f"logit_eps must be in (0, 0.5), got {self.logit_eps}")
        for name in ("reg_sigma", "tag_sigma"):
            if not getattr(self, name) > 0.0:
                problems.append(f"{name} must be > 0, got {getattr(self, name)}")
        if self.kind in FLOW_KINDS and _positive_int(self.n_params) and (
                self.latent not in (0, self.n_params)):
            problems.append("the regression flow is a bijection: latent must equal n_params "
                            f"(or 0), got latent={self.latent}, n_params={self.n_params}")
        if self.kind == "flow_dis" and _positive_int(self.n_tags, True) and (
                self.latent_dim < self.n_tags or self.n_tags == 0):
            problems.append(f"flow_dis needs 1 <= n_tags <= latent, got n_tags={self.n_tags}, "
                            f"latent={self.latent_dim}")
        if self.kind in FLOW_KINDS + ("vae_flow",) and _positive_int(self.n_params) and (
                self.latent_dim < 2):
            problems.append("flows need a latent of at least 2 dimensions")
        if problems:
            raise ValueError("ModelConfig: " + "; ".join(problems))

    @property
    def latent_dim(self) -> int:
        """The latent size actually used (``latent``, or ``n_params`` when 0)."""
        return self.latent or self.n_params

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelConfig:
        """Rebuild from a sidecar; unknown keys are an error, missing ones take defaults."""
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"ModelConfig.from_dict: unknown keys {unknown}")
        missing = [name for name in ("kind", "n_params") if name not in data]
        if missing:
            raise ValueError(f"ModelConfig.from_dict: missing keys {missing}")
        converted: dict[str, Any] = {}
        for name, value in data.items():
            kind = known[name]
            if kind == "bool":
                if not isinstance(value, bool):
                    raise ValueError(f"ModelConfig.from_dict: {name} must be true or false")
                converted[name] = value
            elif kind == "int":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(f"ModelConfig.from_dict: {name} must be an integer")
                converted[name] = value
            elif kind == "float":
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"ModelConfig.from_dict: {name} must be a number")
                converted[name] = float(value)
            else:
                converted[name] = str(value)
        return cls(**converted)

    def with_changes(self, **changes: Any) -> ModelConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)


def _positive_int(value: object, allow_zero: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    return value >= 0 if allow_zero else value > 0


def paper_config(kind: str, n_params: int) -> ModelConfig:
    """The paper's sizes (section 4.2); the auto-encoders halve channels and dense units.

    The paper gives 16 steps for the posterior IAF and the regression flow; the disentangling
    flow's length is not given, 4 is the reference code's default.
    """
    if kind in BASELINE_KINDS:
        return ModelConfig(kind=kind, n_params=n_params)
    return ModelConfig(kind=kind, n_params=n_params, channels=64, hidden=1024, iaf_steps=16,
                       flow_steps=16, dis_steps=4)


def cpu_config(kind: str, n_params: int) -> ModelConfig:
    """FlowSynth's default sizes: Flow_dis at 32 parameters trains in about an hour on 2 cores.

    The paper's rule is kept (the auto-encoders halve the baselines' channels and dense units
    for equal capacity) at a quarter of its widths: 32 channels and 512 units for the
    baselines, 16 channels and 256 units for the auto-encoders; kernel 5 instead of 7, 8 IAF
    steps instead of 16, 6 regression couplings, 4 disentangling couplings. Dropout is 0.1:
    these small networks underfit rather than overfit a 16,000-sound training split.

    Measured with ``benchmarks/bench_models.py`` on the project's machine (2-core AMD EPYC,
    quiet): Flow_dis at 32 parameters trains at 117-127 sounds/s on 2 threads (batch 64),
    about 130 s per epoch of 16,000 sounds, so about 25 epochs in an hour with data loading;
    mel → preset 9 ms. The paper's sizes train at 14 sounds/s (3 epochs an hour).
    """
    common: dict[str, Any] = dict(kind=kind, n_params=n_params, kernel=5, dropout=0.1,
                                  regressor_hidden=128, iaf_steps=8, iaf_hidden=64,
                                  flow_steps=6, flow_hidden=128, dis_steps=4, dis_hidden=64)
    if kind in BASELINE_KINDS:
        return ModelConfig(channels=32, hidden=512, **common)
    return ModelConfig(channels=16, hidden=256, **common)
