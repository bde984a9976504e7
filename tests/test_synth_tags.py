"""Semantic tags on synth sounds built to be bright/dark, moving/constant, dirty/clean,
aggressive/soft: thresholds fitted on a corpus of random synth sounds, as datasets do."""

from __future__ import annotations

import numpy as np
import pytest

from flowsynth_gui.data.dataset import sample_parameters
from flowsynth_gui.features.descriptors import compute_descriptors, compute_descriptors_batch
from flowsynth_gui.features.tags import TagRules
from flowsynth_gui.synth import param_set, render, render_batch

SR = 22050
BASE = {"OSC: Shape1": 0.667, "VCF1: Frequency": 0.6, "ENV1: Attack": 0.1,
        "ENV1: Sustain": 0.8, "VCA1: Volume": 0.6}


@pytest.fixture(scope="module")
def rules() -> TagRules:
    names = param_set(32)
    values = sample_parameters(np.random.default_rng(7), 240, names, 0.5)
    audio = render_batch(values, names)
    return TagRules.fit(compute_descriptors_batch(audio, SR))


CASES = [
    # A narrow pulse through open filters with the lows cut: most energy lies high up.
    ("Bright", {"VCF1: Frequency": 1.0, "OSC: Shape1": 1.0, "OSC: PulseWidth": 0.08,
                "HPF: Frequency": 0.55}),
    ("Dark", {"VCF1: Frequency": 0.25, "OSC: Shape1": 0.0}),
    ("Moving", {"VCF1: FreqMod2Depth": 0.85, "LFO2: Rate": 0.3, "VCA1: ModDepth": 0.8}),
    ("Constant", {"VCF1: Frequency": 0.7}),
    ("Dirty", {"OSC: NoiseVol": 1.0, "OSC: Volume1": 0.1, "VCF1: Frequency": 0.9}),
    ("Clean", {"OSC: Shape1": 0.0, "VCF1: Frequency": 0.5}),
    ("Aggressive", {"ENV1: Attack": 0.0, "VCF1: Frequency": 1.0, "OSC: Shape1": 1.0,
                    "OSC: PulseWidth": 0.1, "OSC: Volume2": 1.0, "OSC: FM": 0.7,
                    "HPF: Frequency": 0.45}),
    ("Soft", {"ENV1: Attack": 0.75, "OSC: Shape1": 0.0, "VCF1: Frequency": 0.4}),
]


@pytest.mark.parametrize(("tag", "patch"), CASES, ids=[c[0] for c in CASES])
def test_built_sounds_get_their_tag(rules: TagRules, tag: str, patch: dict[str, float]) -> None:
    descriptors = compute_descriptors(render({**BASE, **patch}), SR)
    assert tag in rules.tags_for(descriptors), (tag, descriptors)
