"""MIDI services (no GUI): the CC map, port handling, MIDI out to an external synth, MIDI in.

* :mod:`~flowsynth_gui.midi.cc_map`: which CC carries each synth parameter, value conversions;
* :mod:`~flowsynth_gui.midi.ports`: listing and opening ports, errors a user can act on;
* :mod:`~flowsynth_gui.midi.output`: :class:`MidiOut`, rate-limited parameter and note sending;
* :mod:`~flowsynth_gui.midi.input`: :class:`MidiIn`, notes, MIDI learn and mapped CCs.
"""

from flowsynth_gui.midi.cc_map import CCBinding, CCDecoder, CCMap, CCMapError, load_cc_map
from flowsynth_gui.midi.input import (
    LearnedBinding,
    LearnFileError,
    MergingParamsSink,
    MidiIn,
)
from flowsynth_gui.midi.output import MidiOut, RateLimits
from flowsynth_gui.midi.ports import MidiPortError, MidiSystem, NoMidiSystemError

__all__ = [
    "CCBinding",
    "CCDecoder",
    "CCMap",
    "CCMapError",
    "LearnFileError",
    "LearnedBinding",
    "MergingParamsSink",
    "MidiIn",
    "MidiOut",
    "MidiPortError",
    "MidiSystem",
    "NoMidiSystemError",
    "RateLimits",
    "load_cc_map",
]
