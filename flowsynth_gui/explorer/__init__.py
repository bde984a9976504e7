"""The explorer core: a trained model's latent space made playable (DESIGN.md section 7).

:class:`Explorer` (``explorer.py``) is the one object the app owns; it reads the model through
:mod:`flowsynth_gui.latent` (the codec and the semantic sliders, shared with training); the
modules behind it:

- :mod:`.macros` — latent dimensions ranked by how much they move the audio, as knobs, cached
  per model.
- :mod:`.preset_map` and :mod:`.map_sources` — the 2-D map of presets (latent dimensions or
  PCA) and how datasets, sounds and presets are placed on it.
- :mod:`.neighbourhood` — neighbours at a radius; latent vs straight-parameter interpolation.
- :mod:`.refine` — refined matching by CMA-ES (pycma) in the latent space.
- :mod:`.history` — bounded undo/redo of reached presets.

GUI-free: no Qt, no sounddevice, no training code.
"""

from flowsynth_gui.data.renders import StopFlag
from flowsynth_gui.explorer.explorer import Explorer, PresetLike
from flowsynth_gui.explorer.history import History, HistoryEntry
from flowsynth_gui.explorer.macros import (
    KNOB_RANGE,
    Macro,
    MacroCache,
    MacroRanking,
    MacroSettings,
    ParamSensitivity,
    RankingCancelled,
    rank_latent_dims,
)
from flowsynth_gui.explorer.neighbourhood import (
    Interpolation,
    LatentPreset,
    interpolate,
    sample_neighbours,
)
from flowsynth_gui.explorer.preset_map import MapAxes, MapPoint, PresetMap, labels_from_tags
from flowsynth_gui.explorer.refine import Candidate, RefineProgress, RefineResult, refine_match
from flowsynth_gui.latent.codec import LatentCodec
from flowsynth_gui.latent.sliders import SLIDER_RANGE, SemanticSlider, suggest_tags, tag_scores

__all__ = [
    "KNOB_RANGE",
    "SLIDER_RANGE",
    "Candidate",
    "Explorer",
    "History",
    "HistoryEntry",
    "Interpolation",
    "LatentCodec",
    "LatentPreset",
    "Macro",
    "MacroCache",
    "MacroRanking",
    "MacroSettings",
    "MapAxes",
    "MapPoint",
    "ParamSensitivity",
    "PresetLike",
    "PresetMap",
    "RankingCancelled",
    "RefineProgress",
    "RefineResult",
    "SemanticSlider",
    "StopFlag",
    "interpolate",
    "labels_from_tags",
    "rank_latent_dims",
    "refine_match",
    "sample_neighbours",
    "suggest_tags",
    "tag_scores",
]
