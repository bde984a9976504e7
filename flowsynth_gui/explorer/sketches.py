"""Sketches: presets sampled from the model's latent prior, to give the map a first landscape.

No dataset ships with FlowSynth, so a fresh install would start with an empty map. Sketches
fill it: ``count`` latents drawn from N(0, I) with a fixed seed, mapped to parameters by the
regression flow, rendered once at the reference pitch and tagged from their audio with the
checkpoint's fitted tag rules (the same Dark/Bright... rules as the training corpus), so that
the map's colours describe what the sketches *sound* like, not what the model thinks. Silent
sketches are dropped. Deterministic for a model, a count and a seed.

The app's session runs it on a worker.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from flowsynth_gui.data.renders import StopFlag, render_presets, stop_requested
from flowsynth_gui.features.descriptors import compute_descriptors_batch
from flowsynth_gui.features.tags import labels_to_tags
from flowsynth_gui.latent.codec import LatentCodec
from flowsynth_gui.latent.sliders import tag_rules_of
from flowsynth_gui.presets.library import Preset
from flowsynth_gui.synth.render import DEFAULT_SAMPLE_RATE

__all__ = ["SKETCH_SOURCE", "sketch_presets"]

SKETCH_SOURCE = "sketch"
_CHUNK = 32
_SILENT_DB = -60.0
_SPREAD = 0.9  # a little inside the prior: the far tails are rarely trained sounds


def sketch_presets(codec: LatentCodec, count: int, *, seed: int = 0, note: int = 60,
                   workers: int | None = None, should_stop: StopFlag = None,
                   progress: Callable[[int, int], None] | None = None) -> list[Preset]:
    """Up to ``count`` audible presets sampled from the prior, named and tagged by ear; each
    keeps the latent it was made from (``latent``), where the map places it."""
    if count <= 0:
        return []
    z = _SPREAD * np.random.default_rng(seed).standard_normal((count, codec.latent_dim))
    params = codec.to_params(z)
    rules = tag_rules_of(codec.metadata.tag_rules)
    presets: list[Preset] = []
    for start in range(0, count, _CHUNK):
        if stop_requested(should_stop):
            break
        rows = params[start:start + _CHUNK]
        audio = render_presets(rows, codec.names, note, workers)
        descriptors = compute_descriptors_batch(audio, DEFAULT_SAMPLE_RATE)
        labels = rules.labels(descriptors) if rules is not None \
            else np.zeros((len(rows), len(codec.metadata.tag_pairs)), np.int8)
        for i, row in enumerate(rows):
            if descriptors["loudness_db"][i] < _SILENT_DB:
                continue
            values = dict(zip(codec.names, np.clip(row, 0.0, 1.0).tolist(), strict=True))
            presets.append(Preset(f"Sketch {start + i + 1:03d}", values,
                                  labels_to_tags(labels[i]), z[start + i].tolist()))
        if progress is not None:
            progress(min(count, start + _CHUNK), count)
    return presets
