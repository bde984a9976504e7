"""CPU share of one core for live play: 8 voices at 48 kHz, rendered block by block.

Share = render time of one block / the block's duration (1.0 = the core is fully busy and
audio would drop out). Each block is what the player's render thread does: the synth's block,
then the copy into the ring buffer that the audio callback reads. Pinned to one core; median and
p99 over a few seconds of audio, with and without a parameter change before every block.

Run: .venv/bin/python benchmarks/bench_live_voice.py
"""

from __future__ import annotations

import os
import time

import numpy as np

from flowsynth_gui.audio.ring import FrameRing
from flowsynth_gui.synth import param_set
from flowsynth_gui.synth.live import PolySynth

RATE = 48000
VOICES = 8
SECONDS = 4.0  # of audio per case
NOTES = (48, 52, 55, 59, 60, 64, 67, 71)
PATCH = {"OSC: Shape1": 0.7, "VCF1: Frequency": 0.6, "VCF1: Resonance": 0.5,
         "VCF1: FreqModDepth": 0.7, "Chrs1: Wet": 0.4, "Plate1: Wet": 0.3, "VCA1: Volume": 0.3}


def block_times(params: dict[str, float], block: int, moving: bool) -> np.ndarray:
    """Seconds per block for ``SECONDS`` of 8-voice audio (after a warm-up second)."""
    synth = PolySynth(sample_rate=RATE, max_voices=VOICES, params=params)
    ring = FrameRing(4 * block)
    out = np.empty((block, 2), dtype=np.float32)
    for note in NOTES:
        synth.note_on(note, 100)
    rng = np.random.default_rng(0)
    names = list(params)
    for _ in range(RATE // block):  # warm-up: kernels loaded, voices past their attacks
        synth.render_block(block)
    times = np.empty(int(SECONDS * RATE / block))
    for i in range(times.size):
        if moving:  # what a GUI drag sends (outside the timed part, as in the player)
            synth.set_params({**params, names[i % len(names)]: float(rng.uniform(0.2, 0.8))})
        start = time.perf_counter()
        ring.write(synth.render_block(block))
        times[i] = time.perf_counter() - start
        ring.read_into(out)  # the callback's side, untimed
    assert synth.active_voices == VOICES
    return times


def main() -> None:
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    rng = np.random.default_rng(1)
    patches = {
        "default patch": {"VCA1: Volume": 0.3},
        "patch with chorus + plate": PATCH,
        # 0.2..0.8 keeps every level, depth and wet mix of the 64 set away from zero: all active
        "64 parameters all active": dict(zip(param_set(64), rng.uniform(0.2, 0.8, size=64),
                                             strict=True)),
    }
    print(f"{VOICES} voices at {RATE} Hz, one core; share of the core = render time / block "
          "duration")
    print(f"  {'patch':28s} {'block':>5s} {'changes':>8s} {'median':>8s} {'p99':>8s} "
          f"{'max':>8s}  ns/voice-sample (median)")
    for label, params in patches.items():
        for block in (64, 256, 1024):
            for moving in (False, True):
                times = block_times(params, block, moving)
                duration = block / RATE
                median, p99, worst = (float(np.median(times)), float(np.percentile(times, 99)),
                                      float(times.max()))
                per_sample = median / (block * VOICES) * 1e9
                print(f"  {label:28s} {block:5d} {'yes' if moving else 'no':>8s} "
                      f"{median / duration:8.1%} {p99 / duration:8.1%} {worst / duration:8.1%}"
                      f"  {per_sample:6.0f}")


if __name__ == "__main__":
    main()
