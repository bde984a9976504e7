"""Reading and writing audio files for the features, the app and the datasets.

:func:`load_audio` turns any WAV/FLAC/OGG file (any sample rate, any channel count) into what the
features expect: mono float32 at 22,050 Hz, 4 s long, and says what it did in ``notes`` so the
app can show the user. Problems raise :class:`AudioFileError` (a ValueError) with a message that
names the file and says what to do.

>>> import numpy as np
>>> resample(np.zeros(44100, dtype=np.float32), 44100, 22050).shape
(22050,)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile

from flowsynth_gui.fileio import atomic_path

__all__ = [
    "CLIP_LEVEL",
    "MAX_CLIPPED_FRACTION",
    "SILENCE_DBFS",
    "AudioFileError",
    "ClippedAudioError",
    "LoadedAudio",
    "SilentAudioError",
    "check_audible",
    "load_audio",
    "resample",
    "write_wav",
]

_SUPPORTED = "WAV, FLAC or OGG"
SILENCE_DBFS = -60.0
CLIP_LEVEL = 0.999
MAX_CLIPPED_FRACTION = 0.01


class AudioFileError(ValueError):
    """An audio file or signal that cannot be used; the message says what to do."""


class SilentAudioError(AudioFileError):
    """The audio is silent, or holds too little sound to analyse."""


class ClippedAudioError(AudioFileError):
    """Too many samples sit at full scale: the recording clipped."""


@dataclass(frozen=True)
class LoadedAudio:
    """Mono float32 samples at ``sample_rate``, and what loading did to the file's audio."""

    samples: np.ndarray
    sample_rate: int
    source_path: Path
    notes: tuple[str, ...] = ()

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate


def load_audio(
    path: str | os.PathLike[str], sample_rate: int = 22050, duration: float | None = 4.0
) -> LoadedAudio:
    """Read ``path``; mix down to mono, resample to ``sample_rate``, pad/trim to ``duration``.

    ``duration=None`` keeps the file's full length. Padding adds silence at the end, trimming
    keeps the start (where the note is), matching the 4 s rendering protocol.
    """
    source = Path(path)
    data, file_rate = _read(source)
    notes: list[str] = []
    if data.shape[1] > 1:
        notes.append(f"mixed {data.shape[1]} channels down to mono")
    samples = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if file_rate != sample_rate:
        samples = resample(samples, file_rate, sample_rate)
        notes.append(f"resampled {file_rate} Hz -> {sample_rate} Hz")
    if duration is not None:
        samples, note = _fit_length(samples, sample_rate, duration)
        if note:
            notes.append(note)
    return LoadedAudio(
        samples=np.ascontiguousarray(samples, dtype=np.float32),
        sample_rate=int(sample_rate),
        source_path=source,
        notes=tuple(notes),
    )


def _read(source: Path) -> tuple[np.ndarray, int]:
    """Read a file as float32 ``(frames, channels)``; translate every failure to AudioFileError."""
    if not source.exists():
        raise AudioFileError(f"{source}: file not found; check the path or choose another file")
    if source.is_dir():
        raise AudioFileError(f"{source}: is a folder; choose an audio file inside it")
    try:
        data, file_rate = soundfile.read(source, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioFileError(
            f"{source}: cannot be read as audio ({err}); use a {_SUPPORTED} file, converting "
            "other formats (e.g. with Audacity or ffmpeg) first"
        ) from err
    if data.shape[0] == 0:
        raise AudioFileError(f"{source}: holds no audio (0 frames); record or export it again")
    if not np.isfinite(data).all():
        raise AudioFileError(
            f"{source}: contains NaN or infinite samples (a broken float export); export it "
            "again, e.g. as 16- or 24-bit PCM"
        )
    return data, int(file_rate)


def _fit_length(samples: np.ndarray, sample_rate: int, duration: float) -> tuple[np.ndarray, str]:
    if duration <= 0:
        raise ValueError(f"load_audio: duration must be > 0 seconds or None, got {duration}")
    target = round(duration * sample_rate)
    have = len(samples)
    before, after = have / sample_rate, target / sample_rate
    if have < target:
        padded = np.concatenate([samples, np.zeros(target - have, dtype=samples.dtype)])
        return padded, f"padded {before:.2f} s -> {after:.2f} s with silence"
    if have > target:
        return samples[:target], f"trimmed {before:.2f} s -> {after:.2f} s"
    return samples, ""


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Polyphase resampling of 1-D audio (or ``(n, samples)`` rows), float32 out.

    Uses the reduced ratio (44,100 -> 22,050 is 1:2; 8,000 -> 22,050 is 441:160), so the
    filter is as short as the ratio allows; output length is ``ceil(len * to / from)``.
    """
    if int(from_rate) <= 0 or int(to_rate) <= 0:
        raise ValueError(f"resample: sample rates must be positive, got {from_rate} -> {to_rate}")
    audio = np.asarray(samples, dtype=np.float32)
    if audio.ndim not in (1, 2) or audio.shape[-1] == 0:
        raise ValueError(f"resample: expected non-empty 1-D or 2-D audio, got {audio.shape}")
    if int(from_rate) == int(to_rate):
        return audio.copy()
    divisor = math.gcd(int(from_rate), int(to_rate))
    up, down = int(to_rate) // divisor, int(from_rate) // divisor
    out = scipy.signal.resample_poly(audio, up, down, axis=-1)
    return out.astype(np.float32, copy=False)


def check_audible(
    samples: np.ndarray,
    sample_rate: int,
    min_duration: float = 0.25,
    source: str | os.PathLike[str] | None = None,
    refuse_clipped: bool = True,
) -> None:
    """Refuse audio that cannot describe a sound: silent, too short, or clipped.

    Silent: peak below -60 dBFS. Too short: less than ``min_duration`` seconds between the first
    and the last sample above -60 dBFS. Clipped: more than 1 % of samples at or beyond ±0.999.
    ``source`` (a file name) is put in the messages.
    """
    audio = np.asarray(samples, dtype=np.float32)
    name = f"{source}: " if source is not None else ""
    if audio.ndim != 1 or audio.size == 0:
        raise AudioFileError(f"{name}expected non-empty mono audio, got shape {audio.shape}")
    if not np.isfinite(audio).all():
        raise AudioFileError(f"{name}audio contains NaN or infinite samples")
    magnitude = np.abs(audio)
    threshold = 10.0 ** (SILENCE_DBFS / 20.0)
    peak = float(magnitude.max())
    if peak < threshold:
        peak_db = 20.0 * math.log10(peak) if peak > 0 else -math.inf
        raise SilentAudioError(
            f"{name}audio is silent (peak {peak_db:.1f} dBFS, below {SILENCE_DBFS:.0f} dBFS); "
            "check the input level or choose a file with sound in it"
        )
    loud = np.flatnonzero(magnitude >= threshold)
    sounding = (loud[-1] - loud[0] + 1) / sample_rate
    if sounding < min_duration:
        raise SilentAudioError(
            f"{name}only {sounding:.2f} s of sound (need at least {min_duration:.2f} s); "
            "use a longer recording of the note"
        )
    clipped = float(np.mean(magnitude >= CLIP_LEVEL))
    if refuse_clipped and clipped > MAX_CLIPPED_FRACTION:
        raise ClippedAudioError(
            f"{name}{clipped:.1%} of samples are at full scale (clipped); record again at a "
            "lower input level or use an unclipped version of the file"
        )


def write_wav(
    path: str | os.PathLike[str], samples: np.ndarray, sample_rate: int, subtype: str = "FLOAT"
) -> Path:
    """Write mono ``(n,)`` or multichannel ``(n, channels)`` audio to a WAV file, atomically.

    32-bit float by default so that a written sound reads back bit for bit; pass
    ``subtype='PCM_16'`` or ``'PCM_24'`` for tools that want integer WAVs.
    """
    audio = np.asarray(samples, dtype=np.float32)
    if audio.ndim not in (1, 2) or audio.shape[0] == 0:
        raise ValueError(f"write_wav: expected non-empty (n,) or (n, channels), got {audio.shape}")
    if not np.isfinite(audio).all():
        raise ValueError(f"write_wav: refusing to write NaN or infinite samples to {path}")
    if int(sample_rate) <= 0:
        raise ValueError(f"write_wav: sample rate must be positive, got {sample_rate}")
    target = Path(path)
    # The temporary name ends in '.tmp', so the format is named rather than guessed.
    with atomic_path(target, suffix=".wav") as tmp:
        soundfile.write(tmp, audio, int(sample_rate), subtype=subtype, format="WAV")
    return target
