"""Render candidate presets at the target's pitch and score them: the cost of every search.

Each worker thread renders a slice of the batch, computes its mel spectra and its spectral
convergence (SC, the paper's metric) against the target (or, for imitations, its shape), so
the STFT runs in parallel too (the compiled synth kernels and scipy's FFT release the GIL).
All renders use the explorer's fixed noise seed: a preset scores the same in whichever batch
and row it lands.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

from flowsynth_gui.data.renders import NOISE_SEED, StopFlag, stop_requested
from flowsynth_gui.features.mel import mel_magnitude_batch
from flowsynth_gui.features.shape import SoundShape, describe_shape
from flowsynth_gui.synth.render import DEFAULT_SAMPLE_RATE, RENDER_SECONDS, render_batch

__all__ = ["Scorer", "batches_until"]

T = TypeVar("T")
_SAMPLES = int(round(RENDER_SECONDS * DEFAULT_SAMPLE_RATE))  # what render_batch returns


def batches_until(total: int, size: int, until: float, should_stop: StopFlag,
                  step: Callable[[slice], None]) -> bool:
    """``step`` over ``range(total)`` in slices of ``size`` until ``until``
    (``time.perf_counter()``): a slice that would end past it, by the time slices took so
    far, is not started. Returns cancelled (``should_stop``, checked before each slice)."""
    began, done, per_slice = time.perf_counter(), 0, 0.0
    while done < total:
        if stop_requested(should_stop):
            return True
        if time.perf_counter() + per_slice > until:
            break
        step(slice(done, min(total, done + size)))
        done = min(total, done + size)
        per_slice = (time.perf_counter() - began) / -(-done // size)
    return False


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
        target = np.asarray(target_mel, dtype=np.float32)
        norm = float(np.linalg.norm(target))
        if not norm > 0:
            raise ValueError("scoring: the target mel is silent")

        def score(audio: np.ndarray) -> list[float]:
            mels = mel_magnitude_batch(audio, DEFAULT_SAMPLE_RATE)
            error = (mels - target).reshape(len(audio), -1)
            return list(np.sqrt(np.einsum("ij,ij->i", error, error, dtype=np.float64)) / norm)

        return np.array(self.rendered(values, note, score), dtype=np.float64)

    def shapes(self, values: np.ndarray, notes: int | Sequence[int]) -> list[SoundShape]:
        """The shape of each row's render at its note (imitation matching): ``notes`` one
        for all rows or one per row."""
        return self.rendered(values, notes, lambda audio: [
            describe_shape(a, DEFAULT_SAMPLE_RATE) for a in audio])

    def rendered(self, values: np.ndarray, notes: int | Sequence[int],
                 measure: Callable[[np.ndarray], list[T]]) -> list[T]:
        """``measure(audio)`` of the rows rendered at their notes, a slice per worker."""
        rows = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
        if len(rows) == 0:
            return []
        per_row = np.broadcast_to(np.asarray(notes, dtype=np.int64), (len(rows),))

        def run(span: np.ndarray) -> list[T]:
            audio = np.empty((len(span), _SAMPLES), np.float32)
            for note in dict.fromkeys(per_row[span].tolist()):
                same = span[per_row[span] == note]
                audio[np.searchsorted(span, same)] = render_batch(
                    rows[same], self.names, note=note, seeds=[NOISE_SEED] * len(same), workers=1)
            return measure(audio)

        spans = np.array_split(np.arange(len(rows)), min(self.workers, len(rows)))
        self.renders += len(rows)
        parts = [run(c) for c in spans] if self._pool is None or len(spans) == 1 \
            else list(self._pool.map(run, spans))
        return [item for part in parts for item in part]
