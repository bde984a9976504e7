"""Audio descriptors behind the semantic tags (DESIGN.md section 4).

Each rendered sound follows the protocol: the note is held for ``NOTE_HELD_S`` (3 s), then
released, and ``RECORDED_S`` (4 s) are recorded. Descriptors describe the *held* part (the
first 3 s): the release tail says little about the character a preset is tagged with.

What each descriptor measures, and why it is there:

``spectral_centroid`` (Hz)
    Centre of mass of the magnitude spectrum per frame, averaged over the held frames with each
    frame weighted by its RMS so that near-silent frames (attack, gaps) do not pull it around.
    The classic correlate of perceived brightness: drives Dark/Bright.
``spectral_flatness`` (0..1)
    Geometric over arithmetic mean of the power spectrum per frame, RMS-weighted over the held
    frames. About 0.5 for white noise, near 0 for a few clean partials: a noise (dirt) measure
    that drives Clean/Dirty. Bins are floored 100 dB below each frame's peak bin so that the
    value does not depend on the playback level or on float rounding in empty bins.
``modulation`` (log2 units)
    How much the sound moves while the note is held, after the attack has reached 90 % of its
    peak: the standard deviation over frames of log2(centroid) (octaves of timbre movement:
    filter sweeps, LFO on cutoff, wave-shape modulation) plus the standard deviation of
    log2(frame amplitude) around a straight line (tremolo, LFO on volume; the line removes a
    steady decay, which is the envelope's shape rather than movement). Frames more than 40 dB
    below the loudest held frame are ignored: their centroid is dominated by noise. Drives
    Constant/Moving.
``attack_sharpness`` (log10 of 1/s)
    ``-log10(attack time)``, the attack time being how long a 11.6 ms RMS envelope takes to go
    from 10 % to 90 % of its held-part peak (Peeters' attack-time descriptor), floored at 1 ms:
    3 for an instant attack, about -0.5 for a 3 s swell. Logarithmic because attack times
    span three decades and are heard roughly on a log scale. With ``hf_ratio`` it drives
    Soft/Aggressive.
``loudness_db`` (dBFS)
    RMS of the held part in dB (a full-scale sine is -3 dB). Not a tag by itself: it lets the
    tag rules leave near-silent sounds untagged and the dataset flag silent renders.
``hf_ratio`` (0..1)
    Share of the held part's spectral energy above ``HF_CUTOFF_HZ`` (2.5 kHz), where the bite
    and harshness of a sound live (the ear is most sensitive around 2.5-5 kHz). With
    ``attack_sharpness`` it drives Soft/Aggressive.

>>> import numpy as np
>>> t = np.arange(4 * 22050) / 22050
>>> d = compute_descriptors(np.sin(2 * np.pi * 440 * t).astype(np.float32), 22050)
>>> 400 < d.spectral_centroid < 480, d.spectral_flatness < 0.01
(True, True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import astuple, dataclass, fields

import numpy as np
from numba import njit

from flowsynth_gui.features.mel import (
    DEFAULT_SETTINGS,
    MelSettings,
    n_frames,
    stft_frequencies,
    stft_magnitude_batch,
    validate_audio,
)

__all__ = [
    "DESCRIPTOR_NAMES",
    "Descriptors",
    "HF_CUTOFF_HZ",
    "NOTE_HELD_S",
    "RECORDED_S",
    "compute_descriptors",
    "compute_descriptors_batch",
]

# The rendering protocol (paper and DESIGN.md section 1): note held 3 s, then released; 4 s
# recorded. Descriptors of the "held part" use the first NOTE_HELD_S seconds.
NOTE_HELD_S = 3.0
RECORDED_S = 4.0

HF_CUTOFF_HZ = 2500.0

# Attack envelope: RMS over 256 samples (11.6 ms at 22.05 kHz) every 128 samples: fine enough
# to tell a 5 ms attack from a 50 ms one, long enough to span a period of middle C.
_ENV_HOP = 128
_ATTACK_LOW, _ATTACK_HIGH = 0.1, 0.9
_MIN_ATTACK_S = 1e-3
_FLATNESS_FLOOR = 1e-10  # power, relative to the frame's peak bin (-100 dB)
_MOD_GATE = 1e-4  # frame power relative to the loudest held frame (-40 dB)
_MIN_MOD_FRAMES = 3
_SILENT_DB = -120.0
_CHUNK = 16
_TINY = 1e-30


@dataclass(frozen=True)
class Descriptors:
    """Descriptors of one sound; see the module docstring for what each measures."""

    spectral_centroid: float
    spectral_flatness: float
    modulation: float
    attack_sharpness: float
    loudness_db: float
    hf_ratio: float

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def as_array(self) -> np.ndarray:
        """Values in :meth:`names` order, float64."""
        return np.array(astuple(self), dtype=np.float64)

    @classmethod
    def from_mapping(cls, values: Mapping[str, float]) -> Descriptors:
        missing = [name for name in cls.names() if name not in values]
        if missing:
            raise ValueError(f"Descriptors.from_mapping: missing {missing}")
        return cls(**{name: float(values[name]) for name in cls.names()})


DESCRIPTOR_NAMES: tuple[str, ...] = Descriptors.names()


def compute_descriptors(
    samples: np.ndarray,
    sample_rate: int,
    stft_mag: np.ndarray | None = None,
    settings: MelSettings = DEFAULT_SETTINGS,
) -> Descriptors:
    """Descriptors of one sound; pass ``stft_mag`` ``(bins, frames)`` if already computed."""
    audio = validate_audio(
        samples, sample_rate, settings, batch=False, caller="compute_descriptors"
    )
    mag = None if stft_mag is None else np.asarray(stft_mag)[None]
    values = compute_descriptors_batch(audio[None], sample_rate, mag, settings)
    return Descriptors(**{name: float(array[0]) for name, array in values.items()})


def compute_descriptors_batch(
    samples: np.ndarray,
    sample_rate: int,
    stft_mag: np.ndarray | None = None,
    settings: MelSettings = DEFAULT_SETTINGS,
) -> dict[str, np.ndarray]:
    """Descriptors of equal-length sounds ``(n, samples)``: name -> float64 array ``(n,)``.

    ``stft_mag`` ``(n, bins, frames)`` from :func:`~flowsynth_gui.features.mel.
    stft_magnitude_batch` (same settings) avoids a second transform when the caller has one.
    """
    audio = validate_audio(
        samples, sample_rate, settings, batch=True, caller="compute_descriptors_batch"
    )
    if stft_mag is not None:
        _check_stft_shape(stft_mag, audio.shape, settings)
    out = np.empty((audio.shape[0], len(DESCRIPTOR_NAMES)), dtype=np.float64)
    for start in range(0, audio.shape[0], _CHUNK):
        chunk = audio[start : start + _CHUNK]
        if stft_mag is None:
            mag = stft_magnitude_batch(chunk, sample_rate, settings)
        else:
            mag = np.asarray(stft_mag[start : start + _CHUNK], dtype=np.float32)
        out[start : start + len(chunk)] = _describe(chunk, mag, settings)
    return {name: out[:, i].copy() for i, name in enumerate(DESCRIPTOR_NAMES)}


def _check_stft_shape(
    stft_mag: np.ndarray, audio_shape: tuple[int, ...], settings: MelSettings
) -> None:
    want = (audio_shape[0], 1 + settings.n_fft // 2, n_frames(audio_shape[1], settings))
    if np.shape(stft_mag) != want:
        raise ValueError(
            f"compute_descriptors: stft_mag has shape {np.shape(stft_mag)}, expected {want} "
            "(compute it with stft_magnitude / stft_magnitude_batch and the same settings)"
        )


def _describe(audio: np.ndarray, mag: np.ndarray, settings: MelSettings) -> np.ndarray:
    """All descriptors of a chunk, ``(n, len(DESCRIPTOR_NAMES))``, in DESCRIPTOR_NAMES order."""
    held_samples = min(audio.shape[1], round(NOTE_HELD_S * settings.sample_rate))
    held = audio[:, :held_samples].astype(np.float64)
    # Frames whose centre lies within the held part.
    held_frames = min(mag.shape[2], held_samples // settings.hop_length + 1)
    # Frames-major, as the STFT computes them (no copy for stft_magnitude_batch's output):
    # every per-frame sum then runs over contiguous bins.
    spectra = np.ascontiguousarray(np.swapaxes(mag, 1, 2), dtype=np.float32)
    frequencies = stft_frequencies(settings)
    high_start = int(np.searchsorted(frequencies, HF_CUTOFF_HZ))
    floored = np.empty((len(audio), held_frames, spectra.shape[2]), np.float32)
    frame_power, magnitude_sum, weighted_frequency, high_power, floored_sum = _frame_sums(
        spectra, held_frames, frequencies, high_start, floored)
    weight = np.sqrt(frame_power)
    centroid_t = weighted_frequency / np.maximum(magnitude_sum, _TINY)
    bins = spectra.shape[2]
    # Geometric over arithmetic mean of the floored power; numpy's vectorised log does the
    # bulk of the work, in place.
    log_mean = np.log(floored, out=floored).sum(axis=2, dtype=np.float64) / bins
    flatness = np.exp(log_mean) / (floored_sum / bins)
    attack_s, attack_end_s = _attack(held, settings.sample_rate)
    columns = {
        "spectral_centroid": _weighted_mean(centroid_t, weight),
        "spectral_flatness": _weighted_mean(flatness, weight),
        "modulation": _modulation(centroid_t, frame_power, attack_end_s, settings),
        "attack_sharpness": -np.log10(attack_s),
        "loudness_db": _loudness_db(held),
        "hf_ratio": high_power.sum(axis=1) / np.maximum(frame_power.sum(axis=1), _TINY),
    }
    return np.stack([columns[name] for name in DESCRIPTOR_NAMES], axis=1)


@njit(cache=True, nogil=True, fastmath=True)
def _frame_sums(spectra: np.ndarray, held_frames: int, frequencies: np.ndarray,
                high_start: int, floored: np.ndarray) -> tuple:
    """Per held frame of ``spectra`` ``(n, frames, bins)``: power, magnitude sum,
    frequency-weighted magnitude sum, power from ``high_start`` on, and the sum of the power
    floored ``_FLATNESS_FLOOR`` below the frame's peak bin (written into ``floored``).
    One pass over the bins for the sums, a second for the floor, both in cache."""
    n, bins = spectra.shape[0], spectra.shape[2]
    power = np.zeros((n, held_frames))
    magnitude = np.zeros((n, held_frames))
    weighted = np.zeros((n, held_frames))
    high = np.zeros((n, held_frames))
    floored_sum = np.zeros((n, held_frames))
    for i in range(n):
        for j in range(held_frames):
            frame = spectra[i, j]
            total, total_mag, total_weighted, total_high, peak = 0.0, 0.0, 0.0, 0.0, 0.0
            for b in range(bins):
                m = np.float64(frame[b])
                p = m * m
                total += p
                total_mag += m
                total_weighted += frequencies[b] * m
                total_high += p if b >= high_start else 0.0
                peak = max(peak, p)
            floor = max(peak * _FLATNESS_FLOOR, _TINY)
            total_floored = 0.0
            for b in range(bins):
                m = np.float64(frame[b])
                p = max(m * m, floor)
                floored[i, j, b] = p
                total_floored += p
            power[i, j], magnitude[i, j], weighted[i, j] = total, total_mag, total_weighted
            high[i, j], floored_sum[i, j] = total_high, total_floored
    return power, magnitude, weighted, high, floored_sum


def _weighted_mean(values: np.ndarray, weight: np.ndarray) -> np.ndarray:
    return (values * weight).sum(axis=1) / np.maximum(weight.sum(axis=1), _TINY)


def _loudness_db(held: np.ndarray) -> np.ndarray:
    mean_square = np.square(held).mean(axis=1)
    return np.maximum(10.0 * np.log10(np.maximum(mean_square, _TINY)), _SILENT_DB)


def _envelope(held: np.ndarray) -> np.ndarray:
    """RMS envelope: 2 * _ENV_HOP samples every _ENV_HOP samples, ``(n, blocks)``."""
    n_blocks = held.shape[1] // _ENV_HOP
    blocks = np.square(held[:, : n_blocks * _ENV_HOP]).reshape(len(held), n_blocks, _ENV_HOP)
    block_ms = blocks.mean(axis=2)
    if n_blocks < 2:
        return np.sqrt(block_ms)
    return np.sqrt(0.5 * (block_ms[:, 1:] + block_ms[:, :-1]))


def _crossing_time(env: np.ndarray, level: np.ndarray) -> np.ndarray:
    """First time (in envelope steps, linearly interpolated) that each row reaches ``level``."""
    above = env >= level[:, None]
    index = above.argmax(axis=1)
    rows = np.arange(len(env))
    previous = env[rows, np.maximum(index - 1, 0)]
    current = env[rows, index]
    fraction = (level - previous) / np.maximum(current - previous, _TINY)
    # A row already above the level at step 0 crosses at 0; interpolation gives sub-step times
    # so that near-equal attacks do not tie at block boundaries.
    return np.where(index == 0, 0.0, index - 1 + np.clip(fraction, 0.0, 1.0))


def _attack(held: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Attack time (10 % -> 90 % of peak) and the time the 90 % level is reached, seconds."""
    env = _envelope(held)
    held_s = held.shape[1] / sample_rate
    if env.shape[1] == 0:
        return np.full(len(held), max(held_s, _MIN_ATTACK_S)), np.zeros(len(held))
    peak = env.max(axis=1)
    step_s = _ENV_HOP / sample_rate
    t_low = _crossing_time(env, _ATTACK_LOW * peak) * step_s
    t_high = _crossing_time(env, _ATTACK_HIGH * peak) * step_s
    # Silence has no attack: give it the slowest one so it never reads as aggressive.
    attack = np.where(
        peak > 0.0, np.maximum(t_high - t_low, _MIN_ATTACK_S), max(held_s, _MIN_ATTACK_S)
    )
    # The envelope's window is centred one hop after its start index.
    return attack, t_high + step_s


def _modulation(
    centroid_t: np.ndarray, frame_power: np.ndarray, attack_end_s: np.ndarray, settings: MelSettings
) -> np.ndarray:
    """Std of log2 centroid plus std of detrended log2 amplitude over the sustained frames."""
    frame_s = np.arange(centroid_t.shape[1]) * settings.hop_length / settings.sample_rate
    loud_enough = frame_power >= _MOD_GATE * frame_power.max(axis=1, keepdims=True)
    mask = (loud_enough & (frame_s[None, :] >= attack_end_s[:, None]) & (frame_power > 0.0)).astype(
        np.float64
    )
    count = mask.sum(axis=1)
    log_centroid = np.log2(np.maximum(centroid_t, 1.0))
    log_amplitude = 0.5 * np.log2(np.maximum(frame_power, _TINY))
    centroid_std = np.sqrt(_masked_variance(log_centroid, mask, count))
    amplitude_std = np.sqrt(_detrended_variance(log_amplitude, frame_s, mask, count))
    # Too few sustained frames (very slow attack, very short sound): no movement to measure.
    return np.where(count >= _MIN_MOD_FRAMES, centroid_std + amplitude_std, 0.0)


def _masked_mean(values: np.ndarray, mask: np.ndarray, count: np.ndarray) -> np.ndarray:
    return (values * mask).sum(axis=1) / np.maximum(count, 1.0)


def _masked_variance(values: np.ndarray, mask: np.ndarray, count: np.ndarray) -> np.ndarray:
    centred = values - _masked_mean(values, mask, count)[:, None]
    return _masked_mean(np.square(centred), mask, count)


def _detrended_variance(
    values: np.ndarray, times: np.ndarray, mask: np.ndarray, count: np.ndarray
) -> np.ndarray:
    """Variance of the residual of a per-row least-squares line fitted on the masked frames."""
    t = np.broadcast_to(times, values.shape)
    t_centred = t - _masked_mean(t, mask, count)[:, None]
    v_centred = values - _masked_mean(values, mask, count)[:, None]
    slope = (t_centred * v_centred * mask).sum(axis=1) / np.maximum(
        (np.square(t_centred) * mask).sum(axis=1), _TINY
    )
    residual = v_centred - slope[:, None] * t_centred
    return _masked_mean(np.square(residual), mask, count)
