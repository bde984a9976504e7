"""Latency from a parameter change (``MidiOut.send_params``) to its MIDI message arriving at a
connected JACK MIDI input: median, p99 and max over a few hundred changes.

Needs a running JACK server, e.g. the dummy one .ci/run starts::

    export JACK_DEFAULT_SERVER=flowsynth-dev JACK_NO_START_SERVER=1
    jackd -n "$JACK_DEFAULT_SERVER" --no-realtime -d dummy -r 48000 -p 256 &
    .venv/bin/python benchmarks/bench_midi_latency.py --changes 500

Changes are spaced beyond the per-parameter interval (plus a random part of a JACK period), so
the figures are the pipeline's latency (store, sender thread, rtmidi's ring buffer, the JACK
cycle, the receiving client), not the rate limiter's thinning.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import threading
import time

import mido
import numpy as np

from flowsynth_gui.midi.cc_map import CCMap
from flowsynth_gui.midi.output import MidiOut, RateLimits
from flowsynth_gui.midi.ports import MidiSystem

API = "UNIX_JACK"
CASES = {"7-bit CC (VCF1: Resonance)": ("VCF1: Resonance", 1),
         "14-bit pair (VCF1: Frequency), until the LSB": ("VCF1: Frequency", 2)}


def jack_running() -> bool:
    """Whether a JACK server answers (without starting one)."""
    jack_lsp = shutil.which("jack_lsp")
    if jack_lsp is None:
        return False
    env = {**os.environ, "JACK_NO_START_SERVER": "1"}
    try:
        done = subprocess.run([jack_lsp], env=env, capture_output=True, timeout=5)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def jack_period_s() -> float | None:
    """The server's period in seconds, from jack_bufsize and jack_samplerate when present."""
    try:
        frames = int(subprocess.run(["jack_bufsize"], capture_output=True, text=True,
                                    timeout=5).stdout.split()[0])
        rate = int(subprocess.run(["jack_samplerate"], capture_output=True, text=True,
                                  timeout=5).stdout.split()[0])
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return None
    return frames / rate


class Arrivals:
    """A virtual JACK input that timestamps every message as it arrives."""

    def __init__(self, client: str) -> None:
        self.times: list[float] = []
        self.event = threading.Event()
        self.expected = 1
        backend = mido.Backend(f"mido.backends.rtmidi/{API}", load=True)
        self.port = backend.open_input("in", virtual=True, client_name=client,
                                       callback=self._arrived)
        self.name = f"{client}:in"

    def _arrived(self, message: mido.Message) -> None:
        self.times.append(time.perf_counter())
        if len(self.times) >= self.expected:
            self.event.set()

    def expect(self, count: int) -> None:
        self.times.clear()
        self.expected = count
        self.event.clear()


def measure(out: MidiOut, rx: Arrivals, param: str, messages: int, changes: int,
            spacing_s: float, jitter_s: float) -> tuple[np.ndarray, int]:
    """Latencies in seconds of ``changes`` changes of ``param``; and how many never arrived."""
    rng = random.Random(0)
    latencies, lost = [], 0
    for i in range(changes):
        # Distinct MSB and LSB each time, so a 14-bit change always sends both messages.
        value = 0.25 + 0.5 * (i % 2) + rng.uniform(0, 0.01)
        rx.expect(messages)
        started = time.perf_counter()
        out.send_params({param: value})
        if rx.event.wait(1.0):
            latencies.append(rx.times[messages - 1] - started)
        else:
            lost += 1
        time.sleep(spacing_s + rng.uniform(0, jitter_s))
    return np.array(latencies), lost


def report(title: str, latencies: np.ndarray, lost: int) -> None:
    ms = latencies * 1000
    print(f"{title}: n={len(ms)}  median {np.median(ms):.2f} ms  p90 "
          f"{np.percentile(ms, 90):.2f} ms  p99 {np.percentile(ms, 99):.2f} ms  "
          f"max {ms.max():.2f} ms  lost {lost}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=500, help="changes per case")
    args = parser.parse_args()
    if not jack_running():
        print("error: no JACK server answers. Start one as .ci/run does, e.g.\n"
              "  export JACK_DEFAULT_SERVER=flowsynth-dev JACK_NO_START_SERVER=1\n"
              '  jackd -n "$JACK_DEFAULT_SERVER" --no-realtime -d dummy -r 48000 -p 256 &\n'
              "and run this again with the same JACK_DEFAULT_SERVER.", file=sys.stderr)
        return 2
    period = jack_period_s()
    limits = RateLimits()
    client = f"fs-bench-{os.getpid()}"
    rx = Arrivals(f"{client}-rx")
    system = MidiSystem(api=API, client_name=client)
    out = MidiOut(CCMap.default(), system=system, port=rx.name, limits=limits)
    try:
        if not out.wait_for_state("connected", 10):
            print(f"error: MIDI output not connected: {out.state}", file=sys.stderr)
            return 1
        print(f"JACK server {os.environ.get('JACK_DEFAULT_SERVER', '(default)')}, period "
              f"{period * 1000:.2f} ms" if period else "JACK period unknown")
        print(f"{args.changes} changes per case, spaced {limits.min_interval_s * 1000:.0f} ms "
              "+ random jitter")
        for title, (param, messages) in CASES.items():
            latencies, lost = measure(out, rx, param, messages, args.changes,
                                      limits.min_interval_s, period or 0.005)
            report(title, latencies, lost)
    finally:
        out.close()
        system.close()
        rx.port.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
