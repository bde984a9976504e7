"""Build the imitation benchmark set: synth and SoX sounds of distinct shapes, imitated by voice.

No network, no model: originals come from the shipped sound index (rendered by the built-in
synth) and from SoX, imitations are synthesised (see flowsynth_gui.evaluation.imitation_set).
Deterministic for a seed; a rebuild keeps manifest entries of other origins (recordings).

Run: .venv/bin/python scripts/make_imitation_set.py OUT_DIR [--seed 0] [--per-kind 4]
     [--imitations 2] [--sox-per-kind 2] [--candidates 3000]
     [--index checkpoints/flowsynth_index_32 | --no-index]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flowsynth_gui.evaluation.imitation_set import DEFAULT_INDEX, build_imitation_set


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder of the set (made if missing)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--per-kind", type=int, default=4, help="synth originals per kind")
    parser.add_argument("--sox-per-kind", type=int, default=2, help="SoX originals per kind")
    parser.add_argument("--imitations", type=int, default=2, help="imitations per original")
    parser.add_argument("--candidates", type=int, default=3000,
                        help="index rows rendered and classified to choose from")
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX, help="the sound index")
    parser.add_argument("--no-index", action="store_true", help="SoX originals only")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        report = build_imitation_set(args.out, seed=args.seed, per_kind=args.per_kind,
                                     imitations=args.imitations,
                                     index=None if args.no_index else args.index,
                                     candidates=args.candidates,
                                     sox_per_kind=args.sox_per_kind, log=print)
    except (OSError, ValueError) as err:  # no index there, or one for another synth
        print(f"error: {err} (--no-index builds SoX originals only)", file=sys.stderr)
        return 1
    for line in report.lines():
        print(line)
    print(f"{report.originals * args.imitations} imitations, manifest {args.out / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
