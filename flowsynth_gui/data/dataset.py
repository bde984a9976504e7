"""Rendered (audio, parameters) datasets: sampling, rendering in shards, features, tags, splits.

Layout of a dataset folder::

    manifest.json            what was asked for: synth version, parameter set, size, seed, ...
    shards/00000/...npy      one folder per shard: params, log_mel (float16), descriptors,
                             candidate ids and the rejection counts (rejections.json)
    index/...                written once every shard exists: split.npz-like .npy files,
                             tag rules (tags.json), per-sound Diva Character strings

Each shard owns ``shard_size`` kept sounds and draws its candidates from its own random stream
(seeded by the dataset seed and the shard number), so shards can be rendered in any order, by
any process or machine (``--shard i/N``), resumed after an interruption, and the result is
byte-for-byte the same for a given seed. Shard folders are written under a temporary name and
renamed, so an interrupted run never leaves a half-written shard.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from flowsynth_gui.features.descriptors import DESCRIPTOR_NAMES, compute_descriptors_batch
from flowsynth_gui.features.mel import DEFAULT_SETTINGS, mel_from_stft, stft_magnitude_batch
from flowsynth_gui.features.tags import TagRules, character_string, labels_to_tags
from flowsynth_gui.fileio import atomic_write_text
from flowsynth_gui.synth import params as param_specs
from flowsynth_gui.synth.render import (
    DEFAULT_SAMPLE_RATE,
    NOTE_SECONDS,
    RENDER_SECONDS,
    render_batch,
)

__all__ = [
    "DATASET_FORMAT",
    "DATASET_FORMAT_VERSION",
    "DatasetError",
    "DatasetSpec",
    "ShardedSpec",
    "build_dataset",
    "render_shard",
    "finalise_dataset",
    "load_dataset",
    "LoadedDataset",
    "sample_parameters",
    "reject_reasons",
]

DATASET_FORMAT = "flowsynth-dataset"
DATASET_FORMAT_VERSION = 1
SPLIT_FRACTIONS = (0.8, 0.1, 0.1)  # train, valid, test
RENDER_CHUNK = 64
SILENCE_PEAK = 1e-3  # -60 dBFS: nothing a listener would call a sound
CLIP_LEVEL, CLIP_FRACTION = 0.95, 0.01  # >1 % of samples pressed into the soft clipper


class DatasetError(ValueError):
    """A dataset folder or request that cannot be used; the message says what to do."""


class ShardedSpec:
    """``size`` sounds in shards of ``shard_size`` (datasets and sound indexes alike)."""

    size: int
    shard_size: int

    @property
    def n_shards(self) -> int:
        return -(-self.size // self.shard_size)

    def shard_length(self, shard: int) -> int:
        return min(self.shard_size, self.size - shard * self.shard_size)


@dataclass(frozen=True)
class DatasetSpec(ShardedSpec):
    """Everything that determines a dataset's content (stored as ``manifest.json``)."""

    param_set: int
    size: int
    seed: int
    shard_size: int = 500
    note: int = 60
    velocity: int = 100
    sample_rate: int = DEFAULT_SAMPLE_RATE
    duration: float = RENDER_SECONDS
    note_seconds: float = NOTE_SECONDS
    uniform_fraction: float = 0.5
    synth: str = field(default_factory=param_specs.spec_version)
    parameters: tuple[str, ...] = ()
    mel: dict = field(default_factory=DEFAULT_SETTINGS.to_dict)
    format: str = DATASET_FORMAT
    format_version: int = DATASET_FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.size < 1 or self.shard_size < 1:
            raise DatasetError("--size and the shard size must be at least 1")
        if not self.parameters:
            object.__setattr__(self, "parameters", param_specs.param_set(self.param_set))

    def to_json(self) -> str:
        data = asdict(self)
        data["parameters"] = list(self.parameters)
        return json.dumps(data, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, source: Path) -> DatasetSpec:
        try:
            data = json.loads(text)
            data["parameters"] = tuple(data["parameters"])
            return cls(**data)
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise DatasetError(f"{source} is not a FlowSynth dataset manifest ({err})") from err


# -- sampling -------------------------------------------------------------------------------

def sample_parameters(rng: np.random.Generator, count: int, names: tuple[str, ...],
                      uniform_fraction: float) -> np.ndarray:
    """Candidate parameter vectors: a mix that covers the space and favours playable sounds.

    A ``uniform_fraction`` of rows is uniform on [0, 1]^P (coverage). The rest look like real
    presets: each parameter keeps its default with probability 0.4 (most presets touch few
    knobs), otherwise it is drawn from Beta(1.5, 1.5), which avoids piling up at the extremes;
    amplitude-critical knobs (sustain, cutoff, volumes) are kept away from silence.
    """
    uniform = rng.random((count, len(names)))
    defaults = np.array([param_specs.spec_by_name(n).default_normalised for n in names])
    playable = np.where(rng.random((count, len(names))) < 0.4, defaults,
                        rng.beta(1.5, 1.5, (count, len(names))))
    for i, name in enumerate(names):
        if name in _AUDIBLE_FLOORS:
            playable[:, i] = np.maximum(playable[:, i], _AUDIBLE_FLOORS[name])
    use_uniform = rng.random(count) < uniform_fraction
    return np.where(use_uniform[:, None], uniform, playable)


_AUDIBLE_FLOORS = {"ENV1: Sustain": 0.2, "VCF1: Frequency": 0.35, "OSC: Volume1": 0.3,
                   "VCA1: Volume": 0.4}


def reject_reasons(audio: np.ndarray) -> np.ndarray:
    """Per sound: '' (kept), 'silent' (peak below -60 dBFS) or 'clipped'."""
    magnitude = np.abs(audio)
    peak = magnitude.max(axis=1)
    clipped = (np.count_nonzero(magnitude > CLIP_LEVEL, axis=1)
               > CLIP_FRACTION * audio.shape[1])
    return np.where(peak < SILENCE_PEAK, "silent", np.where(clipped, "clipped", ""))


# -- one shard ------------------------------------------------------------------------------

def _shard_dir(root: Path, shard: int) -> Path:
    return root / "shards" / f"{shard:05d}"


def _shard_rng(spec: DatasetSpec, shard: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([spec.seed, shard]))


def _features(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    stft = stft_magnitude_batch(audio, sample_rate)
    log_mel = np.log(mel_from_stft(stft) + DEFAULT_SETTINGS.log_offset)
    return log_mel, compute_descriptors_batch(audio, sample_rate, stft_mag=stft)


def render_shard(root: Path, spec: DatasetSpec, shard: int) -> dict[str, int]:
    """Render, analyse and store one shard; returns its rejection counts. Skips a done shard."""
    target = _shard_dir(root, shard)
    if target.exists():
        return json.loads((target / "rejections.json").read_text())
    want = spec.shard_length(shard)
    rng = _shard_rng(spec, shard)
    kept: list[tuple[np.ndarray, ...]] = []
    rejected = {"silent": 0, "clipped": 0}
    drawn, have = 0, 0
    while have < want:
        values = sample_parameters(rng, RENDER_CHUNK, spec.parameters, spec.uniform_fraction)
        ids = shard * 1_000_000 + drawn + np.arange(RENDER_CHUNK)
        audio = render_batch(values, spec.parameters, spec.note, spec.velocity, spec.duration,
                             spec.sample_rate, seeds=ids.tolist(), workers=1,
                             note_seconds=spec.note_seconds)
        drawn += RENDER_CHUNK
        reasons = reject_reasons(audio)
        for reason in rejected:
            rejected[reason] += int(np.sum(reasons == reason))
        keep = np.flatnonzero(reasons == "")[: want - have]
        if len(keep):
            log_mel, descriptors = _features(audio[keep], spec.sample_rate)
            kept.append((values[keep], log_mel, np.stack([descriptors[n] for n in
                                                         DESCRIPTOR_NAMES], axis=1), ids[keep]))
            have += len(keep)
        if drawn > 50 * want + 10 * RENDER_CHUNK:
            raise DatasetError(f"shard {shard}: almost every render is silent or clipped "
                               f"({rejected}); check the parameter set and sampling")
    _write_shard(target, kept, rejected)
    return rejected


def _write_shard(target: Path, kept: list[tuple[np.ndarray, ...]],
                 rejected: dict[str, int]) -> None:
    arrays = {
        "params": np.concatenate([k[0] for k in kept]).astype(np.float32),
        "log_mel": np.concatenate([k[1] for k in kept]).astype(np.float16),
        "descriptors": np.concatenate([k[2] for k in kept]).astype(np.float32),
        "ids": np.concatenate([k[3] for k in kept]).astype(np.int64),
    }
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for name, array in arrays.items():
            np.save(tmp / f"{name}.npy", array, allow_pickle=False)
        (tmp / "rejections.json").write_text(json.dumps(rejected, sort_keys=True))
        os.replace(tmp, target)  # a shard appears whole or not at all
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- the whole dataset ----------------------------------------------------------------------

def _check_or_write_manifest(root: Path, spec: DatasetSpec) -> None:
    manifest = root / "manifest.json"
    if manifest.exists():
        existing = DatasetSpec.from_json(manifest.read_text(), manifest)
        if existing != spec:
            differences = [k for k, v in asdict(spec).items() if asdict(existing).get(k) != v]
            raise DatasetError(
                f"{root} already holds a different dataset (differs in: "
                f"{', '.join(differences)}). Resume with the same options, or choose a new --out.")
        return
    if root.exists() and any(root.iterdir()):
        raise DatasetError(f"{root} is not empty and has no manifest.json; choose a new --out")
    atomic_write_text(manifest, spec.to_json() + "\n")


def _render_shard_job(args: tuple[str, DatasetSpec, int]) -> tuple[int, dict[str, int]]:
    root, spec, shard = args
    return shard, render_shard(Path(root), spec, shard)


def build_dataset(root: str | os.PathLike[str], spec: DatasetSpec, shard_of: tuple[int, int]
                  = (0, 1), workers: int | None = None,
                  progress: Callable[[int, dict[str, int]], None] | None = None) -> bool:
    """Render this process's shards (``shard_of = (i, N)``) and finalise when all exist.

    Returns True once the dataset is complete. ``progress(kept_sounds, rejections)`` is called
    after each shard.
    """
    root = Path(root)
    index, count = shard_of
    if not 0 <= index < count:
        raise DatasetError(f"--shard {index}/{count}: the index must be in 0..{count - 1}")
    _check_or_write_manifest(root, spec)
    mine = [s for s in range(spec.n_shards) if s % count == index]
    todo = [s for s in mine if not _shard_dir(root, s).exists()]
    for shard in sorted(set(mine) - set(todo)):
        if progress:
            progress(spec.shard_length(shard), json.loads(
                (_shard_dir(root, shard) / "rejections.json").read_text()))
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    jobs = [(str(root), spec, shard) for shard in todo]
    if workers == 1:
        results: Iterable = map(_render_shard_job, jobs)
        for shard, rejected in results:
            if progress:
                progress(spec.shard_length(shard), rejected)
    else:
        with ProcessPoolExecutor(workers) as pool:
            for shard, rejected in pool.map(_render_shard_job, jobs):
                if progress:
                    progress(spec.shard_length(shard), rejected)
    if all(_shard_dir(root, s).exists() for s in range(spec.n_shards)):
        finalise_dataset(root)
        return True
    return False


def _split(spec: DatasetSpec) -> np.ndarray:
    """0 train, 1 valid, 2 test for every sound: a seeded permutation, fixed per dataset."""
    order = np.random.default_rng(np.random.SeedSequence([spec.seed, 0x5B1])).permutation(
        spec.size)
    bounds = np.cumsum(np.round(np.array(SPLIT_FRACTIONS[:2]) * spec.size)).astype(int)
    split = np.zeros(spec.size, dtype=np.int8)
    split[order[bounds[0]:bounds[1]]] = 1
    split[order[bounds[1]:]] = 2
    return split


def finalise_dataset(root: str | os.PathLike[str]) -> None:
    """Write the split, the tag rules fitted on the training split, and every sound's tags."""
    root = Path(root)
    spec = _read_spec(root)
    split = _split(spec)
    train = split == 0
    table = _stack(root, spec, "descriptors")  # only what tagging needs, not the spectrograms
    descriptors = {name: table[:, i].astype(np.float64) for i, name in enumerate(DESCRIPTOR_NAMES)}
    rules = TagRules.fit({name: values[train] for name, values in descriptors.items()})
    labels = rules.labels(descriptors)
    characters = [character_string(labels_to_tags(row)) for row in labels]
    index = Path(root) / "index"
    index.mkdir(exist_ok=True)
    _save_npy_atomic(index / "split.npy", split)
    _save_npy_atomic(index / "tag_labels.npy", labels.astype(np.int8))
    atomic_write_text(index / "tags.json", json.dumps(rules.to_dict(), indent=1) + "\n")
    atomic_write_text(index / "characters.json", json.dumps(characters) + "\n")
    atomic_write_text(index / "summary.json", json.dumps(
        {"sounds": spec.size, "rejected": _rejections(root, spec),
         "tagged_fraction": float(np.mean(np.any(labels != 0, axis=1)))}, indent=1) + "\n")


def _save_npy_atomic(path: Path, array: np.ndarray) -> None:
    from flowsynth_gui.fileio import atomic_path

    with atomic_path(path, suffix=".npy") as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, array, allow_pickle=False)


# -- reading --------------------------------------------------------------------------------

@dataclass
class LoadedDataset:
    spec: DatasetSpec
    params: np.ndarray  # (N, P) float32, normalised, columns in spec.parameters order
    log_mel: np.ndarray  # (N, 128, frames) float16
    descriptors: np.ndarray  # (N, len(DESCRIPTOR_NAMES)) float32
    ids: np.ndarray
    rejections: dict[str, int]
    split: np.ndarray | None = None  # (N,) 0 train, 1 valid, 2 test
    tag_labels: np.ndarray | None = None  # (N, 4) int8 in TAG_PAIRS order
    tag_rules: TagRules | None = None
    characters: list[str] | None = None

    def subset(self, which: str) -> np.ndarray:
        """Indices of the 'train', 'valid' or 'test' split."""
        if self.split is None:
            raise DatasetError("this dataset is not finalised yet: render its missing shards")
        code = {"train": 0, "valid": 1, "test": 2}[which]
        return np.flatnonzero(self.split == code)


def _read_spec(root: Path) -> DatasetSpec:
    """The manifest of a complete dataset made by this version of FlowSynth, or a clear error."""
    manifest = root / "manifest.json"
    if not manifest.exists():
        raise DatasetError(f"{root} has no manifest.json: not a FlowSynth dataset "
                           "(make one with `flowsynth dataset`)")
    spec = DatasetSpec.from_json(manifest.read_text(), manifest)
    if spec.format != DATASET_FORMAT or spec.format_version != DATASET_FORMAT_VERSION:
        raise DatasetError(f"{root} is a {spec.format} v{spec.format_version} dataset; this "
                           f"FlowSynth reads v{DATASET_FORMAT_VERSION}: render it again")
    if spec.synth != param_specs.spec_version():
        raise DatasetError(f"{root} was rendered by synth {spec.synth}, this is "
                           f"{param_specs.spec_version()}: render it again with this version")
    missing = [s for s in range(spec.n_shards) if not _shard_dir(root, s).exists()]
    if missing:
        raise DatasetError(f"{root} is incomplete: {len(missing)} of {spec.n_shards} shards "
                           "missing; run the same `flowsynth dataset` command to resume")
    return spec


def _stack(root: Path, spec: DatasetSpec, name: str) -> np.ndarray:
    return np.concatenate([np.load(_shard_dir(root, s) / f"{name}.npy", allow_pickle=False)
                           for s in range(spec.n_shards)])


def _rejections(root: Path, spec: DatasetSpec) -> dict[str, int]:
    total: dict[str, int] = {}
    for s in range(spec.n_shards):
        for reason, n in json.loads((_shard_dir(root, s) / "rejections.json").read_text()).items():
            total[reason] = total.get(reason, 0) + n
    return total


def load_dataset(root: str | os.PathLike[str], require_index: bool = True) -> LoadedDataset:
    """Open a dataset folder, checking that it was made by this version of FlowSynth."""
    root = Path(root)
    spec = _read_spec(root)
    data = LoadedDataset(spec, *(_stack(root, spec, name) for name in
                                 ("params", "log_mel", "descriptors", "ids")),
                         _rejections(root, spec))
    index = root / "index"
    if (index / "tags.json").exists():
        data.split = np.load(index / "split.npy", allow_pickle=False)
        data.tag_labels = np.load(index / "tag_labels.npy", allow_pickle=False)
        data.tag_rules = TagRules.from_dict(json.loads((index / "tags.json").read_text()))
        data.characters = json.loads((index / "characters.json").read_text())
    elif require_index:
        raise DatasetError(f"{root}: all shards exist but the index is missing; run the same "
                           "`flowsynth dataset` command once more to finalise it")
    return data
