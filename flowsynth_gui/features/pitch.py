"""Fundamental frequency: librosa's YIN per frame, with a voicing confidence, and a note's pitch.

librosa.yin (de Cheveigné & Kawahara 2002) gives an f0 for every frame, voiced or not; the
confidence of a frame is the normalised autocorrelation at the period YIN found (1 for a
periodic frame, near 0 for noise), so unvoiced frames can be told apart without pYIN's HMM
(100× slower: too slow for the 40,000 index sounds whose contours the imitation search holds).

>>> import numpy as np
>>> t = np.arange(22050) / 22050
>>> round(estimate_pitch(np.sin(2 * np.pi * 220 * t), 22050).midi_note, 1)
57.0
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np

__all__ = ["MAX_HZ", "MIN_HZ", "PitchEstimate", "PitchTrack", "estimate_pitch", "hz_to_midi",
           "pitch_track"]

MIN_HZ, MAX_HZ = 40.0, 1200.0  # covers MIDI 36-84 with room on both sides
FRAME, HOP = 2048, 512
VOICED = 0.5  # confidence from which a frame counts as pitched
_LOUD = 0.1  # frames quieter than this share of the loudest are not read


def hz_to_midi(hz: np.ndarray | float) -> np.ndarray:
    return 69.0 + 12.0 * np.log2(np.asarray(hz, dtype=np.float64) / 440.0)


@dataclass(frozen=True)
class PitchTrack:
    """Per frame (hop :data:`HOP`, centred): f0 in Hz, voicing confidence in [0, 1], RMS."""

    hz: np.ndarray
    confidence: np.ndarray
    rms: np.ndarray

    @property
    def loud(self) -> np.ndarray:
        """Frames loud enough to read (a tenth of the loudest frame's RMS)."""
        if not self.rms.size or not self.rms.max() > 0:
            return np.zeros(self.rms.shape, bool)
        return self.rms > _LOUD * self.rms.max()

    @property
    def voiced(self) -> np.ndarray:
        """Frames that are loud enough and periodic."""
        return self.loud & (self.confidence >= VOICED)


def pitch_track(samples: np.ndarray, sample_rate: int, hop: int = HOP,
                frame: int = FRAME) -> PitchTrack:
    """YIN f0 and its confidence for every frame of mono ``samples`` (zero-padded to a frame)."""
    audio = np.asarray(samples, dtype=np.float32)
    if len(audio) < frame:
        audio = np.pad(audio, (0, frame - len(audio)))
    # YIN needs two periods of its lowest pitch inside a frame.
    lowest = max(MIN_HZ, 2.0 * sample_rate / frame + 0.5)
    hz = librosa.yin(audio, fmin=lowest, fmax=min(MAX_HZ, sample_rate / 4), sr=sample_rate,
                     frame_length=frame, hop_length=hop, center=True)
    frames = librosa.util.frame(np.pad(audio, frame // 2), frame_length=frame,
                                hop_length=hop)[:, : len(hz)]
    hz = hz[: frames.shape[1]]
    lags = np.clip(np.round(sample_rate / hz).astype(int), 1, frame // 2)
    return PitchTrack(hz, _periodicity(frames, lags), np.sqrt(np.mean(frames ** 2, axis=0)))


def _periodicity(frames: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Normalised autocorrelation of each frame (column) at its own lag, in [0, 1]."""
    n = frames.shape[0]
    head = np.arange(n // 2)  # the same window length for every lag (lag <= n / 2)
    now = frames[head]
    later = np.take_along_axis(frames, head[:, None] + lags[None, :], axis=0)
    cross = np.sum(now * later, axis=0)
    energy = np.sqrt(np.sum(now ** 2, axis=0) * np.sum(later ** 2, axis=0))
    return np.clip(np.divide(cross, energy, out=np.zeros_like(cross), where=energy > 0), 0, 1)


@dataclass(frozen=True)
class PitchEstimate:
    hz: float | None  # None: no clear pitch (noise, percussion)
    voiced_fraction: float  # share of loud frames with a clear period

    @property
    def midi_note(self) -> float | None:
        return None if self.hz is None else float(hz_to_midi(self.hz))


def estimate_pitch(samples: np.ndarray, sample_rate: int) -> PitchEstimate:
    """Median f0 over the loud frames that have a clear period (None under 30 % of them)."""
    audio = np.asarray(samples, dtype=np.float32)
    if audio.ndim != 1 or len(audio) < FRAME or not np.any(audio):
        return PitchEstimate(None, 0.0)
    track = pitch_track(audio, sample_rate)
    voiced = track.voiced
    fraction = float(voiced.sum() / max(1, track.loud.sum()))
    if fraction < 0.3:
        return PitchEstimate(None, fraction)
    # The median in log frequency: an octave error up and one down cancel.
    return PitchEstimate(float(2.0 ** np.median(np.log2(track.hz[voiced]))), fraction)

