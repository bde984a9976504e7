"""Sound matching: audio -> features -> latent -> parameters, rendered at the input's pitch.

The models learn from notes rendered at MIDI 60, so an input at another pitch is first
transposed to 60 (resampled, which keeps its timbre's shape in the spectrum), analysed there, and
the answer is rendered back at the input's own pitch for listening and scoring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.signal
import torch

from flowsynth_gui.features.audio_io import (
    AudioFileError,
    check_audible,
    load_audio,
    resample,
)
from flowsynth_gui.features.mel import log_mel, mel_magnitude
from flowsynth_gui.features.metrics import spectral_convergence
from flowsynth_gui.inference.pitch import estimate_pitch
from flowsynth_gui.models import LoadedCheckpoint
from flowsynth_gui.synth.render import DEFAULT_SAMPLE_RATE, RENDER_SECONDS, render

__all__ = ["MatchResult", "Matcher", "MIN_NOTE", "MAX_NOTE", "REFERENCE_NOTE"]

REFERENCE_NOTE = 60  # the pitch every training sound was rendered at
MIN_NOTE, MAX_NOTE = 24, 108
MIN_SECONDS = 0.25


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


def _transpose(samples: np.ndarray, semitones: float) -> np.ndarray:
    """Shift pitch by resampling (duration changes with it, as on a tape machine)."""
    if abs(semitones) < 1e-3:
        return samples
    length = max(1, int(round(len(samples) * 2.0 ** (semitones / 12.0))))
    return scipy.signal.resample(samples, length).astype(np.float32)


def _fit_seconds(samples: np.ndarray, seconds: float) -> np.ndarray:
    length = int(round(seconds * DEFAULT_SAMPLE_RATE))
    out = np.zeros(length, dtype=np.float32)
    out[:min(length, len(samples))] = samples[:length]
    return out


class Matcher:
    """Infers presets from audio with one loaded model (CPU, eval mode)."""

    def __init__(self, checkpoint: LoadedCheckpoint) -> None:
        self.checkpoint = checkpoint
        self.model = checkpoint.model.eval()
        self.names = checkpoint.metadata.param_names
        self.normaliser = checkpoint.metadata.normaliser

    def match_file(self, path: str | Path) -> MatchResult:
        loaded = load_audio(path, sample_rate=DEFAULT_SAMPLE_RATE, duration=None)
        result = self.match_audio(loaded.samples, loaded.sample_rate, source=str(path))
        result.notes = list(loaded.notes) + result.notes
        return result

    def match_audio(self, samples: np.ndarray, sample_rate: int,
                    source: str | None = None) -> MatchResult:
        audio = np.asarray(samples, dtype=np.float32)
        if audio.ndim != 1:
            raise AudioFileError("match: give mono audio (mix channels down first)")
        if sample_rate != DEFAULT_SAMPLE_RATE:
            audio = resample(audio, sample_rate, DEFAULT_SAMPLE_RATE)
        check_audible(audio, DEFAULT_SAMPLE_RATE, min_duration=MIN_SECONDS, source=source)
        notes: list[str] = []
        pitch = estimate_pitch(audio[: 2 * DEFAULT_SAMPLE_RATE], DEFAULT_SAMPLE_RATE)
        if pitch.midi_note is None:
            note = REFERENCE_NOTE
            notes.append(f"no clear pitch: matched at MIDI note {REFERENCE_NOTE}")
        else:
            note = int(min(MAX_NOTE, max(MIN_NOTE, round(pitch.midi_note))))
            notes.append(f"pitch {pitch.hz:.1f} Hz -> MIDI note {note}")
        target = _fit_seconds(audio, RENDER_SECONDS)
        analysed = _fit_seconds(_transpose(audio, note - REFERENCE_NOTE), RENDER_SECONDS)
        params, latent = self.infer(analysed)
        match_audio = render(params, note=note)
        target_mel = mel_magnitude(target, DEFAULT_SAMPLE_RATE)
        sc = float(spectral_convergence(target_mel,
                                        mel_magnitude(match_audio, DEFAULT_SAMPLE_RATE)))
        return MatchResult(params, note, pitch.hz, sc, latent, target_mel, match_audio, notes)

    def infer(self, audio_at_reference: np.ndarray) -> tuple[dict[str, float], np.ndarray | None]:
        """4 s of audio at the reference pitch -> (parameters, latent or None)."""
        features = self.normaliser.apply(log_mel(audio_at_reference, DEFAULT_SAMPLE_RATE))
        mel = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))[None]
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
