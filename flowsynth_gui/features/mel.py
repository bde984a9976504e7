"""Mel spectrogram features (paper, section 4.1; DESIGN.md section 2).

One function family computes the features used for training, evaluation, the app and the tests:
a centred STFT (reflect padding of ``n_fft // 2``, periodic Hann window, magnitude), librosa's
Slaney mel filterbank (``htk=False, norm='slaney'``), and ``log(mel + 1e-3)``. The STFT and the
filterbank product stay our own: float32 and batched, 0.82 ms per 4 s sound against 0.96 ms for
librosa's ``melspectrogram`` on a batch of 32, and equal to it with ``pad_mode='reflect'``
(1.5e-7 relative; librosa 0.11 pads with zeros by default, the shipped model was trained on
reflect padding). A test pins the numbers.
A corpus-wide scalar mean and standard deviation (:class:`FeatureNormaliser`), fitted on the
training split only, standardise the log-mel for the models.

Every function takes ``(samples, sample_rate)`` and refuses audio at another rate instead of
silently computing features the model has never seen.

>>> import numpy as np
>>> audio = np.zeros(4 * 22050, dtype=np.float32)
>>> log_mel(audio, 22050).shape
(128, 87)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import Any

import librosa
import numpy as np
import scipy.fft
from numba import njit

__all__ = [
    "DEFAULT_SETTINGS",
    "FeatureNormaliser",
    "MelSettings",
    "hz_to_mel",
    "log_mel",
    "log_mel_batch",
    "mel_filterbank",
    "mel_frequencies",
    "mel_from_stft",
    "mel_magnitude",
    "mel_magnitude_batch",
    "mel_to_hz",
    "n_frames",
    "stft_frequencies",
    "stft_magnitude",
    "stft_magnitude_batch",
    "validate_audio",
]

# Sounds per FFT chunk in the batch functions: bounds the temporary frame and spectrum arrays
# (about 1.4 MB per 4 s sound each) while keeping the per-call numpy overhead negligible.
_BATCH_CHUNK = 16


@dataclass(frozen=True)
class MelSettings:
    """Feature settings; saved beside datasets and checkpoints so that features always match."""

    sample_rate: int = 22050
    n_fft: int = 2048
    hop_length: int = 1024
    n_mels: int = 128
    fmin: float = 30.0
    fmax: float = 11000.0
    log_offset: float = 1e-3

    def __post_init__(self) -> None:
        if self.sample_rate <= 0 or self.n_fft <= 0 or self.hop_length <= 0 or self.n_mels <= 0:
            raise ValueError(f"MelSettings: sizes and sample rate must be positive, got {self}")
        if not 0.0 <= self.fmin < self.fmax <= self.sample_rate / 2:
            raise ValueError(
                f"MelSettings: need 0 <= fmin < fmax <= sample_rate / 2, got fmin={self.fmin}, "
                f"fmax={self.fmax}, sample_rate={self.sample_rate}"
            )
        if self.log_offset <= 0.0:
            raise ValueError(f"MelSettings: log_offset must be > 0, got {self.log_offset}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MelSettings:
        """Rebuild from a sidecar; unknown keys are an error, missing keys take defaults."""
        known = {f.name: f.type for f in fields(cls)}
        unknown = set(data) - set(known)
        if unknown:
            raise ValueError(f"MelSettings.from_dict: unknown keys {sorted(unknown)}")
        converted: dict[str, Any] = {}
        for name, value in data.items():
            converted[name] = int(value) if known[name] == "int" else float(value)
        return cls(**converted)


DEFAULT_SETTINGS = MelSettings()


# --- validation -----------------------------------------------------------------------------


def validate_audio(
    samples: np.ndarray, sample_rate: int, settings: MelSettings, *, batch: bool, caller: str
) -> np.ndarray:
    """Check rate, shape and content; return the audio as a float32 array.

    Shared by the mel and descriptor functions so that every feature refuses the same inputs.
    """
    if int(sample_rate) != settings.sample_rate:
        raise ValueError(
            f"{caller}: audio is {sample_rate} Hz but the features expect "
            f"{settings.sample_rate} Hz; resample first with "
            "flowsynth_gui.features.audio_io.load_audio(path, sample_rate=...) or "
            "flowsynth_gui.features.audio_io.resample(samples, from_rate, to_rate)"
        )
    audio = np.asarray(samples)
    if not (np.issubdtype(audio.dtype, np.floating) or np.issubdtype(audio.dtype, np.integer)):
        raise ValueError(f"{caller}: audio must hold real numbers, got dtype {audio.dtype}")
    want = 2 if batch else 1
    if audio.ndim != want:
        shape = "(n_sounds, n_samples)" if batch else "(n_samples,)"
        hint = " (use the *_batch function for several sounds)" if audio.ndim == 2 else ""
        raise ValueError(f"{caller}: audio must have shape {shape}, got {audio.shape}{hint}")
    if audio.size == 0:
        raise ValueError(f"{caller}: audio is empty (shape {audio.shape})")
    audio = audio.astype(np.float32, copy=False)
    if not np.isfinite(audio).all():
        raise ValueError(f"{caller}: audio contains NaN or infinite samples")
    return audio


# --- mel scale (Slaney, as librosa with htk=False) ------------------------------------------

def hz_to_mel(frequencies: np.ndarray | float) -> np.ndarray:
    """Hz -> Slaney mel (librosa ``hz_to_mel(htk=False)``: linear below 1 kHz, log above)."""
    return np.asarray(librosa.hz_to_mel(np.asarray(frequencies, dtype=np.float64), htk=False))


def mel_to_hz(mels: np.ndarray | float) -> np.ndarray:
    """Slaney mel -> Hz (librosa ``mel_to_hz(htk=False)``)."""
    return np.asarray(librosa.mel_to_hz(np.asarray(mels, dtype=np.float64), htk=False))


def mel_frequencies(n: int, fmin: float, fmax: float) -> np.ndarray:
    """``n`` frequencies (Hz) evenly spaced on the mel scale from ``fmin`` to ``fmax``."""
    return librosa.mel_frequencies(n, fmin=fmin, fmax=fmax, htk=False)


def stft_frequencies(settings: MelSettings = DEFAULT_SETTINGS) -> np.ndarray:
    """Centre frequency (Hz) of each STFT bin, ``1 + n_fft // 2`` values."""
    return np.fft.rfftfreq(settings.n_fft, d=1.0 / settings.sample_rate)


@lru_cache(maxsize=8)
def mel_filterbank(settings: MelSettings = DEFAULT_SETTINGS) -> np.ndarray:
    """Slaney mel filterbank, float32 ``(n_mels, 1 + n_fft // 2)``, cached and read-only:
    ``librosa.filters.mel(htk=False, norm='slaney')``, the reference code's features (triangles
    between ``n_mels + 2`` mel-spaced edges, each of the same area)."""
    bank = librosa.filters.mel(sr=settings.sample_rate, n_fft=settings.n_fft,
                               n_mels=settings.n_mels, fmin=settings.fmin, fmax=settings.fmax,
                               htk=False, norm="slaney", dtype=np.float32)
    bank.setflags(write=False)  # shared by every caller through the cache
    return bank


# --- STFT ---------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _band_ranges(settings: MelSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each band's first bin, its weights' offset into one flat array, and the weights.

    A Slaney band covers a few contiguous FFT bins (about 2,000 weights of 131,000), so summing
    each band over its own bins is ~20x less work than any matrix product.
    """
    bank = mel_filterbank(settings)
    starts, offsets, weights = [], [0], []
    for band in bank:
        nonzero = np.flatnonzero(band)
        lo, hi = (nonzero[0], nonzero[-1] + 1) if len(nonzero) else (0, 0)
        starts.append(lo)
        weights.append(band[lo:hi])
        offsets.append(offsets[-1] + hi - lo)
    return (np.array(starts, np.int64), np.array(offsets, np.int64),
            np.concatenate(weights).astype(np.float32))


# fastmath lets each band's sum run in SIMD lanes (its order is free: float32 sums of a
# few hundred products, far inside the features' precision)
@njit(cache=True, nogil=True, fastmath=True)
def _band_sums(rows: np.ndarray, starts: np.ndarray, offsets: np.ndarray,
               weights: np.ndarray) -> np.ndarray:
    out = np.empty((rows.shape[0], starts.shape[0]), np.float32)
    for r in range(rows.shape[0]):
        for m in range(starts.shape[0]):
            total = np.float32(0.0)
            first = starts[m] - offsets[m]
            for w in range(offsets[m], offsets[m + 1]):
                total += rows[r, first + w] * weights[w]
            out[r, m] = total
    return out


def _apply_filterbank(rows: np.ndarray, settings: MelSettings) -> np.ndarray:
    """``(rows, bins)`` magnitudes -> ``(rows, n_mels)`` mel magnitudes."""
    return _band_sums(np.ascontiguousarray(rows, dtype=np.float32), *_band_ranges(settings))


@lru_cache(maxsize=8)
def _periodic_hann(n_fft: int) -> np.ndarray:
    # Periodic ("fftbins=True") Hann, as scipy.signal.get_window('hann', n) and librosa use.
    window = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    window.setflags(write=False)
    return window


def n_frames(n_samples: int, settings: MelSettings = DEFAULT_SETTINGS) -> int:
    """Number of centred frames for ``n_samples`` samples: ``1 + n_samples // hop_length``."""
    return 1 + int(n_samples) // settings.hop_length


def _frame_spectra(audio: np.ndarray, settings: MelSettings) -> np.ndarray:
    """Magnitude spectra of centred frames: ``(n, samples)`` -> float32 ``(n, frames, bins)``."""
    pad = settings.n_fft // 2
    # Reflect padding as librosa < 0.10 (the reference code's version) centres frame 0 on
    # sample 0 without inventing a silent lead-in.
    padded = np.pad(audio, ((0, 0), (pad, pad)), mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, settings.n_fft, axis=-1)
    frames = frames[:, :: settings.hop_length]
    # The product materialises the frames once. scipy.fft is numpy's pocketfft with native
    # float32 kernels: complex64 out, about 3x faster than np.fft.rfft here.
    spectra = scipy.fft.rfft(frames * _periodic_hann(settings.n_fft), axis=-1)
    return np.abs(spectra)


def _chunks(audio: np.ndarray) -> Iterable[tuple[int, np.ndarray]]:
    for start in range(0, audio.shape[0], _BATCH_CHUNK):
        yield start, audio[start : start + _BATCH_CHUNK]


def stft_magnitude(
    samples: np.ndarray, sample_rate: int, settings: MelSettings = DEFAULT_SETTINGS
) -> np.ndarray:
    """STFT magnitude of one sound, float32 ``(1 + n_fft // 2, frames)`` (librosa layout)."""
    audio = validate_audio(samples, sample_rate, settings, batch=False, caller="stft_magnitude")
    return np.ascontiguousarray(_frame_spectra(audio[None, :], settings)[0].T)


def stft_magnitude_batch(
    samples: np.ndarray, sample_rate: int, settings: MelSettings = DEFAULT_SETTINGS
) -> np.ndarray:
    """STFT magnitudes of equal-length sounds ``(n, samples)`` -> ``(n, bins, frames)``.

    The array is a view of frames-major memory (the layout the transform produces, which the
    mel filterbank and the descriptors read directly): transposing it back costs nothing.
    """
    audio = validate_audio(
        samples, sample_rate, settings, batch=True, caller="stft_magnitude_batch"
    )
    bins = 1 + settings.n_fft // 2
    out = np.empty((audio.shape[0], n_frames(audio.shape[1], settings), bins), np.float32)
    for start, chunk in _chunks(audio):
        out[start : start + len(chunk)] = _frame_spectra(chunk, settings)
    return out.transpose(0, 2, 1)


# --- mel ------------------------------------------------------------------------------------


def mel_from_stft(stft_mag: np.ndarray, settings: MelSettings = DEFAULT_SETTINGS) -> np.ndarray:
    """Mel magnitude from an STFT magnitude ``(bins, frames)`` or ``(n, bins, frames)``.

    Lets a caller that already has the STFT (e.g. for descriptors) skip a second transform.
    """
    mag = np.asarray(stft_mag, dtype=np.float32)
    bins = 1 + settings.n_fft // 2
    if mag.ndim not in (2, 3) or mag.shape[-2] != bins:
        raise ValueError(
            f"mel_from_stft: expected shape (..., {bins}, frames) for n_fft={settings.n_fft}, "
            f"got {mag.shape}"
        )
    # Frames-major (..., frames, bins) is how the STFT was computed (so usually contiguous):
    # one band-sum pass over all rows instead of a broadcast matmul per item.
    frames_major = np.swapaxes(mag, -1, -2)
    rows = np.ascontiguousarray(frames_major).reshape(-1, bins)
    mel = _apply_filterbank(rows, settings).reshape(*frames_major.shape[:-1], -1)
    return np.swapaxes(mel, -1, -2).astype(np.float32, copy=False)


def mel_magnitude(
    samples: np.ndarray, sample_rate: int, settings: MelSettings = DEFAULT_SETTINGS
) -> np.ndarray:
    """Linear mel magnitude of one sound, float32 ``(n_mels, frames)``."""
    audio = validate_audio(samples, sample_rate, settings, batch=False, caller="mel_magnitude")
    return _mel_batch(audio[None, :], settings)[0]


def mel_magnitude_batch(
    samples: np.ndarray, sample_rate: int, settings: MelSettings = DEFAULT_SETTINGS
) -> np.ndarray:
    """Linear mel magnitudes of equal-length sounds ``(n, samples)`` -> ``(n, n_mels, frames)``."""
    audio = validate_audio(samples, sample_rate, settings, batch=True, caller="mel_magnitude_batch")
    return _mel_batch(audio, settings)


def _mel_batch(audio: np.ndarray, settings: MelSettings) -> np.ndarray:
    out = np.empty(
        (audio.shape[0], settings.n_mels, n_frames(audio.shape[1], settings)), np.float32
    )
    for start, chunk in _chunks(audio):
        spectra = _frame_spectra(chunk, settings)
        # (n * frames, bins) -> (n * frames, mels) in one call, no transposed STFT.
        mel = _apply_filterbank(spectra.reshape(-1, spectra.shape[-1]), settings).reshape(
            *spectra.shape[:2], -1)
        out[start : start + len(chunk)] = mel.transpose(0, 2, 1)
    return out


def log_mel(
    samples: np.ndarray, sample_rate: int, settings: MelSettings = DEFAULT_SETTINGS
) -> np.ndarray:
    """``log(mel + log_offset)`` of one sound, float32 ``(n_mels, frames)``."""
    audio = validate_audio(samples, sample_rate, settings, batch=False, caller="log_mel")
    return _log(_mel_batch(audio[None, :], settings)[0], settings)


def log_mel_batch(
    samples: np.ndarray, sample_rate: int, settings: MelSettings = DEFAULT_SETTINGS
) -> np.ndarray:
    """``log(mel + log_offset)`` of equal-length sounds ``(n, samples)`` -> ``(n, mels, t)``."""
    audio = validate_audio(samples, sample_rate, settings, batch=True, caller="log_mel_batch")
    return _log(_mel_batch(audio, settings), settings)


def _log(mel: np.ndarray, settings: MelSettings) -> np.ndarray:
    # In place: the mel array is ours and no longer needed in linear form.
    mel += np.float32(settings.log_offset)
    return np.log(mel, out=mel)


# --- normalisation --------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureNormaliser:
    """Corpus-wide scalar mean and standard deviation of the log-mel.

    Scalar, as in the reference code, so that relative levels between mel bands survive. Fit it
    on the training split only: the reference code included test sounds, which leaks test
    statistics into the model.
    """

    mean: float
    std: float

    def __post_init__(self) -> None:
        if not (np.isfinite(self.mean) and np.isfinite(self.std) and self.std > 0.0):
            raise ValueError(
                f"FeatureNormaliser: need a finite mean and a positive std, got mean={self.mean},"
                f" std={self.std}"
            )

    @classmethod
    def fit(cls, log_mels: np.ndarray | Iterable[np.ndarray]) -> FeatureNormaliser:
        """Fit on an array of log-mels or an iterable of arrays (e.g. dataset shards).

        Per-array means and squared deviations are merged in float64 (Chan et al.), which stays
        exact where a sum of squares minus a squared mean would cancel catastrophically.
        """
        arrays = [log_mels] if isinstance(log_mels, np.ndarray) else log_mels
        count, mean, squares = 0, 0.0, 0.0
        for array in arrays:
            values = np.asarray(array, dtype=np.float64)
            if values.size == 0:
                continue
            if not np.isfinite(values).all():
                raise ValueError("FeatureNormaliser.fit: log-mels contain NaN or inf")
            part_mean = float(values.mean())
            part_squares = float(np.square(values - part_mean).sum())
            total = count + values.size
            delta = part_mean - mean
            squares += part_squares + delta * delta * count * values.size / total
            mean += delta * values.size / total
            count = total
        if count == 0:
            raise ValueError("FeatureNormaliser.fit: no values to fit (empty training split?)")
        std = float(np.sqrt(squares / count))
        # Equal values still leave rounding-level spread; dividing by it would blow up features.
        if std <= 1e-9 * max(1.0, abs(mean)):
            raise ValueError("FeatureNormaliser.fit: all values are equal (silent corpus?)")
        return cls(mean=mean, std=std)

    def apply(self, log_mel_values: np.ndarray) -> np.ndarray:
        """Standardise: ``(x - mean) / std``, float32."""
        values = np.asarray(log_mel_values, dtype=np.float32)
        return (values - np.float32(self.mean)) / np.float32(self.std)

    def invert(self, normalised: np.ndarray) -> np.ndarray:
        """Undo :meth:`apply`: ``x * std + mean``, float32."""
        values = np.asarray(normalised, dtype=np.float32)
        return values * np.float32(self.std) + np.float32(self.mean)

    def to_dict(self) -> dict[str, float]:
        return {"mean": float(self.mean), "std": float(self.std)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureNormaliser:
        try:
            return cls(mean=float(data["mean"]), std=float(data["std"]))
        except KeyError as err:
            raise ValueError(f"FeatureNormaliser.from_dict: missing key {err}") from None
