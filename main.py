"""Start the FlowSynth desktop app."""

import sys

from flowsynth_gui.app import main

if __name__ == "__main__":
    sys.exit(main())
