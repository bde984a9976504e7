"""Sound matching: a sound in, the closest presets of the synth out (GUI-free).

- :mod:`.index` — the sound index: presets rendered once, embedded (PCA of the log-mel),
  searched by brute force; tied to the synth version and feature settings.
- :mod:`.scoring` — candidates rendered at the target's pitch and scored (SC), threaded.
- :mod:`.polish` — CMA-ES (pycma) in parameter space from the best candidates, to a deadline.
- :mod:`.engine` — :class:`MatchEngine`: candidate sources (index, model, parameter
  posterior, the user's presets) → ranking → polish → top-K.
- :mod:`.loading` — the shipped index and parameter posterior
  (:mod:`flowsynth_gui.models.param_posterior`), opened with a clear fallback.

The input's analysis (pitch, transposition) is :mod:`flowsynth_gui.inference.analysis`.
"""

from flowsynth_gui.matching.engine import (
    DEFAULT_BUDGET,
    SOURCES,
    EngineSettings,
    MatchCandidate,
    MatchEngine,
    MatchOutcome,
    MatchProgress,
)
from flowsynth_gui.matching.index import IndexSpec, SoundIndex, SoundIndexError, load_index
from flowsynth_gui.matching.loading import DEFAULT_INDEX, open_index, open_posterior
from flowsynth_gui.matching.polish import PolishSettings

__all__ = [
    "DEFAULT_BUDGET",
    "DEFAULT_INDEX",
    "SOURCES",
    "EngineSettings",
    "IndexSpec",
    "MatchCandidate",
    "MatchEngine",
    "MatchOutcome",
    "MatchProgress",
    "PolishSettings",
    "SoundIndex",
    "SoundIndexError",
    "load_index",
    "open_index",
    "open_posterior",
]
