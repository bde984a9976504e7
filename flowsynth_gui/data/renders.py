"""Rendering helpers shared by every search (explorer, matching), and the cancellation convention.

Every search renders candidate presets in batches through :func:`render_batch` (threads; the
compiled kernels release the GIL) with one fixed noise seed, so that a preset always sounds
the same whichever batch and row it lands in: rankings and searches are then deterministic.

Long jobs take ``should_stop``: a :class:`threading.Event` (set it to cancel) or any callable
returning True to stop. They check it between batches and return what they have.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from flowsynth_gui.features.mel import log_mel_batch, mel_magnitude_batch
from flowsynth_gui.synth.render import DEFAULT_SAMPLE_RATE, render_batch

__all__ = ["NOISE_SEED", "StopFlag", "render_log_mels", "render_mels", "render_presets",
           "stop_requested"]

NOISE_SEED = 0  # the seed of every search render (Matcher, the sound index and the engine too)

StopFlag = threading.Event | Callable[[], bool] | None


def stop_requested(should_stop: StopFlag) -> bool:
    """Whether a cancellation flag (Event, callable or None) asks to stop now."""
    if should_stop is None:
        return False
    if isinstance(should_stop, threading.Event):
        return should_stop.is_set()
    return bool(should_stop())


def render_presets(values: np.ndarray, names: Sequence[str], note: int,
                   workers: int | None = None) -> np.ndarray:
    """``(N, P)`` normalised values → ``(N, samples)`` audio, 4 s at 22,050 Hz, fixed seed."""
    rows = np.clip(np.asarray(values, dtype=np.float64), 0.0, 1.0)
    return render_batch(rows, names, note=note, seeds=[NOISE_SEED] * len(rows), workers=workers)


def render_mels(values: np.ndarray, names: Sequence[str], note: int,
                workers: int | None = None) -> np.ndarray:
    """Linear mel magnitudes ``(N, n_mels, frames)`` of rendered presets (for SC)."""
    return mel_magnitude_batch(render_presets(values, names, note, workers), DEFAULT_SAMPLE_RATE)


def render_log_mels(values: np.ndarray, names: Sequence[str], note: int,
                    workers: int | None = None) -> np.ndarray:
    """Log-mels ``(N, n_mels, frames)`` of rendered presets (distances between sounds)."""
    return log_mel_batch(render_presets(values, names, note, workers), DEFAULT_SAMPLE_RATE)
