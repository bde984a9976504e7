"""An imitation benchmark set built offline: synth sounds of distinct shapes, imitated by voice.

Matching a *vocal imitation* ("wooow", "tss", "bwaaa") to a synth preset is judged by how well
the found sound follows the imitation's shape (SynthAssist, Cartwright & Pardo 2014), and a
benchmark for it needs originals whose answer is known plus imitations of them. Real
recordings cost a session with people; this module builds a stand-in with no network and no
model, deterministic for a seed, that the project can rebuild anywhere.

Originals, each 4 s (trimmed or padded), of these :data:`KINDS` of shape:

``pluck``        falls by more than 25 dB within the first 0.5 s
``swell``        reaches its loudest after 1 s, from well below
``sweep_up``     brightness (log spectral centroid) rises by more than an octave, monotone-ish
``sweep_down``   the same, falling
``wobble``       a periodic brightness or loudness movement (an LFO, 1-9 Hz)
``noise_burst``  short (under 1.5 s above -30 dB) and noisy (high spectral flatness)
``bell``         pitched, loudest at once, bright attack, long decay
``noisy``        held noise (wind, breath)
``steady``       a held, pitched tone that barely moves

* From the built-in synth (``origin: "synth"``), *chosen from the shipped sound index*, so
  the original's own preset is an index row and a benchmark can ask whether it is found. A
  seeded sample of rows of ``range(40000)`` is rendered at the reference note, classified by
  the rules above on librosa contours (:func:`classify`), and the first rows of each kind in
  the seeded order are taken; a kind with too few matches is topped up from the others
  (:func:`choose_index_rows`). The synth makes no short noise bursts, for one.
* From SoX's ``synth`` (``origin: "sox"``, :func:`sox_recipes`): out-of-domain sounds of the
  same kinds, with pitches and rates drawn from the seed. Without ``sox`` they are skipped.

Imitations (:func:`imitate`) are a small source-filter voice driven by the original's frame
contours: a Rosenberg glottal pulse train whose pitch follows the original's relative pitch
contour, transposed by octaves into a singable range (a low and a high voice, alternately),
with jitter and shimmer; three time-varying formant resonators whose vowel moves with the
original's brightness (dark /u/, middle /a/, bright /i/); a little breath noise, or a
whispered "shh" / "tss" for unpitched originals; a loudness envelope that follows the
original's, compressed (voices have less dynamic range); and human timing: a global stretch in
[0.8, 1.2], a small smooth time warp and 0-0.3 s of lead-in over a -70 dBFS noise floor.
Imitations are not cut to 4 s: their length is the lead-in plus the stretched original.

Layout of a set (``manifest.json`` lists every sound)::

    manifest.json    {"format": "flowsynth-imitation-set", "version": 1, "seed": S,
                      "sample_rate": 22050, "sounds": [{"id": "pluck_00", "kind": "pluck",
                      "origin": "synth" | "sox", "original": "originals/pluck_00.wav",
                      "note": 60, "index_row": 1234 | null, "params": {name: value} | null,
                      "imitations": ["imitations/pluck_00_a.wav", ...], "stretch": [1.07, ...],
                      "lead_in": [0.12, ...]}]}
    originals/*.wav, imitations/*.wav    mono float WAV at 22,050 Hz

``stretch`` is each imitation's timing factor and ``lead_in`` its seconds of silence before it
starts: imitation time = lead_in + stretch * original time, give or take a smooth warp of a few
tens of milliseconds.

Real recordings can join a set in the same layout: put them under ``originals/`` and
``imitations/`` and add an entry with another ``origin`` (say ``"recording"``), with null
``stretch`` and ``lead_in`` entries (unknown). A rebuild keeps such entries (any origin other
than synth and sox) and rewrites only its own files; every file is written under a temporary
name in its folder and renamed into place.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import librosa
import numpy as np
import soundfile as sf
from scipy.io import wavfile
from scipy.ndimage import median_filter, uniform_filter1d
from scipy.signal import butter, detrend, lfilter, sosfilt

from flowsynth_gui.fileio import atomic_path, atomic_write_text
from flowsynth_gui.paths import CHECKPOINTS_DIR

if TYPE_CHECKING:  # the index module pulls in torch: import it only when a build needs it
    from flowsynth_gui.matching.index import SoundIndex

__all__ = ["DEFAULT_INDEX", "FORMAT", "KINDS", "SAMPLE_RATE", "SECONDS", "BuildReport",
           "Contours", "Imitation", "SoxRecipe", "analyse", "build_imitation_set",
           "choose_index_rows", "classify", "imitate", "imitation_paths", "read_manifest",
           "render_sox", "Shape", "sox_available", "sox_recipes"]

FORMAT, VERSION = "flowsynth-imitation-set", 1
SAMPLE_RATE = 22050  # the synth's DEFAULT_SAMPLE_RATE
SECONDS = 4.0  # every original: the synth's render length
KINDS = ("pluck", "swell", "sweep_up", "sweep_down", "wobble", "noise_burst", "bell", "noisy",
         "steady")
DEFAULT_INDEX = CHECKPOINTS_DIR / "flowsynth_index_32"
SHAPED_ROWS = 40000  # the index rows whose shapes are stored
N_FFT, HOP = 1024, 256  # 46 ms frames every 11.6 ms
YIN_FRAME = 2048
F0_RANGE = (60.0, 2000.0)
APERIODIC = 0.25  # YIN aperiodicity (cmnd at the period) below which a frame is voiced
NOISY = 0.08  # median spectral flatness above which a sound is noise (tones stay under 0.03)
_CHUNK = 64  # candidate renders per batch


# ---------------------------------------------------------------------------------- contours

@dataclass(frozen=True)
class Contours:
    """Frame-level contours of a sound, one value every ``hop`` samples."""

    sample_rate: int
    hop: int
    loudness_db: np.ndarray  # RMS in dBFS
    centroid_hz: np.ndarray
    flatness: np.ndarray
    f0_hz: np.ndarray | None = None  # NaN where unvoiced; None when pitch was not asked for

    @property
    def times(self) -> np.ndarray:
        return np.arange(self.loudness_db.size) * self.hop / self.sample_rate

    @property
    def relative_db(self) -> np.ndarray:
        return self.loudness_db - self.loudness_db.max()

    def frame(self, seconds: float) -> int:
        return min(int(round(seconds * self.sample_rate / self.hop)), self.loudness_db.size - 1)

    def active(self, below_db: float = 30.0) -> np.ndarray:
        return self.relative_db > -below_db

    def voiced_fraction(self) -> float:
        """Of the active frames, the share with a pitch."""
        active = self.active()
        if self.f0_hz is None or not active.any():
            return 0.0
        return float(np.mean(np.isfinite(self.f0_hz[active])))


def analyse(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, pitch: bool = True) -> Contours:
    """Loudness, brightness, noisiness (one STFT) and, if asked, pitch with a voicing test."""
    audio = np.asarray(audio, dtype=np.float32)
    spectrum = np.abs(librosa.stft(audio, n_fft=N_FFT, hop_length=HOP))
    rms = librosa.feature.rms(S=spectrum, frame_length=N_FFT)[0]
    centroid = librosa.feature.spectral_centroid(S=spectrum, sr=sample_rate)[0]
    flatness = librosa.feature.spectral_flatness(S=spectrum)[0]
    f0 = _pitch(audio, sample_rate, rms.size) if pitch else None
    return Contours(sample_rate, HOP, 20 * np.log10(rms + 1e-6), np.maximum(centroid, 20.0),
                    flatness, f0)


def _pitch(audio: np.ndarray, sample_rate: int, frames: int) -> np.ndarray:
    """librosa.yin, NaN where the frame is aperiodic at yin's period or yin hit a bound."""
    f0 = librosa.yin(audio, fmin=F0_RANGE[0], fmax=F0_RANGE[1], sr=sample_rate,
                     frame_length=YIN_FRAME, hop_length=HOP)[:frames]
    framed = librosa.util.frame(np.pad(audio, YIN_FRAME // 2), frame_length=YIN_FRAME,
                                hop_length=HOP)[:, :f0.size].astype(np.float64)
    lag = np.clip(sample_rate / f0, 1, YIN_FRAME // 2 - 1)
    cmnd = _cmnd(framed)
    cols = np.arange(f0.size)
    # yin always answers: its own aperiodicity at the found period says whether it is a pitch
    aperiodic = np.minimum(cmnd[np.floor(lag).astype(int), cols],
                           cmnd[np.ceil(lag).astype(int), cols])
    inside = (f0 > F0_RANGE[0] * 1.03) & (f0 < F0_RANGE[1] / 1.03)
    f0 = np.where((aperiodic < APERIODIC) & inside, f0, np.nan)
    return np.pad(f0, (0, frames - f0.size), constant_values=np.nan)


def _cmnd(framed: np.ndarray) -> np.ndarray:
    """YIN's cumulative mean normalised difference, (lags, frames), window half a frame."""
    window = YIN_FRAME // 2
    size = 2 * YIN_FRAME
    head = np.fft.rfft(framed[:window], size, axis=0)
    corr = np.fft.irfft(np.conj(head) * np.fft.rfft(framed, size, axis=0), size, axis=0)
    corr = corr[:window]
    energy = np.concatenate([np.zeros((1, framed.shape[1])), np.cumsum(framed ** 2, axis=0)])
    lagged = energy[window:window + window] - energy[:window]  # energy of x[tau : tau+window]
    diff = np.maximum(lagged[:1] + lagged - 2 * corr, 0.0)
    mean = np.cumsum(diff[1:], axis=0) / np.arange(1, window)[:, None]
    return np.concatenate([np.ones((1, diff.shape[1])), diff[1:] / (mean + 1e-12)])


# ---------------------------------------------------------------------------- classification

@dataclass(frozen=True)
class Shape:
    """What :func:`classify` found."""

    kind: str
    rate_hz: float | None = None  # a wobble's rate


def _held(c: Contours) -> slice:
    return slice(c.frame(0.15), c.frame(2.85))  # the synth holds its note for 3 s


def _sweep(c: Contours) -> float:
    """Octaves the log-centroid moves over the held part (0 unless monotone-ish)."""
    held = _held(c)
    if not np.all(c.relative_db[held] > -30):
        return 0.0  # a centroid in near-silence means nothing
    octaves = median_filter(np.log2(c.centroid_hz[held]), 9, mode="nearest")
    quarter = octaves.size // 4
    change = float(octaves[-quarter:].mean() - octaves[:quarter].mean())
    rank = np.corrcoef(np.arange(octaves.size), np.argsort(np.argsort(octaves)))[0, 1]
    return change if abs(rank) > 0.8 and np.sign(rank) == np.sign(change) else 0.0


def _wobble_rate(c: Contours) -> float | None:
    """The dominant rate of a periodic brightness or loudness movement over the held part."""
    held = _held(c)
    if not np.all(c.relative_db[held] > -30):
        return None
    freqs = np.fft.rfftfreq(4096, c.hop / c.sample_rate)
    for series, least in ((np.log2(c.centroid_hz[held]), 0.15), (c.loudness_db[held], 1.5)):
        moving = detrend(series)
        power = np.abs(np.fft.rfft(moving * np.hanning(moving.size), 4096)) ** 2
        peak = int(np.argmax(power * ((freqs > 0.8) & (freqs < 9.0))))
        near = (freqs > freqs[peak] * 0.8) & (freqs < freqs[peak] * 1.2)
        share = power[near].sum() / max(power[freqs > 0.3].sum(), 1e-12)
        if share > 0.6 and moving.std() > least and power[peak] >= power[peak + 1:].max():
            return float(freqs[peak])
    return None


def _is_bell(c: Contours, peak_s: float) -> bool:
    rel = c.relative_db
    late = rel[c.frame(2.5)]
    if not (peak_s < 0.1 and -45 < late < -8 and rel[c.frame(0.5)] > -25):
        return False
    octaves = np.log2(c.centroid_hz)
    attack = octaves[: c.frame(0.1) + 1].mean()
    return attack - octaves[c.frame(1.0): c.frame(2.0)].mean() > 0.5


def _is_steady(c: Contours) -> bool:
    held = _held(c)
    level, octaves = c.loudness_db[held], np.log2(c.centroid_hz[held])
    return bool(np.ptp(level) < 6 and level.std() < 1.5 and octaves.std() < 0.15
                and c.relative_db[held].min() > -10)


def classify(audio: np.ndarray, sample_rate: int = SAMPLE_RATE,
             wanted: Callable[[str], bool] = lambda kind: True) -> Shape | None:
    """The kind of a 4 s sound by the rules of the module docstring, or None.

    Rules are tried in :data:`KINDS` order and the first that holds wins; a sound of a kind
    that is not ``wanted`` gives None (and costs no pitch analysis).
    """
    c = analyse(audio, sample_rate, pitch=False)
    rel = c.relative_db
    if c.loudness_db.max() < -50:
        return None  # near silence
    peak_s = float(c.times[np.argmax(rel)])
    active = c.active()
    seconds = active.sum() * c.hop / c.sample_rate
    noisy = float(np.median(c.flatness[active])) > NOISY
    sweep = _sweep(c)

    def pitched(kind: str) -> bool:  # the costly test only where the answer matters
        return not wanted(kind) or _pitched(audio, sample_rate)

    tests: list[tuple[str, Callable[[], bool]]] = [
        ("noise_burst", lambda: noisy and seconds < 1.5),
        ("pluck", lambda: peak_s < 0.15 and rel[c.frame(0.5)] < -25),
        ("bell", lambda: not noisy and _is_bell(c, peak_s) and pitched("bell")),
        ("swell", lambda: peak_s > 1.0 and rel[c.frame(0.1)] < -15),
        ("sweep_up", lambda: sweep > 1.0),
        ("sweep_down", lambda: sweep < -1.0),
        ("wobble", lambda: _wobble_rate(c) is not None),
        ("noisy", lambda: noisy),
        ("steady", lambda: not noisy and _is_steady(c) and pitched("steady")),
    ]
    for kind, test in tests:
        if test():
            if not wanted(kind):
                return None
            return Shape(kind, _wobble_rate(c) if kind == "wobble" else None)
    return None


def _pitched(audio: np.ndarray, sample_rate: int) -> bool:
    return analyse(audio, sample_rate).voiced_fraction() > 0.6


# --------------------------------------------------------------------- choosing index rows

def _wobble_order(rows: list[int], rates: dict[int, float]) -> list[int]:
    """Interleave slow (< 2 Hz), middle and fast (> 4.5 Hz) wobbles: several rates in a set."""
    bins = [[r for r in rows if b(rates[r])] for b in
            (lambda x: x < 2.0, lambda x: 2.0 <= x <= 4.5, lambda x: x > 4.5)]
    out: list[int] = []
    for i in range(max(map(len, bins), default=0)):
        out += [b[i] for b in bins if i < len(b)]
    return out


def _quotas(found: dict[str, list[int]], per_kind: int) -> dict[str, int]:
    """``per_kind`` each; what a kind lacks goes, one at a time, to kinds with spare rows."""
    quota = {k: min(per_kind, len(found[k])) for k in KINDS}
    missing = per_kind * len(KINDS) - sum(quota.values())
    while missing > 0:
        spare = [k for k in KINDS if len(found[k]) > quota[k]]
        if not spare:
            break
        for k in spare[:missing]:
            quota[k] += 1
            missing -= 1
    return quota


def _candidate_audio(index: SoundIndex, rows: np.ndarray, workers: int) -> Iterator[
        tuple[int, np.ndarray]]:
    from flowsynth_gui.data.renders import NOISE_SEED
    from flowsynth_gui.synth.render import REFERENCE_NOTE, render_batch

    for start in range(0, rows.size, _CHUNK):
        chunk = rows[start:start + _CHUNK]
        audio = render_batch(index.params(chunk), index.names, note=REFERENCE_NOTE,
                             seeds=[NOISE_SEED] * chunk.size, workers=workers)
        yield from zip(chunk.tolist(), audio, strict=True)


def choose_index_rows(index: SoundIndex, seed: int = 0, per_kind: int = 4,
                      candidates: int = 3000, workers: int = 2
                      ) -> tuple[dict[str, list[int]], dict[int, np.ndarray]]:
    """Rows of the index per kind, and their renders (4 s at the reference note).

    ``candidates`` rows drawn by the seed from the shaped part of the index are rendered in
    that order; each kind keeps its first matches (up to twice ``per_kind``, spares to top up
    kinds that found too few). Rendering stops once every kind has ``per_kind``.
    """
    order = np.random.default_rng(seed).permutation(min(SHAPED_ROWS, len(index)))[:candidates]
    found: dict[str, list[int]] = {k: [] for k in KINDS}
    rates: dict[int, float] = {}
    kept: dict[int, np.ndarray] = {}
    for row, audio in _candidate_audio(index, order, workers):
        shape = classify(audio, wanted=lambda k: len(found[k]) < 2 * per_kind)
        if shape is not None:
            found[shape.kind].append(row)
            kept[row] = audio
            rates[row] = shape.rate_hz or 0.0
        if all(len(found[k]) >= per_kind for k in KINDS):
            break
    found["wobble"] = _wobble_order(found["wobble"], rates)
    quota = _quotas(found, per_kind)
    chosen = {k: found[k][:quota[k]] for k in KINDS}
    return chosen, {r: kept[r] for rows in chosen.values() for r in rows}


# --------------------------------------------------------------------------------------- SoX

@dataclass(frozen=True)
class SoxRecipe:
    """A SoX command: ``sox -R -c CHANNELS -n -r 22050 -c 1 OUT EFFECTS gain -n -3``."""

    kind: str
    effects: tuple[str, ...]
    note: int  # MIDI note of its pitch (60 when unpitched)
    channels: int = 1  # input channels (additive recipes mix several sines)


def _hz(note: int) -> float:
    return round(440.0 * 2 ** ((note - 69) / 12), 2)


def _fmt(*values: float | str) -> tuple[str, ...]:
    return tuple(f"{v:.5g}" if isinstance(v, float) else str(v) for v in values)


def _additive_sweep(rng: np.random.Generator, down: bool) -> SoxRecipe:
    """Harmonics entering one after another (brightness up) at a fixed pitch; reversed: down."""
    note, partials = int(rng.integers(45, 58)), 10
    step = rng.uniform(0.26, 0.32)  # the entries span the held part
    sines = [w for k in range(1, partials + 1) for w in ("sine", f"{_hz(note) * k:.2f}")]
    delays = [f"{step * k:.3f}" for k in range(partials)]
    mix = ",".join(f"{k}v{0.5 / k ** 0.5:.3f}" for k in range(1, partials + 1))
    effects = ("synth", "3.2", *sines, "delay", *delays, "remix", mix, "trim", "0", "3.2",
               *(("reverse",) if down else ()), "fade", "0.05", "3.2", "0.3")
    return SoxRecipe("sweep_down" if down else "sweep_up", effects, note, partials)


def _bell(rng: np.random.Generator) -> SoxRecipe:
    note = int(rng.integers(60, 80))
    ratios, gains = (1.0, 2.0, 2.76, 4.07, 5.4), (0.5, 0.3, 0.25, 0.15, 0.1)
    sines = [w for r in ratios for w in ("sine", f"{_hz(note) * r:.2f}")]
    mix = ",".join(f"{k + 1}v{g}" for k, g in enumerate(gains))
    # two linear fades: about -17 dB at 2.5 s, and on down to silence at 4 s
    effects = ("synth", "4", *sines, "remix", mix, "fade", "t", "0.002", "4", "4", "fade", "t",
               "0", "4", "4")
    return SoxRecipe("bell", effects, note, len(ratios))


def _sox_recipe(kind: str, rng: np.random.Generator) -> SoxRecipe:
    wave = str(rng.choice(["sawtooth", "square", "triangle"]))
    note = int(rng.integers(45, 67))
    if kind == "pluck":
        length = rng.uniform(1.0, 1.8)  # SoX's pluck rings on: a log fade makes it a pluck
        return SoxRecipe(kind, _fmt("synth", length, "pluck", _hz(note), "fade", "l", 0, length,
                                    length), note)
    if kind == "swell":
        return SoxRecipe(kind, _fmt("synth", 3.2, wave, _hz(note), "lowpass", 2500, "fade", "h",
                                    rng.uniform(1.5, 2.8), 3.2, 0.3), note)
    if kind in ("sweep_up", "sweep_down"):
        return _additive_sweep(rng, kind == "sweep_down")
    if kind == "wobble":
        return SoxRecipe(kind, _fmt("synth", 3.2, wave, _hz(note), "tremolo",
                                    rng.uniform(1.0, 8.0), rng.uniform(50, 90),
                                    "fade", 0.05, 3.2, 0.2), note)
    if kind == "noise_burst":
        length = rng.uniform(0.15, 0.6)
        colour = str(rng.choice(["whitenoise", "pinknoise", "brownnoise"]))
        return SoxRecipe(kind, _fmt("synth", length, colour, "fade", "q", 0.003, length,
                                    length * 0.8), 60)
    if kind == "bell":
        return _bell(rng)
    if kind == "noisy":
        return SoxRecipe(kind, _fmt("synth", 3.2, "pinknoise", "bandpass",
                                    rng.uniform(500, 4000), "1.5q", "fade", 0.05, 3.2, 0.4), 60)
    if kind == "steady":
        return SoxRecipe(kind, _fmt("synth", 3.2, wave, _hz(note), "lowpass",
                                    rng.uniform(1500, 5000), "fade", 0.05, 3.2, 0.15), note)
    raise ValueError(f"unknown kind {kind!r}")


def sox_recipes(seed: int = 0, per_kind: int = 2) -> list[SoxRecipe]:
    """``per_kind`` SoX recipes of every kind, pitches and rates drawn from the seed."""
    rng = np.random.default_rng([seed, 7])
    return [_sox_recipe(kind, rng) for kind in KINDS for _ in range(per_kind)]


def sox_available() -> bool:
    return shutil.which("sox") is not None


def render_sox(recipe: SoxRecipe, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The recipe's sound, normalised to -3 dBFS by SoX, 4 s (float32)."""
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "sox.wav"
        # -R: repeatable (fixed noise seeds), so a build is deterministic
        subprocess.run(["sox", "-R", "-c", str(recipe.channels), "-n", "-r", str(sample_rate),
                        "-c", "1", "-e", "floating-point", "-b", "32", str(out),
                        *recipe.effects, "gain", "-n", "-3"], check=True, capture_output=True)
        audio, _ = sf.read(out, dtype="float32")
    return _fit(audio, sample_rate)


def _fit(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    n = int(round(SECONDS * sample_rate))
    return np.pad(audio[:n], (0, max(0, n - audio.size))).astype(np.float32)


# ----------------------------------------------------------------------------------- voices

@dataclass(frozen=True)
class Imitation:
    """A voice-like imitation and the timing it was given."""

    audio: np.ndarray  # float32, peak about -3 dBFS
    stretch: float  # the global timing factor
    lead_in: float  # seconds of silence before the imitation starts
    pitched: bool  # sung (True) or whispered


# formant frequencies (Hz) of the vowels the brightness moves between, dark to bright
VOWELS = {"u": (300.0, 870.0, 2240.0), "a": (730.0, 1090.0, 2440.0), "i": (270.0, 2290.0, 3010.0)}
BANDWIDTHS = (80.0, 100.0, 160.0)
# per voice: the median pitch aimed at (Hz) and a formant scale (shorter vocal tract)
VOICES = ({"name": "low", "f0": 120.0, "formants": 1.0},
          {"name": "high", "f0": 220.0, "formants": 1.15})
_BLOCK = 128  # samples per formant-coefficient update (5.8 ms)
RADIATION = 0.7  # lip radiation as 1 - 0.7 z^-1


def _smooth_noise(rng: np.random.Generator, n: int, every: int, scale: float) -> np.ndarray:
    """Random values every ``every`` samples, linearly joined: slow perturbations."""
    knots = rng.standard_normal(n // every + 2) * scale
    return np.interp(np.arange(n) / every, np.arange(knots.size), knots)


def _time_map(rng: np.random.Generator, n: int, sample_rate: int, stretch: float,
              lead_in: float) -> np.ndarray:
    """Original time for every output sample: stretch, lead-in and a smooth monotone warp."""
    t = np.arange(n) / sample_rate
    warp = sum(rng.uniform(0.01, 0.02) * np.sin(2 * np.pi * rng.uniform(0.2, 0.6) * (t - lead_in)
                                                 + rng.uniform(0, 2 * np.pi)) for _ in range(2))
    warp -= warp[min(int(lead_in * sample_rate), n - 1)]  # the sound starts at the lead-in
    return (t - lead_in) / stretch + warp  # slope >= 1/1.2 - 2 * 0.02 * 2 pi * 0.6 > 0.6


def _follow(c: Contours, values: np.ndarray, t_src: np.ndarray) -> np.ndarray:
    return np.interp(t_src, c.times, values)


def _relative_pitch(c: Contours) -> np.ndarray:
    """Semitones re the median voiced pitch per frame, gaps bridged, octave slips smoothed."""
    assert c.f0_hz is not None
    voiced = np.isfinite(c.f0_hz) & c.active()
    if voiced.sum() < 0.4 * c.active().sum():  # too few frames to trust: hold the pitch
        return np.zeros(c.f0_hz.size)
    semis = 12 * np.log2(c.f0_hz[voiced] / np.median(c.f0_hz[voiced]))
    filled = np.interp(np.arange(c.f0_hz.size), np.flatnonzero(voiced), semis)
    # octave slips (a tracker's error, or a harmonic taking over) fold back; glides stay
    filled -= 12 * np.round((filled - median_filter(filled, 51, mode="reflect")) / 12)
    return np.clip(median_filter(filled, 7, mode="nearest"), -12, 12)


def _vowel_position(c: Contours) -> np.ndarray:
    """0 dark (/u/) .. 1 bright (/i/): absolute brightness for the centre, relative movement
    around it scaled to the sound's own range, so that every sweep moves the vowel."""
    octaves = np.log2(c.centroid_hz)
    active = c.active()
    centre = np.median(octaves[active]) if active.any() else np.median(octaves)
    lo, hi = np.percentile(octaves[active], [5, 95]) if active.any() else (centre, centre)
    base = np.clip((centre - np.log2(500)) / 3.0, 0.25, 0.75)  # 500 Hz .. 4 kHz
    position = base + 0.5 * (octaves - centre) / max(1.0, (hi - lo) / 2)
    return np.clip(median_filter(position, 9, mode="nearest"), 0.0, 1.0)


def _formant_tracks(position: np.ndarray, scale: float) -> np.ndarray:
    """(3, n) formant frequencies: /u/ -> /a/ -> /i/ by position, interpolated in log Hz."""
    table = np.log(np.array([VOWELS["u"], VOWELS["a"], VOWELS["i"]]))
    tracks = [np.interp(position, (0.0, 0.5, 1.0), table[:, f]) for f in range(3)]
    return np.exp(np.array(tracks)) * scale


def _resonate(x: np.ndarray, freq: np.ndarray, bandwidth: np.ndarray | float,
              sample_rate: int) -> np.ndarray:
    """A 2-pole resonator of unit DC gain whose frequency moves block by block (state kept)."""
    out = np.empty_like(x)
    zi = np.zeros(2)
    bw = np.broadcast_to(bandwidth, freq.shape)
    for start in range(0, x.size, _BLOCK):
        mid = min(start + _BLOCK // 2, x.size - 1)
        r = np.exp(-np.pi * bw[mid] / sample_rate)
        a = np.array([1.0, -2 * r * np.cos(2 * np.pi * freq[mid] / sample_rate), r * r])
        out[start:start + _BLOCK], zi = lfilter([a.sum()], a, x[start:start + _BLOCK], zi=zi)
    return out


def _soften(x: np.ndarray, relative_db: np.ndarray) -> np.ndarray:
    """A voice gets darker as it gets quieter: a one-pole lowpass closing with the level."""
    pole = 0.8 * np.clip(-relative_db / 40.0, 0.0, 1.0)
    out = np.empty_like(x)
    zi = np.zeros(1)
    for start in range(0, x.size, _BLOCK):
        p = pole[min(start + _BLOCK // 2, x.size - 1)]
        out[start:start + _BLOCK], zi = lfilter([1 - p], [1, -p], x[start:start + _BLOCK], zi=zi)
    return out


def _rosenberg(phase: np.ndarray, opening: float = 0.4, closing: float = 0.16) -> np.ndarray:
    """Rosenberg glottal flow over one period, phase in [0, 1)."""
    rise = 0.5 * (1 - np.cos(np.pi * phase / opening))
    fall = np.cos(0.5 * np.pi * (phase - opening) / closing)
    return np.where(phase < opening, rise, np.where(phase < opening + closing, fall, 0.0))


def _glottal_source(rng: np.random.Generator, f0: np.ndarray, sample_rate: int) -> np.ndarray:
    """Rosenberg pulses through lip radiation, with jitter and shimmer, unit RMS."""
    f0 = f0 * (1 + _smooth_noise(rng, f0.size, sample_rate // 200, 0.01))  # ~1 % jitter
    f0 *= 2 ** (0.15 / 12 * np.sin(2 * np.pi * rng.uniform(4.5, 6.0) * np.arange(f0.size)
                                   / sample_rate))  # a faint natural vibrato
    phase = np.cumsum(f0 / sample_rate)
    cycle = phase.astype(np.int64)
    shimmer = 1 + 0.06 * rng.standard_normal(cycle[-1] + 1)  # per-period amplitude
    flow = _rosenberg(phase - cycle) * shimmer[cycle]
    # lip radiation, a leaky differentiator: a full one leaves F1 to outweigh the fundamental
    pulses = lfilter([1.0, -RADIATION], [1.0], flow - flow.mean())
    return pulses / (np.sqrt(np.mean(pulses ** 2)) + 1e-12)


def _sung(rng: np.random.Generator, c: Contours, t_src: np.ndarray, voice: dict[str, Any],
          target_f0: float) -> np.ndarray:
    sr = c.sample_rate
    f0 = target_f0 * 2 ** (_follow(c, _relative_pitch(c), t_src) / 12)
    source = _glottal_source(rng, np.clip(f0, 70.0, 450.0), sr)
    breath = np.clip(0.04 + _follow(c, c.flatness, t_src), 0.04, 0.3)  # a few %, more if noisy
    noise = sosfilt(butter(2, 1000, "highpass", fs=sr, output="sos"), rng.standard_normal(f0.size))
    y = source + breath * noise
    tracks = _formant_tracks(_follow(c, _vowel_position(c), t_src), voice["formants"])
    for freq, bw in zip(tracks, BANDWIDTHS, strict=True):
        y = _resonate(y, freq, bw * voice["formants"], sr)
    return _soften(y, _follow(c, np.maximum(c.relative_db, -70.0), t_src))


def _whispered(rng: np.random.Generator, c: Contours, t_src: np.ndarray) -> np.ndarray:
    """Band-passed noise: "shh" (about 2 kHz) for dark originals up to "tss" (6 kHz)."""
    sr = c.sample_rate
    centre = 2000.0 * 3.0 ** _follow(c, _vowel_position(c), t_src)
    y = sosfilt(butter(2, 800, "highpass", fs=sr, output="sos"), rng.standard_normal(t_src.size))
    y = _resonate(y, centre, 0.5 * centre, sr)
    return _resonate(y, 1.4 * centre, 0.6 * centre, sr)


def _loudness(c: Contours, t_src: np.ndarray) -> np.ndarray:
    """The gain that follows the original's level: compressed to 80 %, gated below -55 dB."""
    rel = np.maximum(c.relative_db, -70.0)
    gain_db = _follow(c, 0.8 * rel, t_src)
    gate = np.clip((_follow(c, rel, t_src) + 55) / 10, 0, 1)
    before = t_src < 0
    return np.where(before, 0.0, 10 ** (gain_db / 20) * gate * gate * (3 - 2 * gate))


def _level(y: np.ndarray, sample_rate: int) -> np.ndarray:
    """Smoothed RMS over 20 ms, to take out the voice's own level changes."""
    power = uniform_filter1d(y ** 2, int(0.02 * sample_rate), mode="nearest")
    root = np.sqrt(power)
    return root + 1e-3 * root.max() + 1e-12


def imitate(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, seed: int = 0,
            voice: int = 0, contours: Contours | None = None) -> Imitation:
    """A voice-like imitation of ``audio`` (see the module docstring), deterministic per seed.

    ``voice`` picks from :data:`VOICES` (modulo), low and high alternately per imitation.
    """
    c = contours or analyse(audio, sample_rate)
    rng = np.random.default_rng(seed)
    stretch = round(float(rng.uniform(0.8, 1.2)), 3)
    lead_in = round(float(rng.uniform(0.0, 0.3)), 3)
    n = int(round((lead_in + stretch * len(audio) / sample_rate) * sample_rate))
    t_src = _time_map(rng, n, sample_rate, stretch, lead_in)
    chosen = VOICES[voice % len(VOICES)]
    target = chosen["f0"] * 2 ** (rng.uniform(-2, 2) / 12)
    voiced = c.voiced_fraction() > 0.4
    # noise is whispered; a tone without a clear pitch (inharmonic, detuned) is still sung
    pitched = voiced or float(np.median(c.flatness[c.active()])) < NOISY / 2
    if pitched:
        if voiced:  # octaves only: the tune is kept
            median = float(np.nanmedian(c.f0_hz[c.active()]))
            target = median * 2 ** np.round(np.log2(target / median))
        y = _sung(rng, c, t_src, chosen, target)
    else:
        y = _whispered(rng, c, t_src)
    y = y / _level(y, sample_rate) * _loudness(c, t_src)
    y *= 10 ** (-3 / 20) / max(float(np.abs(y).max()), 1e-12)
    y += rng.standard_normal(n) * 10 ** (-70 / 20)  # a quiet room
    return Imitation(y.astype(np.float32), stretch, lead_in, pitched)


# ------------------------------------------------------------------------------------ build

@dataclass
class BuildReport:
    """What a build wrote: counts per (kind, origin), the kinds it could not fill, time."""

    root: Path
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    unfilled: list[str] = field(default_factory=list)  # synth kinds with fewer than per_kind
    sox_skipped: bool = False
    kept_entries: int = 0  # entries of other origins (recordings) kept from an older manifest
    seconds: float = 0.0

    @property
    def originals(self) -> int:
        return sum(self.counts.values())

    def lines(self) -> list[str]:
        out = [f"{self.originals} originals in {self.root} ({self.seconds:.1f} s)"]
        for kind in KINDS:
            per = {o: self.counts.get((kind, o), 0) for o in ("synth", "sox")}
            out.append(f"  {kind:<12} synth {per['synth']:>2}  sox {per['sox']:>2}")
        if self.unfilled:
            out.append("  synth kinds not filled: " + ", ".join(self.unfilled))
        if self.sox_skipped:
            out.append("  sox not found: no SoX originals")
        if self.kept_entries:
            out.append(f"  kept {self.kept_entries} entries of other origins")
        return out


def _write_wav(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    # scipy, not soundfile: libsndfile stamps float WAVs with the time (a PEAK chunk)
    with atomic_path(path, suffix=".wav") as tmp:
        wavfile.write(tmp, sample_rate, np.asarray(audio, dtype=np.float32))


def read_manifest(root: str | os.PathLike[str]) -> dict[str, Any]:
    """A set's manifest, checked for format and version."""
    manifest = json.loads((Path(root) / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ValueError(f"{root} is not a {FORMAT} version {VERSION}")
    return manifest


def _kept_entries(root: Path) -> list[dict[str, Any]]:
    try:
        sounds = read_manifest(root)["sounds"]
    except (OSError, ValueError):
        return []
    return [s for s in sounds if s.get("origin") not in ("synth", "sox")]


@dataclass(frozen=True)
class _Original:
    kind: str
    origin: str
    audio: np.ndarray
    note: int
    index_row: int | None = None
    params: dict[str, float] | None = None


def _synth_originals(index_path: str | os.PathLike[str], seed: int, per_kind: int,
                     candidates: int, report: BuildReport) -> list[_Original]:
    from flowsynth_gui.matching.index import load_index
    from flowsynth_gui.synth.render import REFERENCE_NOTE

    index = load_index(index_path)
    chosen, audio = choose_index_rows(index, seed, per_kind, candidates)
    report.unfilled = [k for k in KINDS if len(chosen[k]) < per_kind]
    out = []
    for kind in KINDS:
        for row in chosen[kind]:
            values = index.params(np.array([row]))[0]
            params = {n: float(v) for n, v in zip(index.names, values, strict=True)}
            out.append(_Original(kind, "synth", audio[row], REFERENCE_NOTE, row, params))
    return out


def _sox_originals(seed: int, per_kind: int, report: BuildReport) -> list[_Original]:
    if not sox_available():
        report.sox_skipped = True
        return []
    return [_Original(r.kind, "sox", render_sox(r), r.note) for r in sox_recipes(seed, per_kind)]


def _write_sound(root: Path, ident: str, number: int, original: _Original, seed: int,
                 imitations: int) -> dict[str, Any]:
    _write_wav(root / "originals" / f"{ident}.wav", original.audio, SAMPLE_RATE)
    contours = analyse(original.audio)
    copies = [imitate(original.audio, SAMPLE_RATE, seed=_seed(seed, number, j), voice=j,
                      contours=contours) for j in range(imitations)]
    names = [f"imitations/{ident}_{_letter(j)}.wav" for j in range(imitations)]
    for name, copy in zip(names, copies, strict=True):
        _write_wav(root / name, copy.audio, SAMPLE_RATE)
    return {"id": ident, "kind": original.kind, "origin": original.origin,
            "original": f"originals/{ident}.wav", "note": original.note,
            "index_row": original.index_row, "params": original.params,
            "imitations": names, "stretch": [c.stretch for c in copies],
            "lead_in": [c.lead_in for c in copies]}


def _seed(seed: int, number: int, imitation: int) -> int:
    return int(np.random.SeedSequence([seed, number, imitation]).generate_state(1)[0])


def _letter(j: int) -> str:
    return chr(ord("a") + j) if j < 26 else f"z{j}"


def build_imitation_set(root: str | os.PathLike[str], seed: int = 0, per_kind: int = 4,
                        imitations: int = 2, index: str | os.PathLike[str] | None = DEFAULT_INDEX,
                        candidates: int = 3000, sox_per_kind: int = 2,
                        log: Callable[[str], None] | None = None) -> BuildReport:
    """Build (or rebuild) a set under ``root``; see the module docstring.

    ``per_kind`` synth originals per kind (from ``candidates`` index rows; ``index`` None: no
    synth originals) and ``sox_per_kind`` SoX ones, ``imitations`` imitations each.
    """
    if imitations < 1:
        raise ValueError("imitations must be at least 1")
    started = time.perf_counter()
    root = Path(root)
    report = BuildReport(root)
    originals = _synth_originals(index, seed, per_kind, candidates, report) if (
        index is not None and per_kind > 0) else []
    if log:
        log(f"chose {len(originals)} synth originals")
    originals += _sox_originals(seed, sox_per_kind, report) if sox_per_kind > 0 else []
    originals.sort(key=lambda o: KINDS.index(o.kind))  # stable: synth before sox in a kind
    sounds, numbers = [], dict.fromkeys(KINDS, 0)
    for number, original in enumerate(originals):
        ident = f"{original.kind}_{numbers[original.kind]:02d}"
        numbers[original.kind] += 1
        sounds.append(_write_sound(root, ident, number, original, seed, imitations))
        key = (original.kind, original.origin)
        report.counts[key] = report.counts.get(key, 0) + 1
    kept = [s for s in _kept_entries(root) if s.get("id") not in {x["id"] for x in sounds}]
    report.kept_entries = len(kept)
    manifest = {"format": FORMAT, "version": VERSION, "seed": seed, "sample_rate": SAMPLE_RATE,
                "sounds": sounds + kept}
    atomic_write_text(root / "manifest.json", json.dumps(manifest, indent=1) + "\n")
    report.seconds = time.perf_counter() - started
    return report


def imitation_paths(root: str | os.PathLike[str]) -> Sequence[tuple[Path, list[Path]]]:
    """(original, imitations) paths of every sound in a set."""
    root = Path(root)
    return [(root / s["original"], [root / p for p in s["imitations"]])
            for s in read_manifest(root)["sounds"]]
