"""One model's latent space as the explorer sees it: audio → z, and z ↔ parameters.

:class:`LatentCodec` wraps a :class:`~flowsynth_gui.models.LoadedCheckpoint` and speaks NumPy
(float64 in, float64 out) so that the rest of the explorer never touches torch:

- :meth:`LatentCodec.encode_log_mels` / :meth:`LatentCodec.encode_audio` — sounds → z (the
  posterior mean, the space ``encode`` returns; for Flow_dis the disentangled space whose
  first ``n_tags`` dimensions are the semantic sliders);
- :meth:`LatentCodec.to_params` — z → parameters in [0, 1];
- :meth:`LatentCodec.to_latent` — parameters → z, only for invertible models (Flow_reg,
  Flow_dis); any other model raises :class:`~flowsynth_gui.models.NotInvertible`.

Single rows take the fast path: the NumPy snapshot of the regression flow that Flow_reg and
Flow_dis offer (``model.latent_map()``), because a cursor move must reach its parameters in
well under 2 ms and torch's per-operation dispatch dominates on one row. Models without that
snapshot run torch on one thread for single rows (a thread pool's wake-up costs more than the
arithmetic), and at torch's own setting for batches.

>>> import numpy as np
>>> from flowsynth_gui.features.mel import FeatureNormaliser
>>> from flowsynth_gui.models import CheckpointMetadata, LoadedCheckpoint, build_model
>>> from flowsynth_gui.models.config import ModelConfig
>>> from flowsynth_gui.synth import param_set
>>> config = ModelConfig("flow_reg", n_params=16, channels=2, conv_layers=2, kernel=3,
...                      hidden=8, dense_layers=1, iaf_steps=1, flow_steps=2, flow_hidden=8)
>>> codec = LatentCodec(LoadedCheckpoint(build_model(config).eval(),
...                     CheckpointMetadata(param_set(16), FeatureNormaliser(-4.0, 2.0))))
>>> v = codec.to_params(np.zeros(16))
>>> v.shape, bool(np.allclose(codec.to_latent(v), 0.0, atol=1e-4))
((16,), True)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

from flowsynth_gui.data.renders import render_presets
from flowsynth_gui.features.mel import log_mel, log_mel_batch
from flowsynth_gui.models import LoadedCheckpoint, NotInvertible
from flowsynth_gui.models.latent_map import LatentParamMap
from flowsynth_gui.synth.render import DEFAULT_SAMPLE_RATE, REFERENCE_NOTE

__all__ = ["LatentCodec", "single_torch_thread"]

_ENCODE_BATCH = 64  # sounds per encoder pass: bounds memory, keeps batch norm in eval mode


@contextmanager
def single_torch_thread() -> Iterator[None]:
    """Run torch on one intra-op thread inside the block (restored afterwards)."""
    previous = torch.get_num_threads()
    if previous != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if previous != 1:
            torch.set_num_threads(previous)


class LatentCodec:
    """Audio → latent and latent ↔ parameters for one loaded model, in NumPy float64."""

    def __init__(self, checkpoint: LoadedCheckpoint) -> None:
        self.checkpoint = checkpoint
        self.model = checkpoint.model.eval()
        self.metadata = checkpoint.metadata
        self.names: tuple[str, ...] = tuple(checkpoint.metadata.param_names)
        config = self.model.config
        self.kind = config.kind
        self.latent_dim = int(self.model.latent_dim)
        self.n_params = len(self.names)
        self.invertible = bool(self.model.invertible)
        # Only Flow_dis pushes its first n_tags dimensions towards the tags (eq. 16).
        self.n_semantic = min(config.n_tags, len(self.metadata.tag_pairs)) \
            if config.kind == "flow_dis" else 0
        snapshot = getattr(self.model, "latent_map", None)
        self._fast: LatentParamMap | None = snapshot() if callable(snapshot) else None
        self._fingerprint: str | None = None

    # --- sounds → latent -------------------------------------------------------------------

    def encode_log_mels(self, log_mels: np.ndarray) -> np.ndarray:
        """Raw log-mels ``(N, n_mels, n_frames)`` (as datasets store them) → z ``(N, L)``."""
        mels = np.asarray(log_mels)
        if mels.ndim != 3:
            raise ValueError(f"log-mels must have shape (N, n_mels, n_frames), got {mels.shape}")
        out = np.empty((len(mels), self.latent_dim), dtype=np.float64)
        for start in range(0, len(mels), _ENCODE_BATCH):
            chunk = self.metadata.normaliser.apply(
                mels[start:start + _ENCODE_BATCH].astype(np.float32))
            out[start:start + len(chunk)] = self.model.encode(
                np.ascontiguousarray(chunk, dtype=np.float32)).double().numpy()
        return out

    def encode_audio(self, samples: np.ndarray,
                     sample_rate: int = DEFAULT_SAMPLE_RATE) -> np.ndarray:
        """4 s of mono audio at the reference pitch (one ``(n,)`` or a batch ``(N, n)``) → z."""
        audio = np.asarray(samples, dtype=np.float32)
        if audio.ndim == 1:
            return self.encode_log_mels(log_mel(audio, sample_rate)[None])[0]
        return self.encode_log_mels(log_mel_batch(audio, sample_rate))

    def encode_presets(self, vectors: np.ndarray, workers: int | None = None) -> np.ndarray:
        """Where the model hears presets ``(N, P)`` (model order): rendered at the reference
        pitch, the other parameters at their defaults as in the training data, encoded."""
        return self.encode_audio(render_presets(vectors, self.names, REFERENCE_NOTE, workers))

    # --- latent ↔ parameters ---------------------------------------------------------------

    def to_params(self, z: np.ndarray) -> np.ndarray:
        """z ``(L,)`` or ``(N, L)`` → parameters in [0, 1], same leading shape, float64."""
        rows, single = self._rows(z, self.latent_dim, "z")
        if self._fast is not None:
            values = self._fast.to_params(rows)
        elif single:
            with single_torch_thread():
                values = self.model.params_from_latent(rows).numpy()
        else:
            values = self.model.params_from_latent(rows).numpy()
        params = np.clip(values.astype(np.float64), 0.0, 1.0)
        return params[0] if single else params

    def to_latent(self, params: np.ndarray) -> np.ndarray:
        """Parameters ``(P,)`` or ``(N, P)`` in [0, 1] → z; :class:`NotInvertible` otherwise."""
        if not self.invertible:
            raise NotInvertible(
                f"a {self.kind!r} model cannot map parameters back to its latent space, so "
                "presets without audio cannot be placed or explored; load a 'flow_reg' or "
                "'flow_dis' model")
        rows, single = self._rows(params, self.n_params, "params")
        if self._fast is not None:
            z = self._fast.to_latent(rows)
        else:
            z = self.model.latent_from_params(rows).numpy()
        latent = z.astype(np.float64)
        return latent[0] if single else latent

    def fingerprint(self) -> str:
        """SHA-256 of the config, parameter names and weights: a cache key for this model."""
        if self._fingerprint is None:
            digest = hashlib.sha256(repr(self.model.config.to_dict()).encode())
            digest.update("\n".join(self.names).encode())
            for name, tensor in sorted(self.model.state_dict().items()):
                digest.update(name.encode())
                digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    @staticmethod
    def _rows(x: np.ndarray, width: int, name: str) -> tuple[np.ndarray, bool]:
        rows = np.asarray(x, dtype=np.float32)
        single = rows.ndim == 1
        if single:
            rows = rows[None]
        if rows.ndim != 2 or rows.shape[1] != width:
            raise ValueError(f"{name} must have shape ({width},) or (N, {width}), "
                             f"got {np.shape(x)}")
        if not np.all(np.isfinite(rows)):
            raise ValueError(f"{name} contains NaN or inf")
        return rows, single
