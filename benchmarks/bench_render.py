"""Render time of one 4 s note on one core (target: median <= 5 ms with all 64 parameters).

Run: .venv/bin/python benchmarks/bench_render.py
"""

from __future__ import annotations

import os
import time

import numpy as np

from flowsynth_gui.synth import param_set, render
from flowsynth_gui.synth.params import normalised_vector
from flowsynth_gui.synth.render import RENDER_SECONDS, render_vector

REPEATS = 60


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


if __name__ == "__main__":
    main()
