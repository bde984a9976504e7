"""Model checkpoints: a weights file plus a JSON sidecar, loaded without executing code.

``model.pt`` holds the state dict — tensors only, written with ``torch.save`` and read with
``torch.load(..., weights_only=True)``, never a pickled module. ``model.json`` says everything
needed to rebuild and trust the model:

- ``format`` / ``format_version`` — ``"flowsynth-model"`` and :data:`FORMAT_VERSION`;
- ``config`` — the :class:`~flowsynth_gui.models.config.ModelConfig` (architecture);
- ``param_names`` — the synth parameters the model predicts, in output order;
- ``synth_spec_version`` — :func:`flowsynth_gui.synth.params.spec_version` at training time;
- ``mel_settings`` and ``normaliser`` — the features and the train-split normalisation;
- ``tag_pairs`` and ``tag_rules`` — what the semantic dimensions mean (rules optional);
- ``training`` — free-form figures (epochs, losses, timings...);
- ``weights`` — SHA-256, size and tensor names of the weights file.

:func:`load_checkpoint` refuses, with a :class:`CheckpointError` naming the difference, a
checkpoint whose synth spec version, parameter names or mel settings do not match the running
FlowSynth, a foreign or newer format, a missing or corrupt file, and weights that do not fit
the config. Both files are written atomically, weights first: a crash between the two leaves
new weights beside the old sidecar, which the checksum then refuses.

>>> weights, sidecar = checkpoint_paths("models/p32.pt")
>>> str(weights), str(sidecar)
('models/p32.pt', 'models/p32.json')
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from flowsynth_gui import __version__
from flowsynth_gui.features.mel import DEFAULT_SETTINGS, FeatureNormaliser, MelSettings
from flowsynth_gui.features.tags import TAG_PAIRS
from flowsynth_gui.fileio import atomic_path, atomic_write_text
from flowsynth_gui.models.base import FlowSynthModel
from flowsynth_gui.models.config import ModelConfig
from flowsynth_gui.models.registry import build_model
from flowsynth_gui.synth import params as synth_params

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "CheckpointError",
    "CheckpointMetadata",
    "LoadedCheckpoint",
    "checkpoint_paths",
    "file_digest",
    "read_sidecar_json",
    "read_weights",
    "load_checkpoint",
    "read_checkpoint_metadata",
    "save_checkpoint",
    "update_training_figures",
]

FORMAT_NAME = "flowsynth-model"
FORMAT_VERSION = 1
_REQUIRED = ("config", "param_names", "synth_spec_version", "mel_settings", "normaliser",
             "tag_pairs", "weights")


class CheckpointError(ValueError):
    """A checkpoint this FlowSynth cannot use; the message says what differs or is broken."""


@dataclass(frozen=True)
class CheckpointMetadata:
    """Everything saved beside the weights except the model config."""

    param_names: tuple[str, ...]
    normaliser: FeatureNormaliser
    mel_settings: MelSettings = DEFAULT_SETTINGS
    synth_spec_version: str = field(default_factory=synth_params.spec_version)
    tag_pairs: tuple[tuple[str, str], ...] = TAG_PAIRS
    tag_rules: dict[str, Any] | None = None
    training: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A model rebuilt from a checkpoint (in eval mode) and its metadata."""

    model: FlowSynthModel
    metadata: CheckpointMetadata

    @property
    def config(self) -> ModelConfig:
        return self.model.config


def checkpoint_paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """``(weights, sidecar)`` for either file's path: ``x.pt`` ↔ ``x.json``."""
    path = Path(path)
    if path.suffix == ".json":
        return path.with_suffix(".pt"), path
    return path, path.with_suffix(".json")


# --- saving -------------------------------------------------------------------------------


def save_checkpoint(path: str | os.PathLike[str], model: FlowSynthModel,
                    metadata: CheckpointMetadata) -> tuple[Path, Path]:
    """Write the weights and the sidecar atomically; returns their paths."""
    weights_path, sidecar_path = checkpoint_paths(path)
    if len(metadata.param_names) != model.config.n_params:
        raise ValueError(f"save_checkpoint: {len(metadata.param_names)} parameter names for a "
                         f"model with {model.config.n_params} outputs")
    unknown = _unknown_names(metadata.param_names)
    if unknown:
        raise ValueError(f"save_checkpoint: parameter names unknown to the synth: {unknown}")
    sidecar: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "created_by": f"flowsynth_gui {__version__}",
        "config": model.config.to_dict(),
        "param_names": list(metadata.param_names),
        "synth_spec_version": metadata.synth_spec_version,
        "mel_settings": metadata.mel_settings.to_dict(),
        "normaliser": metadata.normaliser.to_dict(),
        "tag_pairs": [list(pair) for pair in metadata.tag_pairs],
        "tag_rules": metadata.tag_rules,
        "training": metadata.training,
    }
    try:  # before writing anything: bad metadata must not leave weights without a sidecar
        json.dumps(sidecar, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"save_checkpoint: metadata must be JSON-serialisable and finite "
                         f"(tag_rules, training): {err}") from None
    state = {name: tensor.detach().cpu().clone() for name, tensor in model.state_dict().items()}
    with atomic_path(weights_path, suffix=".pt") as tmp:
        torch.save(state, tmp)
        digest, size = file_digest(tmp)
    sidecar["weights"] = {"file": weights_path.name, "sha256": digest, "bytes": size,
                          "tensors": list(state)}
    _write_sidecar(sidecar_path, sidecar)
    return weights_path, sidecar_path


def update_training_figures(path: str | os.PathLike[str], figures: dict[str, Any]) -> None:
    """Merge ``figures`` into a saved checkpoint's ``training`` record (the weights and the
    rest of the sidecar stay as they are), e.g. the whole run once training has ended."""
    sidecar_path = checkpoint_paths(path)[1]
    sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
    sidecar.setdefault("training", {}).update(figures)
    _write_sidecar(sidecar_path, sidecar)


def _write_sidecar(path: Path, sidecar: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(sidecar, indent=1, allow_nan=False) + "\n")


def file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest(), path.stat().st_size


def _unknown_names(names: tuple[str, ...] | list[str]) -> list[str]:
    known = set(synth_params.param_names())
    return [name for name in names if name not in known]


# --- loading ------------------------------------------------------------------------------


def read_checkpoint_metadata(path: str | os.PathLike[str], *,
                             mel_settings: MelSettings = DEFAULT_SETTINGS,
                             ) -> tuple[ModelConfig, CheckpointMetadata]:
    """Read and validate the sidecar only (e.g. to list models): ``(config, metadata)``.

    ``mel_settings`` are the running FlowSynth's features; a checkpoint trained on other
    features is refused. The weights are not read.
    """
    config, metadata, _ = _read_validated(path, mel_settings)
    return config, metadata


def _read_validated(path: str | os.PathLike[str], mel_settings: MelSettings,
                    ) -> tuple[ModelConfig, CheckpointMetadata, dict[str, Any]]:
    """The sidecar's config and metadata, and its ``weights`` entry (checksum, size)."""
    _, sidecar_path = checkpoint_paths(path)
    data = _read_sidecar(sidecar_path)
    where = str(sidecar_path)
    if data.get("synth_spec_version") != synth_params.spec_version():
        raise CheckpointError(
            f"{where}: trained for synth {data.get('synth_spec_version')!r}, but this FlowSynth "
            f"runs synth {synth_params.spec_version()!r}; retrain the model on a dataset "
            "rendered by this version")
    config = _parse(where, "config", lambda: ModelConfig.from_dict(data["config"]))
    names = data["param_names"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise CheckpointError(f"{where}: param_names must be a list of parameter names")
    unknown = _unknown_names(names)
    if unknown:
        raise CheckpointError(f"{where}: parameter names not known to this synth: {unknown}; "
                              "the model predicts parameters FlowSynth does not have")
    if len(names) != config.n_params:
        raise CheckpointError(f"{where}: {len(names)} parameter names but the model config has "
                              f"n_params={config.n_params}")
    saved_mel = _parse(where, "mel_settings", lambda: MelSettings.from_dict(data["mel_settings"]))
    if saved_mel != mel_settings:
        saved, running = saved_mel.to_dict(), mel_settings.to_dict()
        differences = ", ".join(f"{key}: checkpoint {saved[key]}, running {running[key]}"
                                for key in saved if saved[key] != running[key])
        raise CheckpointError(f"{where}: mel settings differ from this FlowSynth's "
                              f"({differences}); the model would see features it was not "
                              "trained on")
    if (config.n_mels, config.n_frames) != (saved_mel.n_mels, _frames_for_4s(saved_mel)):
        raise CheckpointError(f"{where}: the model expects {config.n_mels} x {config.n_frames} "
                              f"log-mels but the mel settings give {saved_mel.n_mels} x "
                              f"{_frames_for_4s(saved_mel)}")
    normaliser = _parse(where, "normaliser",
                        lambda: FeatureNormaliser.from_dict(data["normaliser"]))
    tag_pairs = _parse(where, "tag_pairs", lambda: _tag_pairs(data["tag_pairs"]))
    tag_rules, weights = data.get("tag_rules"), data["weights"]
    training = data.get("training") or {}
    if tag_rules is not None and not isinstance(tag_rules, dict):
        raise CheckpointError(f"{where}: tag_rules must be an object or null")
    if not isinstance(training, dict) or not isinstance(weights, dict):
        raise CheckpointError(f"{where}: training and weights must be JSON objects")
    metadata = CheckpointMetadata(tuple(names), normaliser, saved_mel, data["synth_spec_version"],
                                  tag_pairs, tag_rules, training)
    return config, metadata, weights


def load_checkpoint(path: str | os.PathLike[str], *,
                    mel_settings: MelSettings = DEFAULT_SETTINGS) -> LoadedCheckpoint:
    """Validate the sidecar, check and load the weights; the model comes back in eval mode."""
    weights_path, _ = checkpoint_paths(path)
    config, metadata, entry = _read_validated(path, mel_settings)
    if not weights_path.is_file():
        raise CheckpointError(f"{weights_path}: weights file missing (the sidecar is there); "
                              "copy both files of a checkpoint together")
    state = read_weights(weights_path, entry)
    model = build_model(config)
    _check_state_fits(weights_path, model, state)
    model.load_state_dict(state)
    return LoadedCheckpoint(model.eval(), metadata)


def read_weights(path: Path, entry: dict[str, Any]) -> dict[str, torch.Tensor]:
    """A state dict of named tensors, checked against the sidecar's ``weights`` entry
    (SHA-256) and loaded without executing code (``weights_only=True``)."""
    digest, size = file_digest(path)
    if entry.get("sha256") != digest:
        raise CheckpointError(
            f"{path}: weights do not match the sidecar's checksum ({size} bytes, expected "
            f"{entry.get('bytes')}): the file is truncated, corrupt or from another checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several unrelated types for a bad file
        raise CheckpointError(f"{path}: cannot read the weights ({err})") from None
    if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise CheckpointError(f"{path}: not a state dict of named tensors")
    return state


def read_sidecar_json(path: Path, format_name: str, what: str) -> dict[str, Any]:
    """A sidecar's JSON object, refused unless its ``format`` is ``format_name``."""
    if not path.is_file():
        raise CheckpointError(f"{path}: sidecar missing; a {what} is a weights file plus "
                              "its JSON sidecar with the same name")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: not a readable JSON sidecar ({err})") from None
    if not isinstance(data, dict) or data.get("format") != format_name:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise CheckpointError(f"{path}: not a FlowSynth {what} (format {found!r}, "
                              f"expected {format_name!r})")
    return data


def _read_sidecar(path: Path) -> dict[str, Any]:
    data = read_sidecar_json(path, FORMAT_NAME, "model checkpoint")
    version = data.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{path}: invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format v{version} comes from a newer "
                              f"FlowSynth; this one reads v{FORMAT_VERSION}")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise CheckpointError(f"{path}: sidecar lacks {missing}")
    return data


def _parse(where: str, what: str, parse: Any) -> Any:
    try:
        return parse()
    except (ValueError, TypeError, KeyError) as err:
        raise CheckpointError(f"{where}: invalid {what}: {err}") from None


def _tag_pairs(raw: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(t, str) for t in p)
            for p in raw):
        raise ValueError("expected a list of [negative, positive] tag names")
    return tuple((p[0], p[1]) for p in raw)


def _frames_for_4s(settings: MelSettings) -> int:
    # The rendering protocol records 4 s (DESIGN.md section 1); centred frames: 1 + n // hop.
    return 1 + int(math.floor(4.0 * settings.sample_rate)) // settings.hop_length


def _check_state_fits(where: Path, model: FlowSynthModel, state: dict[str, torch.Tensor]) -> None:
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k}: weights {tuple(state[k].shape)}, config {tuple(v.shape)}"
              for k, v in expected.items() if k in state and state[k].shape != v.shape]
    problems = []
    if missing:
        problems.append(f"missing tensors {missing[:5]}" + (" ..." if len(missing) > 5 else ""))
    if unexpected:
        problems.append(f"unexpected tensors {unexpected[:5]}"
                        + (" ..." if len(unexpected) > 5 else ""))
    if shapes:
        problems.append("shape mismatches " + "; ".join(shapes[:5]))
    if problems:
        raise CheckpointError(f"{where}: the weights do not fit the sidecar's model config "
                              f"({model.config.kind}): " + ", ".join(problems))
