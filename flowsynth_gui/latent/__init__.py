"""A trained model's latent space, below both the explorer and training.

- :mod:`.codec` — :class:`LatentCodec`: audio → z, z ↔ parameters in NumPy.
- :mod:`.sliders` — Flow_dis's tagged dimensions as sliders ("Dark ↔ Bright"), the tag scores
  they should move and the sweep that measures them (the app shows them; slider alignment
  trains on them).

No Qt, no explorer state, no training code.
"""

from flowsynth_gui.latent.codec import LatentCodec
from flowsynth_gui.latent.sliders import SLIDER_RANGE, SemanticSlider, SliderSweep, tag_scores

__all__ = ["SLIDER_RANGE", "LatentCodec", "SemanticSlider", "SliderSweep", "tag_scores"]
