"""The parameter posterior: a conditional normalizing flow p(parameters | sound) that proposes
presets instead of averaging them.

The auto-encoders predict the mean of every preset that sounds alike, which is often no preset
at all; this flow models the whole distribution of presets given a sound's embedding, so its
samples are presets that each could have made the sound. It is the paper's idea (normalizing
flows for parameter inference) used to sample rather than to regress.

Model: a neural spline flow (zuko's ``NSF``) over the parameters in logit space, standardised,
conditioned on the sound index's embedding (PCA of the linear mel), standardised too. The
couplings are two-pass (``passes=2``) so that sampling costs one network call per step, not
one per parameter: 64 candidates in a few milliseconds. :meth:`ParameterPosterior.log_prob`
is the density over ``[0, 1]^P`` itself (the logit and the standardisation are counted in the
Jacobian), so test log-likelihoods compare across models.

It can be trained on canonical presets (:func:`~flowsynth_gui.synth.symmetry.canonical`:
inaudible knobs at their defaults, the never-heard ones frozen, not modelled); the shipped one
is not, which measured better (``docs/RESULTS.md``).

Checkpoints are a weights file (``torch.load(weights_only=True)``) and a JSON sidecar with the
config, the parameter names, the synth version and the fingerprint of the embedding (index
basis); :func:`load_posterior` refuses one that does not fit the running synth or index.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, fields
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import zuko
from torch import nn

from flowsynth_gui import __version__
from flowsynth_gui.fileio import atomic_path, atomic_write_text
from flowsynth_gui.models.checkpoint import (
    CheckpointError,
    checkpoint_paths,
    file_digest,
    read_sidecar_json,
    read_weights,
)
from flowsynth_gui.synth import params as synth_params

__all__ = ["POSTERIOR_FORMAT", "LoadedPosterior", "ParameterPosterior", "PosteriorConfig",
           "load_posterior", "save_posterior"]

POSTERIOR_FORMAT = "flowsynth-param-posterior"
POSTERIOR_FORMAT_VERSION = 1


@dataclass(frozen=True)
class PosteriorConfig:
    """The flow's sizes; saved verbatim in the sidecar."""

    n_params: int
    context: int  # size of the sound embedding it is conditioned on
    transforms: int = 8
    hidden: int = 256
    hidden_layers: int = 2
    bins: int = 8
    logit_eps: float = 5e-3  # values are clamped to [eps, 1 - eps]; samples that close snap
    dequantise: float = 0.1  # training noise on the logits (std) against point masses
    frozen: tuple[int, ...] = ()  # parameters never heard in training: fixed, not modelled
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("n_params", "context", "transforms", "hidden", "hidden_layers", "bins"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"PosteriorConfig: {name} must be a positive integer, "
                                 f"got {value!r}")
        if self.n_params < 2:
            raise ValueError("PosteriorConfig: the coupling flow needs at least 2 parameters")
        if not 0.0 < self.logit_eps < 0.5 or self.dequantise < 0:
            raise ValueError(f"PosteriorConfig: logit_eps must be in (0, 0.5) and dequantise "
                             f">= 0, got {self.logit_eps}, {self.dequantise}")
        object.__setattr__(self, "frozen", tuple(sorted(int(i) for i in self.frozen)))
        if any(not 0 <= i < self.n_params for i in self.frozen) or self.live < 2:
            raise ValueError(f"PosteriorConfig: frozen indices must lie in [0, n_params) and "
                             f"leave at least 2 modelled parameters, got {self.frozen}")

    @property
    def live(self) -> int:
        """How many parameters the flow models."""
        return self.n_params - len(set(self.frozen))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PosteriorConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"PosteriorConfig: unknown keys {unknown}")
        return cls(**{**data, "frozen": tuple(data.get("frozen", ()))})


class _Spline(zuko.transforms.MonotonicRQSTransform):
    """zuko's monotonic rational-quadratic spline (1.6, the same knots), with its two softmaxes
    written as exp / sum: torch's CPU softmax over a last axis of 8 bins takes ~240 µs on
    (64, 32, 8) against ~46 µs, and was a third of the time of drawing 64 presets."""

    def __init__(self, widths: torch.Tensor, heights: torch.Tensor,
                 derivatives: torch.Tensor, bound: float = 5.0, slope: float = 1e-3,
                 **kwargs: Any) -> None:
        zuko.transforms.Transform.__init__(self, **kwargs)
        log_slope = math.log(slope)
        widths = _normalised(widths / (1 + abs(2 * widths / log_slope)))
        heights = _normalised(heights / (1 + abs(2 * heights / log_slope)))
        derivatives = derivatives / (1 + abs(derivatives / log_slope))
        self.horizontal = bound * (2 * torch.cumsum(widths, dim=-1) - 1)
        self.vertical = bound * (2 * torch.cumsum(heights, dim=-1) - 1)
        self.derivatives = torch.exp(nn.functional.pad(derivatives, (1, 1), value=0))


def _normalised(logits: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis, a zero bin in front (the spline's first knot)."""
    weights = torch.exp(logits - logits.amax(-1, keepdim=True))
    return nn.functional.pad(weights / weights.sum(-1, keepdim=True), (1, 0), value=0)


class ParameterPosterior(nn.Module):
    """p(v | e) over normalised parameters ``v`` in [0, 1]^P given an embedding ``e``.

    Parameters listed in ``config.frozen`` (inaudible in every training preset) are not
    modelled: samples carry their training value and densities ignore them.
    """

    def __init__(self, config: PosteriorConfig) -> None:
        super().__init__()
        self.config = config
        with torch.random.fork_rng(devices=[]):  # seeded weights, the caller's RNG untouched
            torch.manual_seed(config.seed)
            # zuko's NSF, with the faster spline: the same modules, so the same checkpoints
            self.flow = zuko.flows.MAF(
                config.live, config.context, transforms=config.transforms,
                univariate=partial(_Spline, slope=1e-3),
                shapes=[(config.bins,), (config.bins,), (config.bins - 1,)],
                hidden_features=[config.hidden] * config.hidden_layers, passes=2)
        live = [i for i in range(config.n_params) if i not in config.frozen]
        self.register_buffer("live_rows", torch.tensor(live, dtype=torch.long))
        self.register_buffer("frozen_values", torch.zeros(config.n_params))
        # Standardisation of the context and of the logits, fitted on the training split.
        self.register_buffer("context_mean", torch.zeros(config.context))
        self.register_buffer("context_scale", torch.ones(config.context))
        self.register_buffer("logit_mean", torch.zeros(config.live))
        self.register_buffer("logit_scale", torch.ones(config.live))

    def fit_scaling(self, values: torch.Tensor, embeddings: torch.Tensor) -> None:
        """Set the standardisation (and the frozen values) from training data."""
        self.frozen_values.copy_(values[0])
        logits = self._logit(values[:, self.live_rows])
        self.context_mean.copy_(embeddings.mean(0))
        self.context_scale.copy_(embeddings.std(0).clamp_min(1e-6))
        self.logit_mean.copy_(logits.mean(0))
        self.logit_scale.copy_(logits.std(0).clamp_min(1e-3))

    def _logit(self, values: torch.Tensor) -> torch.Tensor:
        eps = self.config.logit_eps
        v = values.clamp(eps, 1.0 - eps)
        return torch.log(v) - torch.log1p(-v)

    def _condition(self, embeddings: torch.Tensor) -> torch.Tensor:
        return (embeddings - self.context_mean) / self.context_scale

    def _standardised(self, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Modelled coordinates ``u`` of ``(N, P)`` values and log |du/dv| per row."""
        eps = self.config.logit_eps
        v = values[..., self.live_rows].clamp(eps, 1.0 - eps)
        u = (self._logit(v) - self.logit_mean) / self.logit_scale
        return u, -(torch.log(v) + torch.log1p(-v)).sum(-1) - self.logit_scale.log().sum()

    def log_prob(self, values: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
        """log p(v | e) per row, a density over the modelled parameters in [0, 1]."""
        u, jacobian = self._standardised(values)
        return self.flow(self._condition(embeddings)).log_prob(u) + jacobian

    def training_loss(self, values: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood of dequantised logits: presets pile up on defaults
        and bounds (point masses), which a density would otherwise chase without end."""
        u, jacobian = self._standardised(values)
        u = u + torch.randn_like(u) * (self.config.dequantise / self.logit_scale)
        return -(self.flow(self._condition(embeddings)).log_prob(u) + jacobian).mean()

    def sample(self, embedding: torch.Tensor, count: int, temperature: float = 1.0,
               ranked: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``count`` draws for one embedding ``(C,)``: values ``(count, P)`` and, when
        ``ranked``, their log-densities with the most likely first (that costs a second pass
        through the flow). ``temperature`` < 1 draws nearer the modes. Uses torch's global
        generator (seed it)."""
        distribution = self.flow(self._condition(embedding))
        u = distribution.transform.inv(distribution.base.sample((count,)) * temperature)
        live = torch.sigmoid(u * self.logit_scale + self.logit_mean)
        eps = self.config.logit_eps  # within eps of a bound is the bound (e.g. a silent osc)
        live = torch.where(live < 2 * eps, 0.0, torch.where(live > 1 - 2 * eps, 1.0, live))
        values = self.frozen_values.expand(count, -1).clone()
        values[:, self.live_rows] = live
        if not ranked:
            return values, None
        log_density = distribution.log_prob(u)
        order = torch.argsort(log_density, descending=True)
        return values[order], log_density[order]


# --- checkpoints ---------------------------------------------------------------------------

@dataclass(frozen=True)
class LoadedPosterior:
    """A posterior in eval mode with what it was trained for."""

    model: ParameterPosterior
    param_names: tuple[str, ...]
    embedding: str  # fingerprint of the embedding it is conditioned on (the index's basis)
    training: dict[str, Any]

    def propose(self, embedding: np.ndarray, count: int, seed: int = 0,
                temperature: float = 1.0, ranked: bool = True,
                ) -> tuple[np.ndarray, np.ndarray | None]:
        """``count`` presets for one sound embedding: values ``(count, P)`` float64 in [0, 1]
        and, when ``ranked``, their log-densities, most likely first (else None, in drawing
        order, at half the cost); reproducible per seed."""
        with torch.random.fork_rng(devices=[]), torch.inference_mode():
            torch.manual_seed(int(seed))
            e = torch.as_tensor(np.asarray(embedding, dtype=np.float32).ravel())
            values, log_density = self.model.sample(e, max(1, int(count)), temperature, ranked)
        return values.double().numpy(), (None if log_density is None
                                          else log_density.double().numpy())


def save_posterior(path: str | os.PathLike[str], model: ParameterPosterior,
                   param_names: tuple[str, ...], embedding: str,
                   training: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Write weights then sidecar, atomically; returns their paths."""
    weights_path, sidecar_path = checkpoint_paths(path)
    if len(param_names) != model.config.n_params:
        raise ValueError(f"save_posterior: {len(param_names)} names for "
                         f"{model.config.n_params} parameters")
    sidecar = {"format": POSTERIOR_FORMAT, "format_version": POSTERIOR_FORMAT_VERSION,
               "created_by": f"flowsynth_gui {__version__}", "config": asdict(model.config),
               "param_names": list(param_names),
               "synth_spec_version": synth_params.spec_version(), "embedding": embedding,
               "training": training or {}}
    json.dumps(sidecar, allow_nan=False)  # refuse bad figures before writing anything
    state = {k: t.detach().cpu().clone() for k, t in model.state_dict().items()}
    with atomic_path(weights_path, suffix=".pt") as tmp:
        torch.save(state, tmp)
        digest, size = file_digest(tmp)
    sidecar["weights"] = {"file": weights_path.name, "sha256": digest, "bytes": size}
    atomic_write_text(sidecar_path, json.dumps(sidecar, indent=1, allow_nan=False) + "\n")
    return weights_path, sidecar_path


def load_posterior(path: str | os.PathLike[str], param_names: tuple[str, ...] | None = None,
                   embedding: str | None = None) -> LoadedPosterior:
    """Load a posterior; :class:`CheckpointError` when it is not one, is corrupt, or was
    trained for another synth, another parameter set (``param_names``) or another
    embedding (``embedding``, the index's fingerprint)."""
    weights_path, sidecar_path = checkpoint_paths(path)
    data = _read_posterior_sidecar(sidecar_path)
    where = str(sidecar_path)
    if data["synth_spec_version"] != synth_params.spec_version():
        raise CheckpointError(f"{where}: trained for synth {data['synth_spec_version']!r}, "
                              f"this FlowSynth runs {synth_params.spec_version()!r}; retrain it "
                              "with `flowsynth train --model param_posterior`")
    names = tuple(data["param_names"])
    if param_names is not None and names != tuple(param_names):
        raise CheckpointError(f"{where}: a posterior over {len(names)} other parameters than "
                              f"the model's {len(param_names)}")
    if embedding is not None and data["embedding"] != embedding:
        raise CheckpointError(f"{where}: conditioned on another sound embedding than this "
                              "sound index's; retrain it on this index")
    try:
        config = PosteriorConfig.from_dict(data["config"])
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{where}: invalid config ({err})") from None
    if config.n_params != len(names):
        raise CheckpointError(f"{where}: {len(names)} names for {config.n_params} parameters")
    model = ParameterPosterior(config)
    model.load_state_dict(_read_weights(weights_path, data["weights"], model))
    return LoadedPosterior(_with_masks_applied(model.eval()), names, data["embedding"],
                           data.get("training") or {})


def _with_masks_applied(model: ParameterPosterior) -> ParameterPosterior:
    """For drawing only: each masked layer of the flow becomes a plain linear layer holding
    its masked weights. zuko multiplies weight and mask on every call, which was a third of
    the time of drawing 64 presets (16 calls of a 736 x 256 product and copy)."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, zuko.nn.MaskedLinear):
                plain = nn.Linear(child.in_features, child.out_features,
                                  bias=child.bias is not None)
                with torch.no_grad():
                    plain.weight.copy_(child.weight * child.mask)
                    if child.bias is not None:
                        plain.bias.copy_(child.bias)
                setattr(parent, name, plain.eval())
    return model


def _read_posterior_sidecar(path: Path) -> dict[str, Any]:
    data = read_sidecar_json(path, POSTERIOR_FORMAT, "parameter posterior")
    if data.get("format_version") != POSTERIOR_FORMAT_VERSION:
        raise CheckpointError(f"{path}: posterior format {data.get('format_version')!r}, this "
                              f"FlowSynth reads {POSTERIOR_FORMAT_VERSION}")
    missing = [k for k in ("config", "param_names", "synth_spec_version", "embedding",
                           "weights") if k not in data]
    if missing or not isinstance(data["weights"], dict):
        raise CheckpointError(f"{path}: sidecar lacks {missing or ['weights']}")
    return data


def _read_weights(path: Path, entry: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointError(f"{path}: weights file missing; copy both files together")
    state = read_weights(path, entry)
    expected = model.state_dict()
    if set(state) != set(expected) or any(state[k].shape != v.shape
                                           for k, v in expected.items()):
        raise CheckpointError(f"{path}: the weights do not fit the sidecar's config")
    return state
