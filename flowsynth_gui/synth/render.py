"""Offline rendering of single notes, one at a time or in batches (the paper's protocol).

>>> audio = render({"VCF1: Frequency": 0.6}, note=60, duration=1.0)
>>> audio.shape, audio.dtype
((22050,), dtype('float32'))
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from flowsynth_gui.synth import params as param_specs
from flowsynth_gui.synth.dsp import JIT, soft_clip
from flowsynth_gui.synth.fx_kernel import P_CHR_WET, P_DRIVE, P_DWET, P_PWET, FxState, fx_process
from flowsynth_gui.synth.voice_batch import (
    LANES,
    fold_lanes_to_mono,
    lanes_process,
    lanes_release,
    lanes_start,
)
from flowsynth_gui.synth.voice_kernel import (
    ENGINE_ORDER,
    VOICE_STATE_SIZE,
    voice_process,
    voice_release,
    voice_start,
)

__all__ = [
    "DEFAULT_SAMPLE_RATE",
    "REFERENCE_NOTE",
    "NOTE_SECONDS",
    "RENDER_SECONDS",
    "render",
    "render_vector",
    "render_batch",
    "engine_native",
    "check_note",
    "warm_up",
]

DEFAULT_SAMPLE_RATE = 22050
REFERENCE_NOTE = 60  # the pitch every dataset sound (and so every model's input) is rendered at
NOTE_SECONDS = 3.0  # note held, then released (paper's protocol)
RENDER_SECONDS = 4.0
_MIN_RATE, _MAX_RATE = 8000, 192000
# A group of voices costs LANES voices whatever its size (a short group is padded); a voice in
# a group costs 0.5-0.75 of one rendered alone (benchmarks/bench_render.py: without osc 2 and
# the sub, resp. with them), so groups of fewer than ~0.65 x LANES rows render one by one.
MIN_LANE_GROUP = 11


def _engine_permutation() -> np.ndarray:
    names = param_specs.param_names()
    missing = set(names) ^ set(ENGINE_ORDER)
    if missing:
        raise RuntimeError(f"synth engine and parameter specs disagree on: {sorted(missing)}")
    return np.array([param_specs.param_index(name) for name in ENGINE_ORDER])


_ENGINE_PERMUTATION = _engine_permutation()


def engine_native(normalised: np.ndarray) -> np.ndarray:
    """Full normalised vector in spec order -> native values in engine order."""
    return param_specs.native_vector(normalised)[_ENGINE_PERMUTATION]


def check_note(note: int, velocity: int) -> None:
    if not isinstance(note, int | np.integer) or not 0 <= note <= 127:
        raise ValueError(f"MIDI note {note!r} is outside 0-127; give a whole number such as 60")
    if not isinstance(velocity, int | np.integer) or not 1 <= velocity <= 127:
        raise ValueError(f"velocity {velocity!r} is outside 1-127; give a whole number such as 100")


def _check_timing(duration: float, note_seconds: float, sample_rate: int) -> None:
    if not _MIN_RATE <= sample_rate <= _MAX_RATE:
        raise ValueError(f"sample rate {sample_rate} Hz is outside {_MIN_RATE}-{_MAX_RATE} Hz")
    if not (math.isfinite(duration) and 0.0 < duration <= 60.0):
        raise ValueError(f"duration {duration!r} s must be in (0, 60] seconds")
    if not (math.isfinite(note_seconds) and note_seconds >= 0.0):
        raise ValueError(f"note length {note_seconds!r} s must be >= 0")


def _seed_state(seed: int) -> np.ndarray:
    """SplitMix64 of the seed: a non-zero xorshift state even for seed 0."""
    z = (int(seed) + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return np.array([(z ^ (z >> 31)) or 1], dtype=np.uint64)


@njit(**JIT)
def fold_to_mono(left: np.ndarray, right: np.ndarray, out: np.ndarray) -> None:
    """Mono fold of the constant-power stereo bus, soft-clipped into (-1, 1)."""
    for i in range(out.shape[0]):
        out[i] = soft_clip((left[i] + right[i]) * 0.7071067811865476)


def _fx_active(native: np.ndarray) -> bool:
    return bool(native[P_DRIVE] > 0 or native[P_CHR_WET] > 0 or native[P_PWET] > 0
                or native[P_DWET] > 0)


class _Workspace(threading.local):
    """Per-thread scratch buffers, so batches reuse memory instead of allocating per sound."""

    def __init__(self) -> None:
        self.fx: dict[float, FxState] = {}
        self.buses: tuple[np.ndarray, ...] = ()

    def lane_buses(self, n_samples: int) -> tuple[np.ndarray, ...]:
        """(frames x LANES) left and right buses, and one voice's left and right for effects."""
        if not self.buses or self.buses[2].shape[0] != n_samples:
            self.buses = (np.empty(n_samples * LANES), np.empty(n_samples * LANES),
                          np.empty(n_samples), np.empty(n_samples))
        return self.buses

    def fx_state(self, sample_rate: float) -> FxState:
        if sample_rate not in self.fx:
            self.fx[sample_rate] = FxState.allocate(sample_rate)
        fx = self.fx[sample_rate]
        fx.reset()
        return fx


_WORKSPACE = _Workspace()


def _render_native(native: np.ndarray, note: int, velocity: int, n_samples: int,
                   gate_samples: int, sample_rate: int, seed: int, out: np.ndarray) -> None:
    voice = np.zeros(VOICE_STATE_SIZE)
    left, right = np.zeros(n_samples), np.zeros(n_samples)
    rng = _seed_state(seed)
    sr = float(sample_rate)
    voice_start(native, voice, float(note), float(velocity))
    gate = min(gate_samples, n_samples)
    voice_process(native, native, voice, rng, left, right, 0, gate, sr, False)
    voice_release(voice)
    voice_process(native, native, voice, rng, left, right, gate, n_samples, sr, False)
    if _fx_active(native):
        _apply_fx(native, left, right, sr)
    fold_to_mono(left, right, out)


def _apply_fx(native: np.ndarray, left: np.ndarray, right: np.ndarray, sr: float) -> None:
    fx = _WORKSPACE.fx_state(sr)
    fx_process(native, native, fx.state, fx.chorus, fx.delay, fx.plate, fx.plate_lines,
               fx.plate_delays, fx.scratch, left, right, 0, left.shape[0], sr, False)


def _render_lanes(natives: np.ndarray, note: int, velocity: int, n_samples: int,
                  gate_samples: int, sample_rate: int, seeds: Sequence[int],
                  out: np.ndarray) -> None:
    """``_render_native`` of up to LANES voices at once (same note, gate and rate)."""
    count = len(natives)
    params = np.empty((LANES, natives.shape[1]))
    params[:count] = natives
    params[count:] = natives[-1]  # padding voices: rendered, never read
    seeds = list(seeds) + [seeds[-1]] * (LANES - count)
    noise = np.concatenate([_seed_state(seed) for seed in seeds])
    states = np.empty(VOICE_STATE_SIZE * LANES)
    left, right, one_left, one_right = _WORKSPACE.lane_buses(n_samples)
    sr = float(sample_rate)
    gate = min(gate_samples, n_samples)
    lanes_start(params, states, float(note), float(velocity))
    lanes_process(params, states, noise, left, right, 0, gate, sr)
    lanes_release(states)
    lanes_process(params, states, noise, left, right, gate, n_samples, sr)
    for lane in range(count):
        if _fx_active(natives[lane]):
            one_left[:] = left[lane::LANES]
            one_right[:] = right[lane::LANES]
            _apply_fx(natives[lane], one_left, one_right, sr)
            left[lane::LANES] = one_left
            right[lane::LANES] = one_right
    fold_lanes_to_mono(left, right, out)


def render_vector(normalised: np.ndarray, note: int = 60, velocity: int = 100,
                  duration: float = RENDER_SECONDS, sample_rate: int = DEFAULT_SAMPLE_RATE,
                  seed: int = 0, note_seconds: float = NOTE_SECONDS) -> np.ndarray:
    """Render from a full normalised vector in spec order (already validated)."""
    check_note(note, velocity)
    _check_timing(duration, note_seconds, sample_rate)
    n_samples = int(round(duration * sample_rate))
    out = np.empty(n_samples, dtype=np.float32)
    _render_native(engine_native(normalised), note, velocity, n_samples,
                   int(round(note_seconds * sample_rate)), sample_rate, seed, out)
    return out


def render(params: Mapping[str, float] | None = None, note: int = 60, velocity: int = 100,
           duration: float = RENDER_SECONDS, sample_rate: int = DEFAULT_SAMPLE_RATE,
           seed: int = 0, note_seconds: float = NOTE_SECONDS) -> np.ndarray:
    """Render one note: mono float32 in (-1, 1).

    ``params`` maps parameter names to normalised values in [0, 1]; missing ones sit at their
    defaults (an empty mapping is the default patch). The note is held ``note_seconds`` then
    released; ``duration`` seconds are recorded. Deterministic for the same arguments.
    """
    return render_vector(param_specs.normalised_vector(params), note, velocity, duration,
                         sample_rate, seed, note_seconds)


def render_batch(values: np.ndarray, names: Sequence[str], note: int = 60, velocity: int = 100,
                 duration: float = RENDER_SECONDS, sample_rate: int = DEFAULT_SAMPLE_RATE,
                 seeds: Sequence[int] | None = None, workers: int | None = None,
                 note_seconds: float = NOTE_SECONDS) -> np.ndarray:
    """Render N sounds from an (N, len(names)) array of normalised values -> (N, samples).

    Voices are rendered LANES at a time, side by side in the vector units (``voice_batch``),
    each exactly as ``render`` would; the compiled kernels release the GIL, so ``workers``
    threads render groups in parallel.
    """
    values = np.asarray(values, dtype=np.float64)
    names = tuple(names)
    if values.ndim != 2 or values.shape[1] != len(names):
        raise ValueError(f"values must have shape (N, {len(names)}), got {values.shape}")
    check_note(note, velocity)
    _check_timing(duration, note_seconds, sample_rate)
    columns = np.array([param_specs.param_index(name) for name in names], dtype=np.int64)
    if not np.all(np.isfinite(values)) or values.min(initial=0) < 0 or values.max(initial=0) > 1:
        raise param_specs.ParameterError("batch values must be finite and inside [0, 1]")
    seeds = list(range(len(values))) if seeds is None else list(seeds)
    n_samples = int(round(duration * sample_rate))
    gate = int(round(note_seconds * sample_rate))
    out = np.empty((len(values), n_samples), dtype=np.float32)
    vectors = np.repeat(param_specs.default_vector()[None], len(values), axis=0)
    vectors[:, columns] = values
    natives = param_specs.native_vector(vectors)[:, _ENGINE_PERMUTATION]  # row by row

    def render_rows(rows: range) -> None:
        if len(rows) >= MIN_LANE_GROUP:
            _render_lanes(natives[rows.start:rows.stop], note, velocity, n_samples, gate,
                          sample_rate, seeds[rows.start:rows.stop], out[rows.start:rows.stop])
            return
        for i in rows:
            # a fresh (aligned) row, as ``render`` passes: the compiled loops may take another
            # path for a misaligned one, and bit-identity with ``render`` is promised
            _render_native(natives[i].copy(), note, velocity, n_samples, gate, sample_rate,
                           seeds[i], out[i])

    groups = [range(first, min(first + LANES, len(values)))
              for first in range(0, len(values), LANES)]
    tasks = [rows for rows in groups if len(rows) >= MIN_LANE_GROUP]
    tasks += [range(i, i + 1) for rows in groups if len(rows) < MIN_LANE_GROUP for i in rows]
    workers = workers or min(len(tasks), os.cpu_count() or 1)
    if workers <= 1:
        for rows in tasks:
            render_rows(rows)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(render_rows, tasks))
    return out


def warm_up() -> None:
    """Load (or, the first time, compile) every rendering kernel: one short note alone with
    every effect on, and a group of voices side by side without, then with osc 2 and the HPF
    (both variants of the oscillator and of the filter loop). Call it on a worker before the
    first render someone waits for; from numba's cache it takes a fraction of a second."""
    wet = ("Rtary1: Drive", "Chrs1: Wet", "Plate1: Wet", "Delay1: Wet")
    render(dict.fromkeys(wet, 0.5), duration=0.1, note_seconds=0.05)
    for names in (wet, (*wet, "OSC: OscMix", "HPF: Frequency")):
        render_batch(np.full((MIN_LANE_GROUP, len(names)), 0.5), names, duration=0.1,
                     note_seconds=0.05, workers=1)
