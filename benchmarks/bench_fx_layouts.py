"""Why the effects run voice by voice after the batched voices: the plate's two kinds of work,
timed per voice and sample in the layouts a batched bus could use (one core).

The plate reverb (most of the effects' time: ``bench_render.py``'s all-active note) is ~13
delay-line passes (each a read at a voice's own delay and a write) and 3 one-pole recursions per
sample. In SIMD lanes a recursion gets faster (16 independent chains instead of one), but every
delay-line read becomes a gather at 16 different positions, which the vector units do not
speed up: this prints both, and the plate's estimated cost per voice-sample in each layout.

Run: .venv/bin/python benchmarks/bench_fx_layouts.py
"""

from __future__ import annotations

import os
import time

import numpy as np
from numba import njit

LANES, SIZE, BLOCK = 16, 8192, 64
MASK = SIZE - 1
SAMPLES = 88200  # one 4 s note at 22050 Hz
DELAY_LINE_PASSES, RECURSIONS = 13, 3  # per sample in fx_kernel.plate_block
JIT = {"cache": False, "fastmath": True, "nogil": True, "error_model": "numpy"}


@njit(**JIT)
def allpass_per_voice(lines: np.ndarray, delays: np.ndarray, signal: np.ndarray,
                      blocks: int) -> None:
    """fx_kernel.allpass_run's loop, one voice after another (the shipped layout)."""
    for v in range(LANES):
        line, delay = lines[v], delays[v]
        for b in range(blocks):
            write = b * BLOCK
            for j in range(BLOCK):
                delayed = line[(write + j - delay) & MASK]
                x = signal[v, j] + 0.6 * delayed
                line[(write + j) & MASK] = x
                signal[v, j] = delayed - 0.6 * x


@njit(**JIT)
def allpass_in_lanes(lines: np.ndarray, delays: np.ndarray, signal: np.ndarray,
                     blocks: int) -> None:
    """The same in lanes, the lines interleaved (position-major): contiguous writes, gathers."""
    for b in range(blocks):
        write = b * BLOCK
        for j in range(BLOCK):
            for v in range(LANES):
                delayed = lines[((write + j - delays[v]) & MASK) * LANES + v]
                x = signal[j * LANES + v] + 0.6 * delayed
                lines[((write + j) & MASK) * LANES + v] = x
                signal[j * LANES + v] = delayed - 0.6 * x


@njit(**JIT)
def one_pole_per_voice(signal: np.ndarray, blocks: int) -> None:
    """The tank's damping filter, one voice after another: one serial chain."""
    for v in range(LANES):
        state = 0.0
        for _ in range(blocks):
            for j in range(BLOCK):
                state = signal[v, j] * 0.7 + state * 0.3
                signal[v, j] = state * 0.9


@njit(**JIT)
def one_pole_in_lanes(signal: np.ndarray, states: np.ndarray, blocks: int) -> None:
    for _ in range(blocks):
        for j in range(BLOCK):
            for v in range(LANES):
                state = signal[j * LANES + v] * 0.7 + states[v] * 0.3
                states[v] = state
                signal[j * LANES + v] = state * 0.9


def ns_per_voice_sample(run, *args) -> float:  # noqa: ANN001 (a compiled function)
    blocks = SAMPLES // BLOCK
    run(*args, 2)
    start = time.perf_counter()
    run(*args, blocks)
    return 1e9 * (time.perf_counter() - start) / (blocks * BLOCK * LANES)


def main() -> None:
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    rng = np.random.default_rng(0)
    delays = rng.integers(2000, 6000, LANES)  # the tank's delays at the plate's mid size
    line_single = ns_per_voice_sample(allpass_per_voice, np.zeros((LANES, SIZE), np.float32),
                                      delays, rng.random((LANES, BLOCK)))
    line_lanes = ns_per_voice_sample(allpass_in_lanes, np.zeros(LANES * SIZE, np.float32),
                                     delays, rng.random(BLOCK * LANES))
    pole_single = ns_per_voice_sample(one_pole_per_voice, rng.random((LANES, BLOCK)))
    pole_lanes = ns_per_voice_sample(one_pole_in_lanes, rng.random(BLOCK * LANES),
                                     np.zeros(LANES))
    print(f"per voice and sample, one core, {LANES} lanes")
    print(f"  delay-line pass (allpass)   per voice {line_single:5.2f} ns   in lanes "
          f"{line_lanes:5.2f} ns")
    print(f"  one-pole recursion          per voice {pole_single:5.2f} ns   in lanes "
          f"{pole_lanes:5.2f} ns")
    for label, line, pole in (("per voice", line_single, pole_single),
                              ("in lanes", line_lanes, pole_lanes)):
        plate = DELAY_LINE_PASSES * line + RECURSIONS * pole
        print(f"  plate, estimated {label:10s} {plate:5.1f} ns "
              f"({DELAY_LINE_PASSES} passes + {RECURSIONS} recursions)")


if __name__ == "__main__":
    main()
