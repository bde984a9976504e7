"""Audio features: mel spectrograms, metrics, descriptors, semantic tags and audio file I/O.

- :mod:`.mel` — the paper's log-mel features (one function family for training, evaluation, the
  app and tests) and the training-split normaliser.
- :mod:`.metrics` — SC, log-mel MSE and MSE_n, per item or per batch.
- :mod:`.descriptors` — centroid, flatness, modulation, attack, loudness, high-band energy.
- :mod:`.tags` — Diva-style ``Character`` tags (Dark/Bright, ...) fitted on a corpus.
- :mod:`.audio_io` — load any WAV/FLAC/OGG as 22,050 Hz mono 4 s; atomic WAV writes.
- :mod:`.pitch` — f0 per frame with a voicing confidence (librosa's YIN), a note's pitch.
- :mod:`.shape` — a sound's shape: loudness, pitch, brightness... contours (imitation).

This package depends only on numpy, scipy, librosa and soundfile (no Qt, no torch).
"""

from flowsynth_gui.features.audio_io import (
    AudioFileError,
    ClippedAudioError,
    LoadedAudio,
    SilentAudioError,
    check_audible,
    load_audio,
    resample,
    write_wav,
)
from flowsynth_gui.features.descriptors import (
    DESCRIPTOR_NAMES,
    NOTE_HELD_S,
    RECORDED_S,
    Descriptors,
    compute_descriptors,
    compute_descriptors_batch,
)
from flowsynth_gui.features.mel import (
    DEFAULT_SETTINGS,
    FeatureNormaliser,
    MelSettings,
    log_mel,
    log_mel_batch,
    mel_filterbank,
    mel_from_stft,
    mel_magnitude,
    mel_magnitude_batch,
    stft_magnitude,
    stft_magnitude_batch,
)
from flowsynth_gui.features.metrics import (
    log_mel_mse,
    normalised_parameter_mse,
    spectral_convergence,
)
from flowsynth_gui.features.tags import TAG_PAIRS, TagRules, character_string, parse_character

__all__ = [
    "DEFAULT_SETTINGS",
    "DESCRIPTOR_NAMES",
    "NOTE_HELD_S",
    "RECORDED_S",
    "TAG_PAIRS",
    "AudioFileError",
    "ClippedAudioError",
    "Descriptors",
    "FeatureNormaliser",
    "LoadedAudio",
    "MelSettings",
    "SilentAudioError",
    "TagRules",
    "character_string",
    "check_audible",
    "compute_descriptors",
    "compute_descriptors_batch",
    "load_audio",
    "log_mel",
    "log_mel_batch",
    "log_mel_mse",
    "mel_filterbank",
    "mel_from_stft",
    "mel_magnitude",
    "mel_magnitude_batch",
    "normalised_parameter_mse",
    "parse_character",
    "resample",
    "spectral_convergence",
    "stft_magnitude",
    "stft_magnitude_batch",
    "write_wav",
]
