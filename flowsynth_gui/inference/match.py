"""The model's one-shot answer: audio -> features -> latent -> parameters, at the input's pitch.

The input is analysed by :func:`~flowsynth_gui.inference.analysis.analyse_audio` (pitch, 4 s
transposed to the reference note for the model); the answer is rendered back at the input's
own pitch for listening and scoring. The matching engine (:mod:`flowsynth_gui.matching`) uses
this as one of its candidate sources, beside the sound index and the model's posterior.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from flowsynth_gui.features.mel import log_mel, mel_magnitude
from flowsynth_gui.features.metrics import spectral_convergence
from flowsynth_gui.inference.analysis import (
    MAX_NOTE,
    MIN_NOTE,
    MIN_SECONDS,
    MatchTarget,
    analyse_audio,
    load_target,
)
from flowsynth_gui.models import LoadedCheckpoint
from flowsynth_gui.synth.render import DEFAULT_SAMPLE_RATE, REFERENCE_NOTE, render

__all__ = ["MatchResult", "Matcher", "MIN_NOTE", "MAX_NOTE", "MIN_SECONDS", "REFERENCE_NOTE"]


@dataclass
class MatchResult:
    params: dict[str, float]  # normalised values, the model's parameter set
    note: int  # the pitch the match is rendered at
    detected_hz: float | None  # None when the input had no clear pitch
    spectral_convergence: float  # of the re-rendered match against the input (lower is better)
    latent: np.ndarray | None
    target_mel: np.ndarray  # linear mel of the input (4 s)
    match_audio: np.ndarray
    notes: list[str] = field(default_factory=list)  # what was done to the input


class Matcher:
    """Infers presets from audio with one loaded model (CPU, eval mode)."""

    def __init__(self, checkpoint: LoadedCheckpoint) -> None:
        self.checkpoint = checkpoint
        self.model = checkpoint.model.eval()
        self.names = checkpoint.metadata.param_names
        self.normaliser = checkpoint.metadata.normaliser

    def match_file(self, path: str | Path) -> MatchResult:
        return self.match_target(load_target(path))

    def match_audio(self, samples: np.ndarray, sample_rate: int,
                    source: str | None = None) -> MatchResult:
        return self.match_target(analyse_audio(samples, sample_rate, source))

    def match_target(self, target: MatchTarget) -> MatchResult:
        params, latent = self.infer(target.at_reference)
        match_audio = render(params, note=target.note)
        sc = float(spectral_convergence(target.mel,
                                        mel_magnitude(match_audio, DEFAULT_SAMPLE_RATE)))
        return MatchResult(params, target.note, target.detected_hz, sc, latent, target.mel,
                           match_audio, list(target.notes))

    def _features(self, audio_at_reference: np.ndarray) -> torch.Tensor:
        features = self.normaliser.apply(log_mel(audio_at_reference, DEFAULT_SAMPLE_RATE))
        return torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))[None]

    def infer(self, audio_at_reference: np.ndarray) -> tuple[dict[str, float], np.ndarray | None]:
        """4 s of audio at the reference pitch -> (parameters, latent or None)."""
        mel = self._features(audio_at_reference)
        if self.model.has_decoder or self.model.invertible:
            z = self.model.encode(mel)
            values = self.model.params_from_latent(z)[0].numpy()
            latent = z[0].numpy()
        else:
            values = self.model.predict_params(mel)[0].numpy()
            latent = None
        clipped = np.clip(values.astype(np.float64), 0.0, 1.0)
        if not np.all(np.isfinite(clipped)):
            raise ValueError("the model produced invalid parameters for this sound")
        return dict(zip(self.names, clipped.tolist(), strict=True)), latent

    def sample_posterior(self, audio_at_reference: np.ndarray, count: int,
                         seed: int = 0) -> tuple[np.ndarray, np.ndarray] | None:
        """``count`` draws of the model's posterior q(z | sound) and their parameters
        ``(count, latent_dim), (count, P)``; None for a model without a stochastic posterior."""
        if count < 1 or not self.model.has_decoder:
            return None
        generator = torch.Generator().manual_seed(int(seed))
        z = self.model.sample_latent(self._features(audio_at_reference), count, generator)
        if z is None:
            return None
        values = np.clip(self.model.params_from_latent(z).numpy().astype(np.float64), 0.0, 1.0)
        keep = np.all(np.isfinite(values), axis=1)
        return z.numpy().astype(np.float64)[keep], values[keep]
