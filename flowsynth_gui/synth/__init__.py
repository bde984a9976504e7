"""The Diva-shaped virtual analogue synth: parameter specs, offline rendering, live voices."""

from flowsynth_gui.synth.params import ParameterError, param_names, param_set, spec_version
from flowsynth_gui.synth.render import render, render_batch, render_vector

__all__ = [
    "ParameterError",
    "param_names",
    "param_set",
    "spec_version",
    "render",
    "render_batch",
    "render_vector",
]
