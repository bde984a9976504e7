"""MIDI services (no GUI): the CC map, port handling, MIDI out to an external synth, MIDI in.

* :mod:`~flowsynth_gui.midi.cc_map`: which CC carries each synth parameter, value conversions;
* :mod:`~flowsynth_gui.midi.ports`: listing and opening ports, errors a user can act on;
* :mod:`~flowsynth_gui.midi.throttle`: the coalescing, rate-limited store behind MidiOut;
* :mod:`~flowsynth_gui.midi.output`: :class:`MidiOut`, rate-limited parameter and note sending;
* :mod:`~flowsynth_gui.midi.learn`: MIDI-learn bindings and their file;
* :mod:`~flowsynth_gui.midi.input`: :class:`MidiIn`, notes, MIDI learn and mapped CCs;
* :mod:`~flowsynth_gui.midi.paths`: the user's config folder.
"""

from flowsynth_gui.midi.cc_map import CCBinding, CCDecoder, CCMap, CCMapError, load_cc_map
from flowsynth_gui.midi.input import MergingParamsSink, MidiIn
from flowsynth_gui.midi.learn import LearnedBinding, LearnFileError
from flowsynth_gui.midi.output import MidiOut
from flowsynth_gui.midi.ports import MidiPortError, MidiSystem, NoMidiSystemError
from flowsynth_gui.midi.throttle import RateLimits

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
