"""What the app does with sounds and models, so that the GUI imports none of the core below.

The window renders previews, reads dropped files, analyses recordings and opens models; each
is one call here, to the synth, the features, the analysis, the models and the sound index.
Every function may import heavy modules (numba, scipy, torch): call them on a worker.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from flowsynth_gui.features.audio_io import AudioFileError
from flowsynth_gui.synth.render import DEFAULT_SAMPLE_RATE

__all__ = [
    "PREVIEW_RATE",
    "OpenedModel",
    "SoundFileError",
    "analyse",
    "frequency_of_mel_height",
    "open_model",
    "parameter_specs",
    "read_sound_file",
    "render_preview",
    "spectrogram",
    "warm_up",
    "write_sound_file",
]

PREVIEW_RATE = DEFAULT_SAMPLE_RATE  # previews, targets and written sounds: the models' rate
SoundFileError = AudioFileError  # unreadable, silent, clipped...: the message says which


@dataclass(frozen=True)
class OpenedModel:
    """A model made explorable, with what its sound index, posterior and shapes said."""

    explorer: Any  # Explorer
    checkpoint: Any  # LoadedCheckpoint: the model and its training record
    matching_notes: tuple[str, ...]  # why matching runs without the index or the posterior
    imitation_note: str | None  # why imitation runs without the index's shapes


def open_model(path: str, *, index_path: str | None = None, posterior_path: str | None = None,
               macro_settings: Any = None, macro_cache_folder: str | None = None,
               workers: int | None = None) -> OpenedModel:
    """Load the checkpoint at ``path`` and build its :class:`Explorer` with the sound index,
    the posterior and the shapes that fit it. Raises ``ValueError`` (a foreign or corrupt
    checkpoint, a model with no latent space) or ``OSError``, with the reason."""
    from flowsynth_gui.explorer.explorer import Explorer
    from flowsynth_gui.explorer.macros import MacroCache, MacroSettings
    from flowsynth_gui.matching import open_index, open_posterior
    from flowsynth_gui.matching.shape_index import load_shapes

    checkpoint = _load_retrying(path)
    names = checkpoint.metadata.param_names
    index, index_note = open_index(index_path, names)
    posterior, posterior_note = open_posterior(posterior_path, names, index)
    shapes, shapes_note = load_shapes(index) if index is not None else (None, None)
    explorer = Explorer(checkpoint, macro_settings=macro_settings or MacroSettings(),
                        macro_cache=MacroCache(macro_cache_folder), workers=workers,
                        index=index, posterior=posterior, shapes=shapes)
    notes = tuple(n for n in (index_note, posterior_note if index is not None else None) if n)
    return OpenedModel(explorer, checkpoint, notes, shapes_note)


def _load_retrying(path: str) -> Any:
    """Load a checkpoint; a checksum mismatch is retried briefly, since a training run may be
    between writing the weights and the sidecar (both atomic, one after the other)."""
    from flowsynth_gui.models import CheckpointError, load_checkpoint

    for attempt in range(4):
        try:
            return load_checkpoint(path)
        except CheckpointError as err:
            if "checksum" not in str(err) or attempt == 3:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def warm_up(explorer: Any) -> None:
    """Load the compiled kernels of rendering and imitation now, not at the first preview."""
    from flowsynth_gui.synth.render import warm_up as warm_up_renderer

    explorer.imitator.warm_up()
    warm_up_renderer()  # the sketches render in groups, not the single-note path a preview takes


def render_preview(values: Mapping[str, float], note: int) -> tuple[np.ndarray, np.ndarray]:
    """A preset's 4 s note at ``note`` and its log-mel spectrogram."""
    from flowsynth_gui.synth.render import render

    audio = render(dict(values), note=note)
    return audio, spectrogram(audio)


def spectrogram(audio: np.ndarray) -> np.ndarray:
    """The log-mel spectrogram the panels show (the models' features)."""
    from flowsynth_gui.features.mel import log_mel

    return log_mel(audio, PREVIEW_RATE)


def read_sound_file(path: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """A sound file as mono audio at the preview rate, and what was done to it (resampled,
    mixed down...). Raises :data:`SoundFileError` with the reason."""
    from flowsynth_gui.features.audio_io import load_audio

    loaded = load_audio(path, sample_rate=PREVIEW_RATE, duration=None)
    return loaded.samples, tuple(loaded.notes)


def write_sound_file(path: str, audio: np.ndarray) -> str:
    """Write audio at the preview rate, atomically; returns the path written."""
    from flowsynth_gui.features.audio_io import write_wav

    return str(write_wav(path, audio, PREVIEW_RATE))


def analyse(samples: np.ndarray, source: str, imitation: bool) -> Any:
    """The matching target of a sound (``imitation``: by its shape, for a voice). Raises
    :data:`SoundFileError` for silence and the like."""
    from flowsynth_gui.inference.analysis import analyse_audio, analyse_imitation

    return (analyse_imitation if imitation else analyse_audio)(samples, PREVIEW_RATE, source)


def frequency_of_mel_height(hz: float) -> float:
    """Where ``hz`` sits on a spectrogram's 0..1 mel height (for the frequency axis)."""
    from flowsynth_gui.features.mel import DEFAULT_SETTINGS, hz_to_mel

    low, high = hz_to_mel(DEFAULT_SETTINGS.fmin), hz_to_mel(DEFAULT_SETTINGS.fmax)
    return float((hz_to_mel(hz) - low) / (high - low))


def parameter_specs() -> tuple[Any, ...]:
    """Every synth parameter's spec (name, section, range, unit, default, what it does)."""
    from flowsynth_gui.synth.params import all_specs

    return tuple(all_specs())
