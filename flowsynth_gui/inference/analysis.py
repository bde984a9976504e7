"""What a sound to be matched is made of: its pitch, 4 s at that pitch, and 4 s at MIDI 60.

Every dataset sound, and so every model's and the sound index's input, is a note rendered at
:data:`~flowsynth_gui.synth.render.REFERENCE_NOTE`. An input at another pitch is transposed
there (resampled, which keeps its timbre's shape in the spectrum) for the model and the index;
candidates are rendered back at the input's own pitch and compared with the input as it is.

Loud is not broken: a full-scale saw or square is a sound to match, so samples at full scale
are reported in ``notes`` instead of refused. What cannot describe a sound (silence, a blip,
NaN) is refused with :class:`~flowsynth_gui.features.audio_io.AudioFileError`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

import numpy as np
import scipy.signal

from flowsynth_gui.features.audio_io import (
    CLIP_LEVEL,
    AudioFileError,
    check_audible,
    load_audio,
    resample,
)
from flowsynth_gui.features.mel import mel_magnitude
from flowsynth_gui.features.pitch import estimate_pitch
from flowsynth_gui.features.shape import SoundShape, describe_shape
from flowsynth_gui.synth.render import DEFAULT_SAMPLE_RATE, REFERENCE_NOTE, RENDER_SECONDS

__all__ = ["ImitationTarget", "MAX_NOTE", "MIN_NOTE", "MIN_SECONDS", "MatchTarget",
           "analyse_audio", "analyse_imitation", "fit_seconds", "load_imitation", "load_target",
           "transpose"]

MIN_NOTE, MAX_NOTE = 24, 108
# Less sound than this between the first and last audible sample is a click, not a sound: a
# 0.1 s "ts" imitating a hi-hat is a sound.
MIN_SECONDS = 0.05
_PITCH_SECONDS = 2.0  # the pitch is read from the start of the note, where it is held


@dataclass(frozen=True)
class MatchTarget:
    """An analysed input: what every candidate is rendered at and compared with."""

    audio: np.ndarray  # 4 s mono float32 at 22,050 Hz, at the input's own pitch
    at_reference: np.ndarray  # the same transposed to REFERENCE_NOTE (model and index input)
    mel: np.ndarray  # linear mel magnitude of ``audio``: the target of spectral convergence
    note: int  # the MIDI note candidates are rendered at
    detected_hz: float | None  # None when the input had no clear pitch
    notes: tuple[str, ...]  # what was done to the input, for the user


def transpose(samples: np.ndarray, semitones: float) -> np.ndarray:
    """Shift pitch by resampling (duration changes with it, as on a tape machine)."""
    if abs(semitones) < 1e-3:
        return np.asarray(samples, dtype=np.float32)
    length = max(1, int(round(len(samples) * 2.0 ** (semitones / 12.0))))
    return scipy.signal.resample(samples, length).astype(np.float32)


def fit_seconds(samples: np.ndarray, seconds: float = RENDER_SECONDS) -> np.ndarray:
    """The first ``seconds`` of ``samples``, zero-padded when shorter (float32)."""
    length = int(round(seconds * DEFAULT_SAMPLE_RATE))
    out = np.zeros(length, dtype=np.float32)
    out[:min(length, len(samples))] = samples[:length]
    return out


def _checked(samples: np.ndarray, sample_rate: int,
             source: str | os.PathLike[str] | None) -> tuple[np.ndarray, list[str]]:
    """Mono audio at 22,050 Hz that holds a sound (else AudioFileError), and what to tell."""
    audio = np.asarray(samples, dtype=np.float32)
    if audio.ndim != 1:
        raise AudioFileError("match: give mono audio (mix channels down first)")
    if sample_rate != DEFAULT_SAMPLE_RATE:
        audio = resample(audio, sample_rate, DEFAULT_SAMPLE_RATE)
    check_audible(audio, DEFAULT_SAMPLE_RATE, min_duration=MIN_SECONDS, source=source,
                  refuse_clipped=False)
    full_scale = float(np.mean(np.abs(audio) >= CLIP_LEVEL))
    if full_scale > 0.01:
        return audio, [f"{full_scale:.0%} of samples at full scale: matched as it is"]
    return audio, []


def analyse_audio(samples: np.ndarray, sample_rate: int,
                  source: str | os.PathLike[str] | None = None) -> MatchTarget:
    """Pitch, 4 s at that pitch and 4 s at the reference pitch of mono ``samples``."""
    audio, notes = _checked(samples, sample_rate, source)
    pitch = estimate_pitch(audio[: int(_PITCH_SECONDS * DEFAULT_SAMPLE_RATE)],
                           DEFAULT_SAMPLE_RATE)
    if pitch.midi_note is None:
        note = REFERENCE_NOTE
        notes.append(f"no clear pitch: matched at MIDI note {REFERENCE_NOTE}")
    else:
        note = int(min(MAX_NOTE, max(MIN_NOTE, round(pitch.midi_note))))
        notes.append(f"pitch {pitch.hz:.1f} Hz -> MIDI note {note}")
    held = fit_seconds(audio)
    at_reference = fit_seconds(transpose(audio, note - REFERENCE_NOTE))
    return MatchTarget(held, at_reference, mel_magnitude(held, DEFAULT_SAMPLE_RATE), note,
                       pitch.hz, tuple(notes))


def load_target(path: str | os.PathLike[str]) -> MatchTarget:
    """Read an audio file (any rate, channels, length) and analyse it."""
    loaded = load_audio(path, sample_rate=DEFAULT_SAMPLE_RATE, duration=None)
    target = analyse_audio(loaded.samples, loaded.sample_rate, source=path)
    return MatchTarget(target.audio, target.at_reference, target.mel, target.note,
                       target.detected_hz, tuple(loaded.notes) + target.notes)


@dataclass(frozen=True)
class ImitationTarget:
    """An analysed imitation (a voice, a tapped rhythm): its shape and the note to play."""

    shape: SoundShape  # of its active part (leading silence trimmed), at most 4 s of it
    note: int  # its median pitch as a MIDI note (REFERENCE_NOTE when unpitched)
    audio: np.ndarray  # 4 s from its onset at 22,050 Hz, as it is (what the user hears)
    at_reference: np.ndarray  # the same transposed to REFERENCE_NOTE (the model's input)
    notes: tuple[str, ...]


def analyse_imitation(samples: np.ndarray, sample_rate: int,
                      source: str | os.PathLike[str] | None = None) -> ImitationTarget:
    """Shape and pitch of an imitation: silence around it trimmed, its first 4 s of sound
    used, no pitch (breath, "tss") played at the reference note; silence and clicks refused."""
    audio, notes = _checked(samples, sample_rate, source)
    whole = describe_shape(audio, DEFAULT_SAMPLE_RATE)
    onset = int(whole.onset_seconds * DEFAULT_SAMPLE_RATE)
    if whole.onset_seconds >= 0.1:
        notes.append(f"{whole.onset_seconds:.1f} s of silence before it skipped")
    held = fit_seconds(audio[onset:])
    shape = whole
    if whole.seconds > RENDER_SECONDS:
        notes.append(f"{whole.seconds:.1f} s long: its first {RENDER_SECONDS:.0f} s are matched "
                     "(the synth's note is that long)")
        shape = describe_shape(held, DEFAULT_SAMPLE_RATE)
    if shape.pitch_hz is None:
        note = REFERENCE_NOTE
        notes.append(f"no clear pitch (breath, noise): played at MIDI note {REFERENCE_NOTE}")
    else:
        note = int(min(MAX_NOTE, max(MIN_NOTE, round(69 + 12 * np.log2(shape.pitch_hz / 440)))))
        notes.append(f"pitch {shape.pitch_hz:.1f} Hz -> MIDI note {note}")
    notes.append(f"{shape.seconds:.2f} s of sound")
    at_reference = fit_seconds(transpose(held, note - REFERENCE_NOTE))
    return ImitationTarget(shape, note, held, at_reference, tuple(notes))


def load_imitation(path: str | os.PathLike[str]) -> ImitationTarget:
    """Read an audio file of an imitation (any rate, channels, length) and analyse it."""
    loaded = load_audio(path, sample_rate=DEFAULT_SAMPLE_RATE, duration=None)
    target = analyse_imitation(loaded.samples, loaded.sample_rate, source=path)
    return replace(target, notes=tuple(loaded.notes) + target.notes)
