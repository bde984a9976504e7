"""Tiny sound indexes for the tests: one per parameter set, built once per run, only read.

The tiny GUI model explores 16 parameters and the shipped model 32. 120 sounds of 32
parameters are what the posterior test needs to learn anything; the other tests need a few.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flowsynth_gui.matching.index import IndexSpec, build_index
from flowsynth_gui.matching.shape_index import build_shapes

INDEX_SPECS = {
    16: IndexSpec(param_set=16, size=40, shard_size=20, basis_sounds=20, components=8),
    32: IndexSpec(param_set=32, size=120, shard_size=60, basis_sounds=24, components=8, seed=3),
}


def built_index(tmp_path_factory: pytest.TempPathFactory, n_params: int,
                with_shapes: bool) -> Path:
    spec = INDEX_SPECS[n_params]
    root = tmp_path_factory.mktemp("index") / f"p{n_params}"
    build_index(root, spec, workers=1)
    if with_shapes:
        build_shapes(root, rows=spec.size, workers=1)
    return root
