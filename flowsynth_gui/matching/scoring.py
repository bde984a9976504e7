"""Render candidate presets at the target's pitch and score them: the cost of every search.

Each worker thread renders a slice of the batch, computes its mel spectra and its spectral
convergence (SC, the paper's metric) against the target, so the STFT runs in parallel too (the
compiled synth kernels and scipy's FFT release the GIL). All renders use the explorer's fixed
noise seed: a preset scores the same in whichever batch and row it lands.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from flowsynth_gui.data.renders import NOISE_SEED
from flowsynth_gui.features.mel import mel_magnitude_batch
from flowsynth_gui.synth.render import DEFAULT_SAMPLE_RATE, render_batch

__all__ = ["Scorer"]


class Scorer:
    """Scores ``(N, P)`` parameter rows against one target mel with ``workers`` threads."""

    def __init__(self, names: Sequence[str], workers: int | None = None) -> None:
        self.names = tuple(names)
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(self.workers) if self.workers > 1 else None
        self.renders = 0

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    def scores(self, values: np.ndarray, note: int, target_mel: np.ndarray) -> np.ndarray:
        """SC of each row's render at ``note`` against ``target_mel`` (lower is closer)."""
        rows = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
        if len(rows) == 0:
            return np.zeros(0)
        target = np.asarray(target_mel, dtype=np.float32)
        norm = float(np.linalg.norm(target))
        if not norm > 0:
            raise ValueError("scoring: the target mel is silent")

        def score(chunk: np.ndarray) -> np.ndarray:
            audio = render_batch(chunk, self.names, note=note, seeds=[NOISE_SEED] * len(chunk),
                                 workers=1)
            mels = mel_magnitude_batch(audio, DEFAULT_SAMPLE_RATE)
            error = (mels - target).reshape(len(chunk), -1)
            return np.sqrt(np.einsum("ij,ij->i", error, error, dtype=np.float64)) / norm

        chunks = np.array_split(rows, min(self.workers, len(rows)))
        self.renders += len(rows)
        if self._pool is None or len(chunks) == 1:
            return np.concatenate([score(c) for c in chunks])
        return np.concatenate(list(self._pool.map(score, chunks)))
