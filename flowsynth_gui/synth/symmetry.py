"""Parameters that cannot be heard: the synth's exact invariances, and a canonical preset.

Many presets sound exactly alike because some knobs act on a silent part of the voice. Read
from the voice kernel's mixer (``tick_constants``, ``oscillator_pass``):

- oscillator 2 sounds at gain ``OscMix × Volume2``: when that is zero, its pitch (``Tune2``),
  wave (``Shape2``), the FM that bends it (``FM``) and the ring modulation in its slot
  (``DigitalShape2``) are inaudible, and with ``OscMix`` at zero so is ``Volume2``;
- oscillator 3 sounds at gain ``Volume3``: at zero, ``Tune3`` and ``Shape3`` are inaudible.

``OscMix`` defaults to 0 and is not in the 16- or 32-parameter sets, so there oscillator 2 is
always silent: 4 of the 32 parameters (FM, Shape2, Tune2, Volume2) never change the sound
(``benchmarks/bench_symmetry.py`` measures it: every sweep of them leaves the render unchanged,
while every other parameter moves it). Oscillators 2 and 3 are not interchangeable (FM and
ring act on 2 only, their start phases differ), so swapping them is no symmetry.

:func:`canonical` sets every inaudible parameter to its default: the one representative of each
class of identical presets that models learn and evaluations compare. :func:`inert_mask` says
which entries those were, so parameter-space metrics skip what no ear could tell.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from flowsynth_gui.synth import params as param_specs

__all__ = ["INERT_WHEN_SILENT", "canonical", "inert_mask"]

# Parameters that act only on one oscillator, by the oscillator whose silence hides them.
INERT_WHEN_SILENT = {
    2: ("OSC: Tune2", "OSC: Shape2", "OSC: FM", "OSC: DigitalShape2"),
    3: ("OSC: Tune3", "OSC: Shape3"),
}


def _native(values: np.ndarray, names: Sequence[str], name: str) -> np.ndarray:
    """Native values of ``name`` per row (its default where the set does not include it)."""
    spec = param_specs.spec_by_name(name)
    if name in names:
        normalised = values[:, list(names).index(name)]
    else:
        normalised = np.full(len(values), spec.default_normalised)
    return spec.min + normalised * (spec.max - spec.min)


def inert_mask(values: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """``(N, P)`` bool: True where a row's parameter cannot change its sound (see module)."""
    rows = np.atleast_2d(np.asarray(values, dtype=np.float64))
    names = tuple(names)
    mix = _native(rows, names, "OSC: OscMix")
    silent = {2: (mix * _native(rows, names, "OSC: Volume2")) == 0.0,
              3: _native(rows, names, "OSC: Volume3") == 0.0}
    mask = np.zeros(rows.shape, dtype=bool)
    for oscillator, controlled in INERT_WHEN_SILENT.items():
        for name in controlled:
            if name in names:
                mask[:, names.index(name)] = silent[oscillator]
    if "OSC: Volume2" in names:
        mask[:, names.index("OSC: Volume2")] = mix == 0.0
    return mask


def canonical(values: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """The rows with every inaudible parameter at its default: same sound, one spelling."""
    rows = np.atleast_2d(np.asarray(values, dtype=np.float64)).copy()
    defaults = np.array([param_specs.spec_by_name(n).default_normalised for n in names])
    mask = inert_mask(rows, names)
    rows[mask] = np.broadcast_to(defaults, rows.shape)[mask]
    return rows
