"""Entry point of the desktop app (``flowsynth-gui`` / ``python main.py``).

The explorer window is built in a later step of the project (see the README's roadmap); until
then the launch command explains that and shows what the command line can already do.
"""

from __future__ import annotations

import sys

from flowsynth_gui.cli import build_parser


def main() -> int:
    print("FlowSynth: the desktop explorer is not built yet; the command line works today:\n")
    build_parser().print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
