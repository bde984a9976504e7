"""Dataset throughput on all cores, features included, and the build's peak memory.

Run: .venv/bin/python benchmarks/bench_dataset.py [--size 20000] [--params 32]
(target: >= 330 sounds/s on 2 cores; the figure compares with torchsynth's Voice, ~165/s.)
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from flowsynth_gui.data.dataset import DatasetSpec, build_dataset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=20000)
    parser.add_argument("--params", type=int, default=32)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="flowsynth-bench-")) / "ds"
    try:
        spec = DatasetSpec(param_set=args.params, size=args.size, seed=0)
        start = time.perf_counter()
        build_dataset(root, spec, workers=args.workers)
        seconds = time.perf_counter() - start
        disk = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    finally:
        shutil.rmtree(root.parent, ignore_errors=True)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{args.size} sounds, {args.params} parameters: {seconds:.1f} s, "
          f"{args.size / seconds:.0f} sounds/s (features, tags and split included)")
    print(f"peak memory: main process {own:.0f} MiB, largest worker {worker:.0f} MiB; "
          f"on disk {disk / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
