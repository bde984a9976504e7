"""Neighbourhoods and interpolation in the latent space.

- :func:`sample_neighbours` — ``n`` latents on the sphere of radius ``r`` around a point,
  deterministic for a seed: directions are Gaussian draws normalised to unit length (uniform on
  the sphere), so every neighbour is exactly ``r`` away, in prior units (the latent prior is
  N(0, I): r = 0.5 is a near variation, r = 2 a different sound).
- :func:`interpolate` — two presets, ``steps`` points between them along the latent path
  ``z_t = (1 - t) z_a + t z_b`` mapped to parameters, with the straight parameter path
  ``(1 - t) v_a + t v_b`` beside it for comparison. The ends are the two presets exactly.

  Where the path's ends come from matters. ``f^-1`` of a preset the model never produced can
  land far outside the prior (|z| of 10 to 80 seen with CPU-trained models), and a straight
  line between two such points crosses regions the model never learnt. Given the presets'
  sounds, the ends are their *encoded* latents instead (``ends=``), where the model hears
  them; the path's parameters are then ``f(z_t)`` plus the two ends' residuals
  ``v - f(z)`` faded linearly, ``(1 - t) r_a + t r_b``, so that the walk starts and ends on
  the presets exactly and moves continuously in between.

>>> sample_neighbours(np.zeros(3), 4, 0.5, seed=1).shape
(4, 3)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from flowsynth_gui.latent.codec import LatentCodec
from flowsynth_gui.synth.params import spec_by_name

__all__ = ["Interpolation", "LatentPreset", "blend_presets", "interpolate", "sample_neighbours"]


@dataclass(frozen=True)
class LatentPreset:
    """A latent and its parameters (model order), e.g. one neighbour."""

    z: np.ndarray
    params: np.ndarray


def sample_neighbours(z: np.ndarray, n: int, radius: float, seed: int = 0) -> np.ndarray:
    """``n`` latents at distance ``radius`` from ``z``, ``(n, L)``; the same for the same seed."""
    centre = np.asarray(z, dtype=np.float64)
    if centre.ndim != 1:
        raise ValueError(f"z must be one latent vector, got shape {centre.shape}")
    if n < 1 or not (np.isfinite(radius) and radius >= 0):
        raise ValueError(f"need n >= 1 and a finite radius >= 0, got n={n}, radius={radius}")
    directions = np.random.default_rng(seed).standard_normal((n, centre.size))
    norms = np.linalg.norm(directions, axis=1, keepdims=True)
    # A zero draw has probability 0; guard anyway so that no NaN can reach the synth.
    directions = np.where(norms > 0, directions / np.maximum(norms, 1e-300), 0.0)
    return centre + radius * directions


@dataclass(frozen=True)
class Interpolation:
    """``steps`` presets from ``a`` to ``b`` along both paths (row 0 is a, row -1 is b)."""

    t: np.ndarray  # (K,) in [0, 1]
    latent: np.ndarray  # (K, L): the latent path
    latent_params: np.ndarray  # (K, P): the latent path's parameters, ends exact
    straight_params: np.ndarray  # (K, P): the straight parameter path


def interpolate(codec: LatentCodec, a: np.ndarray, b: np.ndarray, steps: int,
                ends: np.ndarray | None = None) -> Interpolation:
    """Interpolate between parameter vectors ``a`` and ``b`` (model order) in ``steps`` steps.

    ``ends``: the two presets' encoded latents ``(2, L)`` (see the module doc); None places
    them with ``f^-1``, which needs an invertible model (:class:`NotInvertible` otherwise).
    """
    if steps < 2:
        raise ValueError(f"interpolation needs at least 2 steps (the two ends), got {steps}")
    v_a, v_b = (np.asarray(v, dtype=np.float64) for v in (a, b))
    for name, v in (("a", v_a), ("b", v_b)):
        if v.shape != (codec.n_params,):
            raise ValueError(f"preset {name} must have {codec.n_params} values in the model's "
                             f"parameter order, got shape {v.shape}")
    ends = codec.to_latent(np.stack([v_a, v_b])) if ends is None else np.asarray(
        ends, dtype=np.float64)
    if ends.shape != (2, codec.latent_dim):
        raise ValueError(f"ends must be two latents of {codec.latent_dim} values")
    t = np.linspace(0.0, 1.0, steps)
    latent = (1.0 - t)[:, None] * ends[0] + t[:, None] * ends[1]
    residuals = np.stack([v_a, v_b]) - codec.to_params(ends)  # zero for f^-1 ends
    latent_params = codec.to_params(latent) + (1.0 - t)[:, None] * residuals[0] \
        + t[:, None] * residuals[1]
    np.clip(latent_params, 0.0, 1.0, out=latent_params)
    latent_params[0], latent_params[-1] = v_a, v_b
    straight = (1.0 - t)[:, None] * v_a + t[:, None] * v_b
    straight[0], straight[-1] = v_a, v_b  # exact ends, whatever the rounding of t * b
    return Interpolation(t, latent, latent_params, straight)


def blend_presets(a: Mapping[str, float], b: Mapping[str, float], model_values: np.ndarray,
                  names: Sequence[str], t: float) -> dict[str, float]:
    """The model's parameters from ``model_values``; every other parameter A or B set, blended
    straight (a parameter only one of them sets takes the synth default on the other side)."""
    others = (set(a) | set(b)) - set(names)
    blended = {}
    for name in sorted(others):
        default = spec_by_name(name).default_normalised
        va, vb = a.get(name, default), b.get(name, default)
        blended[name] = float(np.clip((1.0 - t) * va + t * vb, 0.0, 1.0))
    blended.update(zip(names, np.clip(model_values, 0.0, 1.0).tolist(), strict=True))
    return blended
