"""The shape of a sound: how its loudness, pitch, brightness and noisiness move over time.

A hummed "wooow" shares almost no spectrum with the filter sweep it imitates, but its contours
do follow the sweep (SynthAssist, Cartwright & Pardo 2014). A sound's shape is taken over its
*active* part (from the first to the last frame within 40 dB of its loudest: a lead-in of
silence or a tail of room noise is not shape) and summarised as :data:`POINTS` points per
feature, so that a 0.15 s "ts" and a 4 s swell are both 32 points, and their lengths are kept
beside the contours. Features, each scaled to about [-1, 1] (see :data:`RANGES`):

``loudness``    RMS in dB re the loudest frame, over 50 dB (0 loudest, -1 at -50 dB)
``pitch``       semitones re the sound's median pitch, over 12 (0 where unpitched)
``voicing``     pitch confidence (librosa YIN, normalised autocorrelation at the period)
``brightness``  log2 of the spectral centroid (librosa) re 1 kHz, over 3 octaves
``noisiness``   log10 of the spectral flatness (librosa), mapped from [-4, 0] to [0, 1]
``change``      spectral flux: cosine distance between neighbouring frames' spectra

How two shapes are compared lives in :mod:`flowsynth_gui.matching.shape_distance`.

>>> import numpy as np
>>> t = np.arange(22050) / 22050
>>> sweep = np.sin(2 * np.pi * np.cumsum(np.geomspace(200, 3200, t.size)) / 22050)
>>> shape = describe_shape(sweep.astype(np.float32), 22050)
>>> bool(np.all(np.diff(shape.feature("brightness")) > 0))
True
"""

from __future__ import annotations

from dataclasses import dataclass

import librosa
import numpy as np

from flowsynth_gui.features.pitch import VOICED, hz_to_midi, pitch_track

__all__ = ["FEATURES", "POINTS", "RANGES", "SoundShape", "decode_contours", "describe_shape",
           "encode_contours"]

FEATURES = ("loudness", "pitch", "voicing", "brightness", "noisiness", "change")
#: the range each scaled feature lives in (the uint8 code of an index stores it in)
RANGES = {"loudness": (-1.0, 0.0), "pitch": (-1.0, 1.0), "voicing": (0.0, 1.0),
          "brightness": (-1.0, 1.0), "noisiness": (0.0, 1.0), "change": (0.0, 1.0)}
# Points per contour. 32 rather than 16: the loudness contour is what a voice follows best, and
# its finer detail lowered the median rank of the imitated sound among 40,000 index shapes by
# about 40 % (82 -> 50 on the tuning set, 96 -> 58 on the benchmark set; docs/RESULTS.md).
POINTS = 32
N_FFT, HOP = 1024, 256  # 46 ms frames every 11.6 ms at 22,050 Hz: a 0.15 s "ts" has 13
ACTIVE_DB = 40.0  # the active part: frames within this of the loudest
_LOUDNESS_DB, _SEMITONES, _OCTAVES = 50.0, 12.0, 3.0
_FLATNESS_DECADES = 4.0


@dataclass(frozen=True)
class SoundShape:
    """``contours`` (len(FEATURES), POINTS) float32 over the active part, and its length."""

    contours: np.ndarray
    seconds: float  # length of the active part
    pitch_hz: float | None  # median pitch of its voiced frames (None: unpitched)
    onset_seconds: float = 0.0  # where the active part starts in the input

    def feature(self, name: str) -> np.ndarray:
        return self.contours[FEATURES.index(name)]


def describe_shape(samples: np.ndarray, sample_rate: int) -> SoundShape:
    """The shape of mono ``samples`` (silence gives a flat shape of length 0)."""
    audio = np.asarray(samples, dtype=np.float32)
    level = _frame_levels(audio)
    peak = float(level.max()) if level.size else -120.0
    if peak <= -110.0:
        return SoundShape(np.zeros((len(FEATURES), POINTS), np.float32), 0.0, None)
    active = np.flatnonzero(level > peak - ACTIVE_DB)
    first, last = int(active[0]), int(active[-1]) + 1
    segment = audio[first * HOP: last * HOP + N_FFT - HOP]
    # Spectra at a hop that gives ~4 frames per contour point: a 4 s sound costs 130 frames,
    # not 345, and a short one keeps the 11.6 ms hop.
    hop = max(HOP, len(segment) // (4 * POINTS))
    spectrum = np.abs(librosa.stft(segment, n_fft=N_FFT, hop_length=hop, center=False))
    if spectrum.shape[1] == 0:
        spectrum = np.abs(librosa.stft(np.pad(segment, (0, N_FFT)), n_fft=N_FFT,
                                       hop_length=hop, center=False))[:, :1]
    pitch, voicing, pitch_hz = _pitch_contours(segment, sample_rate, hop, spectrum.shape[1])
    rows = {
        "loudness": np.maximum(level[first:last] - peak, -_LOUDNESS_DB) / _LOUDNESS_DB,
        "pitch": pitch,
        "voicing": voicing,
        "brightness": np.clip(np.log2(np.maximum(librosa.feature.spectral_centroid(
            S=spectrum, sr=sample_rate, n_fft=N_FFT)[0], 1.0) / 1000.0), -_OCTAVES, _OCTAVES)
        / _OCTAVES,
        "noisiness": 1.0 + np.clip(np.log10(librosa.feature.spectral_flatness(
            S=spectrum, power=2.0)[0] + 1e-12), -_FLATNESS_DECADES, 0.0) / _FLATNESS_DECADES,
        "change": _flux(spectrum),
    }
    contours = np.stack([_resample(rows[name], POINTS) for name in FEATURES])
    return SoundShape(contours.astype(np.float32), (last - first) * HOP / sample_rate, pitch_hz,
                      first * HOP / sample_rate)


def _frame_levels(audio: np.ndarray) -> np.ndarray:
    """RMS in dB of each ``HOP`` block (the loudness contour and where the sound is)."""
    blocks = audio[: len(audio) // HOP * HOP].reshape(-1, HOP)
    if len(audio) % HOP:
        blocks = np.concatenate([blocks, np.pad(audio[len(blocks) * HOP:],
                                                (0, HOP - len(audio) % HOP))[None]])
    return 10.0 * np.log10(np.mean(blocks.astype(np.float64) ** 2, axis=1) + 1e-12)


def _pitch_contours(segment: np.ndarray, sample_rate: int, hop: int,
                    frames: int) -> tuple[np.ndarray, np.ndarray, float | None]:
    """Pitch (semitones re the median, scaled) and voicing, ``frames`` long."""
    # Pitch moves slowly next to the spectrum: 1.5 frames per contour point are enough.
    track = pitch_track(segment, sample_rate, hop=max(hop, len(segment) // (3 * POINTS // 2)),
                        frame=N_FFT)
    hz = _resample(track.hz, frames)
    confidence = _resample(track.confidence, frames)
    voiced = confidence >= VOICED
    if voiced.sum() < max(2, 0.2 * frames):
        return np.zeros(frames), confidence, None
    semitones = hz_to_midi(hz)
    centre = float(np.median(semitones[voiced]))
    relative = np.where(voiced, np.clip((semitones - centre) / _SEMITONES, -1, 1), 0.0)
    return relative, confidence, float(440.0 * 2.0 ** ((centre - 69.0) / 12.0))


def _flux(spectrum: np.ndarray) -> np.ndarray:
    """Cosine distance of each frame's spectrum to the previous one (0 for the first)."""
    unit = spectrum / np.maximum(np.linalg.norm(spectrum, axis=0, keepdims=True), 1e-12)
    change = np.zeros(spectrum.shape[1])
    change[1:] = 1.0 - np.sum(unit[:, 1:] * unit[:, :-1], axis=0)
    return np.clip(change, 0.0, 1.0)


def _resample(values: np.ndarray, points: int) -> np.ndarray:
    """Mean over ``points`` equal segments (linear interpolation when there are fewer values)."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < points:
        return np.interp(np.linspace(0, len(values) - 1, points), np.arange(len(values)), values)
    edges = np.linspace(0, len(values), points + 1).round().astype(int)
    return np.add.reduceat(values, edges[:-1]) / np.diff(edges)


def _bounds() -> tuple[np.ndarray, np.ndarray]:
    low = np.array([RANGES[f][0] for f in FEATURES], np.float32)[:, None]
    high = np.array([RANGES[f][1] for f in FEATURES], np.float32)[:, None]
    return low, high


def encode_contours(contours: np.ndarray) -> np.ndarray:
    """Scaled contours ``(..., F, POINTS)`` → uint8 codes (1/255 of each range)."""
    low, high = _bounds()
    return np.round(np.clip((contours - low) / (high - low), 0, 1) * 255).astype(np.uint8)


def decode_contours(codes: np.ndarray) -> np.ndarray:
    low, high = _bounds()
    return (codes.astype(np.float32) / 255.0) * (high - low) + low
