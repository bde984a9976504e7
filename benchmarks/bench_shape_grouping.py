"""The ceiling of grouping voices by oscillator shape in the batched renderer (issue 13).

``voice_batch`` computes all four waves of each oscillator for every voice (sine, triangle,
saw, pulse) and keeps the two its shape blends. If voices were grouped so that every voice of
a group used one shape segment, a group would need only that segment's two waves. This times
the lean oscillator pass (osc 1, osc 3 and noise, as the 32-parameter sets use it) with every
wave, and with one segment's waves only, on the same 16 voices: the saving printed is what
perfect grouping could win at most, on one core.

Run: .venv/bin/python benchmarks/bench_shape_grouping.py
"""

from __future__ import annotations

import os
import time

import numpy as np
from numba import njit

from flowsynth_gui.synth import param_set, params
from flowsynth_gui.synth import voice_batch as vb
from flowsynth_gui.synth.dsp import (
    INLINE,
    JIT,
    fast_sin_cycle,
    morph_wave_lanes,
    saw_and_pulse_lanes,
    triangle_lanes,
)
from flowsynth_gui.synth.render import engine_native
from flowsynth_gui.synth.voice_kernel import CONTROL_PERIOD, VOICE_STATE_SIZE, derive_static

SR = 22050.0
BLOCKS = int(4 * SR) // CONTROL_PERIOD  # one 4 s note


@njit(**INLINE)
def sine_to_triangle(t: float, dt: float, shape: float, width: float) -> float:
    """``morph_wave_lanes`` for shapes in segment 0 only."""
    sine = fast_sin_cycle(t)
    return sine + shape * (triangle_lanes(t, dt, 1.0 / dt) - sine)


@njit(**INLINE)
def saw_to_pulse(t: float, dt: float, shape: float, width: float) -> float:
    """``morph_wave_lanes`` for shapes in segment 2 only."""
    saw, pulse = saw_and_pulse_lanes(t, 1.0 / dt, width, dt >= 0.25)
    return saw + (shape - 2.0) * (pulse - saw)


def oscillator_pass(wave):  # noqa: ANN001, ANN201 (compiled functions)
    """``vb.oscillators_without_osc2_and_sub`` with ``wave`` for both oscillators."""
    at, ramp, step = vb.at, vb.RAMP, vb.STEP

    @njit(**JIT)
    def run(st: np.ndarray, c: np.ndarray, noise: np.ndarray, mix: np.ndarray,
            osc1: np.ndarray, count: int) -> None:
        for n in range(count):
            for v in range(vb.LANES):
                d1 = st[at(ramp + vb.R_DT1, v)] + st[at(step + vb.R_DT1, v)]
                d3 = st[at(ramp + vb.R_DT3, v)] + st[at(step + vb.R_DT3, v)]
                st[at(ramp + vb.R_DT1, v)] = d1
                st[at(ramp + vb.R_DT3, v)] = d3
                p1, p3 = st[at(vb.S_PH1, v)], st[at(vb.S_PH3, v)]
                width = c[at(vb.C_WIDTH, v)]
                o1 = wave(p1, d1, c[at(vb.C_SHAPE1, v)], width)
                o3 = c[at(vb.C_GAIN3, v)] * wave(p3, d3, c[at(vb.C_SHAPE3, v)], width)
                st[at(vb.S_PH1, v)] = vb.wrapped(p1 + d1)
                st[at(vb.S_PH3, v)] = vb.wrapped(p3 + d3)
                mix[n * vb.LANES + v] = (c[at(vb.C_GAIN1, v)] * o1 + o3
                                         + vb.noise_sample(c, noise, v))
                osc1[n * vb.LANES + v] = o1
    return run


def ms_per_sound(run, natives: np.ndarray) -> float:  # noqa: ANN001 (a compiled function)
    states = np.empty(VOICE_STATE_SIZE * vb.LANES)
    vb.lanes_start(natives, states, 60.0, 100.0)
    for v in range(vb.LANES):
        derive_static(natives[v], vb.lane_state(states, v), SR)
    consts = np.empty(vb.N_CONSTANTS * vb.LANES)
    vb.fill_constants(natives, states, consts, SR)
    noise = np.arange(1, vb.LANES + 1, dtype=np.uint64)
    mix, osc1 = np.empty(CONTROL_PERIOD * vb.LANES), np.empty(CONTROL_PERIOD * vb.LANES)
    run(states, consts, noise, mix, osc1, CONTROL_PERIOD)
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(BLOCKS):
            run(states, consts, noise, mix, osc1, CONTROL_PERIOD)
        best = min(best, time.perf_counter() - start)
    return 1000 * best / vb.LANES


def main() -> None:
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    names = param_set(32)
    vectors = np.repeat(params.default_vector()[None], vb.LANES, axis=0)
    vectors[:, [params.param_index(n) for n in names]] = np.random.default_rng(0).uniform(
        size=(vb.LANES, len(names)))
    natives = np.stack([engine_native(row) for row in vectors])
    shipped = ms_per_sound(vb.oscillators_without_osc2_and_sub, natives)
    print(f"oscillator pass of one 4 s note, {vb.LANES} random 32-parameter voices, one core")
    print(f"  shipped lean loop (all four waves)   {shipped:.3f} ms per sound")
    for label, wave in (("all four waves (this copy)", morph_wave_lanes),
                        ("segment 0 only (sine-triangle)", sine_to_triangle),
                        ("segment 2 only (saw-pulse)", saw_to_pulse)):
        ms = ms_per_sound(oscillator_pass(wave), natives)
        print(f"  {label:36s} {ms:.3f} ms per sound   (saves {shipped - ms:+.3f})")


if __name__ == "__main__":
    main()
