"""Checkpoints: weights (tensors only) + JSON sidecar; refused clearly when they do not fit."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from flowsynth_gui.features.mel import DEFAULT_SETTINGS, FeatureNormaliser, MelSettings
from flowsynth_gui.features.tags import TAG_PAIRS
from flowsynth_gui.models import (
    CheckpointError,
    CheckpointMetadata,
    ModelConfig,
    build_model,
    load_checkpoint,
    read_checkpoint_metadata,
    save_checkpoint,
)
from flowsynth_gui.models.checkpoint import FORMAT_VERSION, checkpoint_paths
from flowsynth_gui.synth.params import param_set, spec_version

P = 16


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_model(kind: str = "flow_dis") -> torch.nn.Module:
    torch.manual_seed(0)
    config = ModelConfig(kind, n_params=P, channels=4, conv_layers=2, kernel=3, hidden=16,
                         regressor_hidden=16, iaf_steps=2, iaf_hidden=16, flow_steps=2,
                         flow_hidden=16, dis_steps=2, dis_hidden=16)
    model = build_model(config)
    with torch.no_grad():  # non-trivial weights everywhere (flows start at the identity)
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    return model.eval()


def metadata() -> CheckpointMetadata:
    return CheckpointMetadata(
        param_names=param_set(16), normaliser=FeatureNormaliser(mean=-4.2, std=2.5),
        tag_rules={"format_version": 1, "low": [1, 2, 3, 4]},
        training={"epochs": 3, "valid_loss": 12.5, "seconds": 60.0})


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    model = tiny_model()
    save_checkpoint(tmp_path / "model.pt", model, metadata())
    return tmp_path / "model.pt", model


def _edit_sidecar(path: Path, edit) -> None:
    sidecar = checkpoint_paths(path)[1]
    data = json.loads(sidecar.read_text())
    edit(data)
    sidecar.write_text(json.dumps(data))


def test_round_trip_gives_identical_outputs(saved: tuple[Path, torch.nn.Module]) -> None:
    path, model = saved
    loaded = load_checkpoint(path)
    assert not loaded.model.training, "loaded models are ready for inference"
    assert loaded.config == model.config
    meta = loaded.metadata
    assert meta.param_names == param_set(16) and meta.synth_spec_version == spec_version()
    assert meta.mel_settings == DEFAULT_SETTINGS and meta.tag_pairs == TAG_PAIRS
    assert meta.normaliser == FeatureNormaliser(-4.2, 2.5) and meta.training["epochs"] == 3
    mel = torch.randn(3, 128, 87)
    z = model.encode(mel)
    assert torch.equal(loaded.model.encode(mel), z)
    assert torch.equal(loaded.model.params_from_latent(z), model.params_from_latent(z))
    assert torch.equal(loaded.model.decode(z), model.decode(z))
    v = torch.rand(3, P)
    assert torch.equal(loaded.model.latent_from_params(v), model.latent_from_params(v))
    # Either file names the checkpoint; the sidecar lists the tensors and is plain JSON.
    assert load_checkpoint(path.with_suffix(".json")).config == model.config
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["format"] == "flowsynth-model" and sidecar["format_version"] == FORMAT_VERSION
    assert sidecar["weights"]["tensors"] == list(model.state_dict())


def test_weights_file_holds_tensors_only(saved: tuple[Path, torch.nn.Module]) -> None:
    state = torch.load(saved[0], weights_only=True)
    assert isinstance(state, dict) and all(isinstance(v, torch.Tensor) for v in state.values())


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.update(synth_spec_version="flowsynth-va/0"),
     r"trained for synth 'flowsynth-va/0', but this FlowSynth runs synth"),
    (lambda d: d["param_names"].__setitem__(0, "OSC: Warp Drive"),
     r"parameter names not known to this synth: \['OSC: Warp Drive'\]"),
    (lambda d: d["mel_settings"].update(n_fft=1024, fmax=8000.0),
     r"mel settings differ .*n_fft: checkpoint 1024, running 2048.*fmax: checkpoint 8000"),
    (lambda d: d.update(format="some-other-tool"), r"not a FlowSynth model checkpoint"),
    (lambda d: d.update(format_version=FORMAT_VERSION + 1), r"comes from a newer FlowSynth"),
    (lambda d: d["config"].update(flow_hidden=32), r"do not fit .*shape mismatches"),
    (lambda d: d["config"].update(kind="flow_reg"), r"do not fit .*unexpected tensors"),
    (lambda d: d["config"].update(kind="gan"), r"invalid config: .*kind 'gan'"),
    (lambda d: d.pop("normaliser"), r"sidecar lacks \['normaliser'\]"),
    (lambda d: d["param_names"].pop(), r"15 parameter names but the model config has n_params=16"),
], ids=["synth-version", "unknown-param", "mel-settings", "foreign-format", "newer-format",
        "wrong-size", "wrong-kind", "invalid-config", "missing-key", "name-count"])
def test_mismatching_sidecar_is_refused(saved, edit, message: str) -> None:
    path, _ = saved
    _edit_sidecar(path, edit)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_other_running_mel_settings_are_refused(saved) -> None:
    running = replace(MelSettings(), hop_length=512)
    with pytest.raises(CheckpointError, match="hop_length: checkpoint 1024, running 512"):
        read_checkpoint_metadata(saved[0], mel_settings=running)


def test_broken_files_are_refused(saved) -> None:
    path, _ = saved
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated, corrupt or from another checkpoint"):
        load_checkpoint(path)
    path.unlink()
    with pytest.raises(CheckpointError, match="weights file missing"):
        load_checkpoint(path)
    path.with_suffix(".json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not a readable JSON sidecar"):
        load_checkpoint(path)
    path.with_suffix(".json").unlink()
    with pytest.raises(CheckpointError, match="sidecar missing"):
        load_checkpoint(path)


def test_corrupt_weights_with_a_matching_checksum_are_refused(saved) -> None:
    # Garbage that the sidecar vouches for (checksum updated): torch.load must still refuse.
    path, _ = saved
    path.write_bytes(b"garbage" * 100)
    _edit_sidecar(path, lambda d: d["weights"].update(
        sha256=hashlib.sha256(path.read_bytes()).hexdigest()))
    with pytest.raises(CheckpointError, match="cannot read the weights"):
        load_checkpoint(path)


def test_save_refuses_bad_metadata(tmp_path: Path) -> None:
    model = tiny_model("cnn")
    with pytest.raises(ValueError, match="15 parameter names for a model with 16 outputs"):
        save_checkpoint(tmp_path / "m.pt", model, replace(metadata(),
                                                          param_names=param_set(16)[:15]))
    with pytest.raises(ValueError, match="unknown to the synth"):
        save_checkpoint(tmp_path / "m.pt", model, replace(
            metadata(), param_names=("Nope",) + param_set(16)[1:]))
    with pytest.raises(ValueError, match="JSON-serialisable"):
        save_checkpoint(tmp_path / "m.pt", model, replace(metadata(),
                                                          training={"loss": float("nan")}))
    assert not list(tmp_path.iterdir()), "nothing half-written is left behind"
