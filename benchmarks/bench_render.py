"""Render time of one 4 s note on one core, alone and in batches (issue 13's targets).

Targets: one note with all 64 parameters <= 7 ms; ``render_batch`` of >= 32 random 32-parameter
presets on one worker <= 0.25 x the time per sound of single ``render`` calls, largest sample
difference <= 1e-4. Beside the batch figure: an estimate of the physical limit of the batched
kernels (their operations per voice and sample, counted by hand from ``voice_batch``, times the
samples, over this core's measured peak rate of vector operations).

Run: .venv/bin/python benchmarks/bench_render.py
"""

from __future__ import annotations

import os
import time

import numpy as np
from numba import njit

from flowsynth_gui.synth import param_set, render, render_batch
from flowsynth_gui.synth.params import normalised_vector
from flowsynth_gui.synth.render import DEFAULT_SAMPLE_RATE, RENDER_SECONDS, render_vector
from flowsynth_gui.synth.voice_batch import LANES

REPEATS = 60
BATCH = 64
# Lane operations (add, multiply, compare, select, divide) per voice and sample in the batched
# kernels, counted in voice_batch.py: ~120 per morph_wave_lanes, ~60 for the sub, ~10 noise and
# mixing, ~15 for the HPF, ~100 for filter FM, ladder, envelopes and VCA. The 32-parameter
# presets timed here have no osc 2, no sub and no HPF (no OscMix, sub level or HPF setting in
# the set), so their groups take oscillators_without_osc2_and_sub and
# filters_without_high_pass: two waves, no sub, no HPF.
OPS_PER_VOICE_SAMPLE = 2 * 120 + 10 + 100
PEAK_LANES = 64  # enough independent chains to hide the multiply-add latency


@njit(cache=True, fastmath=True)
def _peak_kernel(a: np.ndarray, b: np.ndarray, steps: int) -> None:
    """Independent multiply-adds over many lanes: the rate the vector units sustain."""
    for _ in range(steps):
        for v in range(PEAK_LANES):
            a[v] = a[v] * b[v] + 1e-9


def peak_ops_per_second() -> float:
    """Measured peak: a multiply-add counts as two lane operations."""
    a, b = np.full(PEAK_LANES, 0.5), np.full(PEAK_LANES, 0.999)
    _peak_kernel(a, b, 10)
    steps = 1_000_000
    start = time.perf_counter()
    _peak_kernel(a, b, steps)
    return 2 * PEAK_LANES * steps / (time.perf_counter() - start)


def batch_versus_single(rng: np.random.Generator) -> None:
    names = param_set(32)
    values = rng.uniform(size=(BATCH, 32))
    patches = [dict(zip(names, row, strict=True)) for row in values]
    render_batch(values[:LANES], names, workers=1)
    start = time.perf_counter()
    singles = np.stack([render(patch, seed=i) for i, patch in enumerate(patches)])
    single_ms = 1000 * (time.perf_counter() - start) / BATCH
    start = time.perf_counter()
    for vector in (normalised_vector(p) for p in patches):
        render_vector(vector)
    kernel_ms = 1000 * (time.perf_counter() - start) / BATCH
    start = time.perf_counter()
    batch = render_batch(values, names, workers=1)
    batch_ms = 1000 * (time.perf_counter() - start) / BATCH
    samples = RENDER_SECONDS * DEFAULT_SAMPLE_RATE
    limit_ms = 1000 * OPS_PER_VOICE_SAMPLE * samples / peak_ops_per_second()
    print(f"\n{BATCH} random 32-parameter presets, one worker, per sound ({LANES} voices a group)")
    print(f"  render() calls               {single_ms:7.2f} ms")
    print(f"  render_vector() calls        {kernel_ms:7.2f} ms   (no parameter checks)")
    print(f"  render_batch()               {batch_ms:7.2f} ms   = {batch_ms / single_ms:.2f} x "
          f"render(), {batch_ms / kernel_ms:.2f} x render_vector()   (target <= 0.25)")
    print(f"  largest sample difference    {np.abs(batch - singles).max():.1e}   (target <= 1e-4)")
    print(f"  physical limit, estimated    {limit_ms:7.2f} ms   ({OPS_PER_VOICE_SAMPLE} lane ops"
          " per voice-sample at this core's measured peak)")


def median_ms(patches: list[dict[str, float]]) -> float:
    vectors = [normalised_vector(p) for p in patches]
    times = []
    for vector in vectors:
        start = time.perf_counter()
        render_vector(vector)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main() -> None:
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    render({})  # load the compiled kernels
    rng = np.random.default_rng(0)
    cases = {
        # The cheapest complete path: one sine oscillator -> ladder -> envelopes -> VCA, no
        # effects. Its time is the floor set by the ladder's per-sample feedback chain.
        "one sine -> ladder, no fx": [{"OSC: Shape1": 0.0, "OSC: Volume2": 0.0}] * REPEATS,
        "default patch": [{}] * REPEATS,
        "16 parameters random": [dict(zip(param_set(16), rng.uniform(size=16), strict=True))
                                 for _ in range(REPEATS)],
        "32 parameters random": [dict(zip(param_set(32), rng.uniform(size=32), strict=True))
                                 for _ in range(REPEATS)],
        # 0.2..0.8 keeps every level, depth and wet mix of the 64 set away from zero: all active
        "64 parameters all active": [
            dict(zip(param_set(64), rng.uniform(0.2, 0.8, size=64), strict=True))
            for _ in range(REPEATS)],
    }
    print(f"one {RENDER_SECONDS:.0f} s note at 22050 Hz, one core, median of {REPEATS}")
    for label, patches in cases.items():
        ms = median_ms(patches)
        print(f"  {label:28s} {ms:7.2f} ms   ({RENDER_SECONDS * 1000 / ms:6.0f}x real time)")
    batch_versus_single(rng)


if __name__ == "__main__":
    main()
