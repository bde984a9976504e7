"""Explorer parts without a trained model: CMA-ES, history, map geometry, codec, neighbours."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from flowsynth_gui.data.renders import stop_requested
from flowsynth_gui.explorer import (
    History,
    HistoryEntry,
    LatentCodec,
    MapPoint,
    PresetMap,
    labels_from_tags,
    sample_neighbours,
)
from flowsynth_gui.explorer.preset_map import _bulk_rows
from flowsynth_gui.features.mel import FeatureNormaliser
from flowsynth_gui.models import CheckpointMetadata, LoadedCheckpoint, build_model
from flowsynth_gui.synth import param_set
from flowsynth_gui.training.config import load_train_config


def tiny_codec(kind: str) -> LatentCodec:
    torch.manual_seed(0)
    model = build_model(load_train_config("tiny").model_config(kind, 16)).eval()
    if kind == "flow_dis":
        # Non-identity couplings, so that the NumPy and torch paths have something to differ on.
        with torch.no_grad():
            for coupling in model.regression_flow.couplings.couplings:
                coupling.w3.normal_(0.0, 0.3)
    return LatentCodec(LoadedCheckpoint(model, CheckpointMetadata(param_set(16),
                                                                  FeatureNormaliser(-4.0, 2.0))))


def test_history_is_bounded_and_exact() -> None:
    history = History(max_depth=3)
    values = [np.array([0.1 * i, 1 / 3]) for i in range(5)]
    for v in values:
        history.push(HistoryEntry(v, None, f"step {v[0]}"))
    assert len(history) == 3
    assert history.undo().params.tolist() == values[3].tolist()
    history.push(HistoryEntry(np.array([0.9, 0.9]), None))  # drops the redo branch
    assert not history.can_redo
    assert history.undo().params.tobytes() == values[3].tobytes()
    with pytest.raises(ValueError):
        history.current.params[0] = 1.0  # entries are read-only


def test_history_entries_compare_by_preset() -> None:
    a = HistoryEntry(np.array([0.5]), np.zeros(1), "a", {"Plate1: Wet": 0.1})
    b = HistoryEntry(np.array([0.5]), np.ones(1), "b", {"Plate1: Wet": 0.1})
    assert a.same_preset(b)
    assert not a.same_preset(HistoryEntry(np.array([0.5]), None))


def test_pca_axes_lift_and_project_are_consistent() -> None:
    rng = np.random.default_rng(0)
    latents = rng.standard_normal((20, 5)) * [3.0, 0.1, 2.0, 0.1, 0.1]
    pm = PresetMap(5)
    pm.add(MapPoint(f"p{i}", "test", z) for i, z in enumerate(latents))
    pm.set_pca()
    assert pm.axes.labels == ("PC 1", "PC 2")
    base = rng.standard_normal(5)
    z = pm.lift(1.5, -0.5, base)
    np.testing.assert_allclose(pm.project(z), [1.5, -0.5], atol=1e-12)
    # Only the in-plane part changed: the difference lies in the plane.
    np.testing.assert_allclose(np.linalg.norm(pm.project(z - base + pm.plane[1])),
                               np.linalg.norm(z - base), atol=1e-12)
    assert pm.nearest(*pm.coordinates()[7]) == 7
    pm.remove_source("test")
    assert len(pm) == 0 and pm.latents.shape == (0, 5)


def test_pca_axes_follow_the_bulk_not_a_few_presets_far_out() -> None:
    rng = np.random.default_rng(1)
    bulk = rng.standard_normal((200, 6)) * [2.0, 1.0, 0.2, 0.2, 0.2, 0.2]
    far = np.zeros((4, 6))
    far[:, 5] = [60.0, -45.0, 80.0, -70.0]  # imported presets the model never saw
    pm = PresetMap(6)
    pm.add(MapPoint(f"p{i}", "test", z) for i, z in enumerate(np.vstack([bulk, far])))
    pm.set_pca()
    # PC 1 and PC 2 span the bulk's two wide dimensions, untouched by the far points
    basis, _ = pm.plane
    np.testing.assert_allclose(np.abs(basis[:, :2]), np.eye(2), atol=0.05)
    assert np.abs(basis[:, 5]).max() < 0.05
    # in one Gaussian cloud, (nearly) every point counts
    assert _bulk_rows(bulk).mean() >= 0.99


def test_map_refuses_bad_axes_and_points() -> None:
    pm = PresetMap(4)
    with pytest.raises(ValueError, match="latent dimension"):
        pm.set_dims(0, 4)
    with pytest.raises(ValueError, match="different"):
        pm.set_dims(2, 2)
    with pytest.raises(ValueError, match="at least 3"):
        pm.set_pca()
    with pytest.raises(ValueError, match="shape"):
        pm.add([MapPoint("x", "test", np.zeros(3))])


def test_labels_from_tags() -> None:
    assert labels_from_tags(["Bright", "soft", "Modern"]).tolist() == [1, 0, 0, -1]
    assert labels_from_tags(["Dark", "Bright"]).tolist() == [0, 0, 0, 0]  # contradictory


def test_neighbours_validate_their_arguments() -> None:
    with pytest.raises(ValueError):
        sample_neighbours(np.zeros(3), 0, 1.0)
    with pytest.raises(ValueError):
        sample_neighbours(np.zeros(3), 2, float("nan"))
    assert np.array_equal(sample_neighbours(np.ones(3), 2, 0.0), np.ones((2, 3)))


def test_codec_fast_path_matches_torch_both_ways() -> None:
    codec = tiny_codec("flow_dis")
    z = np.random.default_rng(0).standard_normal((8, 16))
    torch_params = codec.model.params_from_latent(z.astype(np.float32)).double().numpy()
    np.testing.assert_allclose(codec.to_params(z), torch_params, atol=1e-5)
    np.testing.assert_allclose(codec.to_params(z[0]), torch_params[0], atol=1e-5)
    np.testing.assert_allclose(codec.to_latent(torch_params), z, atol=1e-3)
    assert codec.n_semantic == 4 and len(codec.fingerprint()) == 64


def test_codec_checks_shapes() -> None:
    codec = tiny_codec("vae")
    assert codec.n_semantic == 0
    with pytest.raises(ValueError, match=r"\(16,\)"):
        codec.to_params(np.zeros(15))
    with pytest.raises(ValueError, match="NaN"):
        codec.to_params(np.full(16, np.nan))


def test_stop_flags() -> None:
    event = threading.Event()
    assert not stop_requested(None) and not stop_requested(event)
    event.set()
    assert stop_requested(event) and stop_requested(lambda: True)


def test_explorer_imports_no_gui_audio_device_or_training_code() -> None:
    import subprocess
    import sys

    code = ("import sys, flowsynth_gui.explorer; print([m for m in sys.modules if m.startswith("
            "('PySide6', 'sounddevice', 'flowsynth_gui.training', 'flowsynth_gui.audio'))])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"
