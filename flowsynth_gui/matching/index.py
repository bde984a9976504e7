"""The sound index: many presets rendered once, searchable by sound in a millisecond.

Layout of an index folder::

    manifest.json         what was asked for: synth version, parameter set, size, seed, mel
                          settings, embedding; an index that disagrees with the running synth
                          is refused (``flowsynth index build`` says how to rebuild)
    basis.npz             the embedding: mean and principal axes of the mel magnitude (PCA), fitted
                          on ``basis_sounds`` renders drawn from the seed
    shards/00000/         per shard: ``params.npy`` (uint16, value * 65535: what was rendered)
                          and ``embedding.npy`` (float16 PCA coordinates)

Presets come from the datasets' sampler (:func:`~flowsynth_gui.data.dataset.sample_parameters`)
and are rendered at the reference note with the explorer's fixed noise seed, so an index preset
re-rendered by the matching engine is exactly the sound that was indexed. Silent and clipped
renders are dropped as in a dataset. Shards are written under a temporary name and renamed:
interrupt a build and run it again, finished shards are kept; the content is the same for a
seed whatever the order or the number of processes.

Why PCA of the *linear* mel magnitude: spectral convergence, by which candidates are ranked,
is the Euclidean distance of linear mels over the target's norm, so nearest neighbours in that
space are the sounds with the best SC, and a few dozen principal axes keep most of it (on
200,000 sounds 32 axes matched 64: 0.523 / 0.561 against 0.523 / 0.560). Measured on 20,000
sounds, 16 neighbours re-ranked: median SC 0.56 in-domain / 0.59 out-of-domain, against 0.73 /
0.76 for PCA of the log-mel and 0.59 / 0.65 for its square root (``docs/RESULTS.md``). It needs
no model, so one index serves every model of its parameter set. Brute force is enough: 200k ×
64 float32 is a 50 MB matmul, a few milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

from flowsynth_gui.data.dataset import ShardedSpec, reject_reasons, sample_parameters
from flowsynth_gui.features.mel import DEFAULT_SETTINGS, mel_magnitude_batch, n_frames
from flowsynth_gui.fileio import atomic_path, atomic_write_text
from flowsynth_gui.synth import params as param_specs
from flowsynth_gui.synth.render import (
    DEFAULT_SAMPLE_RATE,
    REFERENCE_NOTE,
    RENDER_SECONDS,
    render_batch,
)

__all__ = ["INDEX_FORMAT", "INDEX_FORMAT_VERSION", "IndexSpec", "SoundIndex", "SoundIndexError",
           "build_index", "embed_mels", "load_index", "quantise_params"]

INDEX_FORMAT = "flowsynth-sound-index"
INDEX_FORMAT_VERSION = 1
EMBEDDING = "mel-pca"  # principal axes of the linear mel magnitude
RENDER_SEED = 0  # the noise seed of every index render (the explorer's NOISE_SEED)
_CHUNK = 64  # renders per batch inside a shard
_LEVELS = 65535  # parameter quantisation: uint16, 1.5e-5 steps
T = TypeVar("T")


class SoundIndexError(ValueError):
    """An index that cannot be used here; the message says how to rebuild it."""


@dataclass(frozen=True)
class IndexSpec(ShardedSpec):
    """Everything that determines an index's content (stored as ``manifest.json``)."""

    param_set: int
    size: int
    seed: int = 0
    shard_size: int = 10000
    components: int = 64
    basis_sounds: int = 4000
    uniform_fraction: float = 0.5
    note: int = REFERENCE_NOTE
    synth: str = field(default_factory=param_specs.spec_version)
    parameters: tuple[str, ...] = ()
    mel: dict = field(default_factory=DEFAULT_SETTINGS.to_dict)
    embedding: str = EMBEDDING
    format: str = INDEX_FORMAT
    format_version: int = INDEX_FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.size < 1 or self.shard_size < 1:
            raise SoundIndexError("--size and the shard size must be at least 1")
        if not 1 <= self.components <= self.basis_sounds:
            raise SoundIndexError(f"need 1 <= components ({self.components}) <= basis sounds "
                                  f"({self.basis_sounds})")
        if not self.parameters:
            object.__setattr__(self, "parameters", param_specs.param_set(self.param_set))

    def rebuild_command(self, root: Path | str) -> str:
        return (f"flowsynth index build --params {self.param_set} --size {self.size} "
                f"--seed {self.seed} --out {root}")

    def to_json(self) -> str:
        data = asdict(self)
        data["parameters"] = list(self.parameters)
        return json.dumps(data, indent=1, sort_keys=True)


def quantise_params(values: np.ndarray) -> np.ndarray:
    """Normalised values → the uint16 codes an index stores (round to nearest)."""
    return np.round(np.clip(values, 0.0, 1.0) * _LEVELS).astype(np.uint16)


def _dequantise(codes: np.ndarray) -> np.ndarray:
    return codes.astype(np.float64) / _LEVELS


def embed_mels(mels: np.ndarray, mean: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Linear mels ``(N, n_mels, frames)`` → PCA coordinates ``(N, components)`` float32."""
    flat = np.asarray(mels, dtype=np.float32).reshape(len(mels), -1)
    return (flat - mean) @ axes.T


# -- building --------------------------------------------------------------------------------

def _rng(spec: IndexSpec, stream: int) -> np.random.Generator:
    # Stream -1 draws the PCA basis sounds; shard s draws from stream s.
    return np.random.default_rng(np.random.SeedSequence([spec.seed, 7_000_001, stream + 1]))


def _render_kept(spec: IndexSpec, rng: np.random.Generator, want: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``want`` audible presets (uint16 codes) and their linear mels, drawn from ``rng``."""
    codes, mels, drawn = [], [], 0
    have = 0
    while have < want:
        values = _dequantise(quantise_params(
            sample_parameters(rng, _CHUNK, spec.parameters, spec.uniform_fraction)))
        audio = render_batch(values, spec.parameters, spec.note, seeds=[RENDER_SEED] * _CHUNK,
                             workers=1)
        drawn += _CHUNK
        keep = np.flatnonzero(reject_reasons(audio) == "")[: want - have]
        if len(keep):
            codes.append(quantise_params(values[keep]))
            mels.append(mel_magnitude_batch(audio[keep], DEFAULT_SAMPLE_RATE))
            have += len(keep)
        if drawn > 50 * want + 10 * _CHUNK:
            raise SoundIndexError("almost every render is silent or clipped; check the "
                                  "parameter set and sampling")
    return np.concatenate(codes), np.concatenate(mels)


def _fit_basis(root: Path, spec: IndexSpec) -> None:
    path = root / "basis.npz"
    if path.exists():
        return
    _, mels = _render_kept(spec, _rng(spec, -1), spec.basis_sounds)
    flat = mels.reshape(len(mels), -1).astype(np.float64)
    mean = flat.mean(axis=0)
    # Principal axes from the small Gram matrix (basis_sounds², not features²).
    centred = flat - mean
    eigenvalues, vectors = np.linalg.eigh(centred @ centred.T)
    order = np.argsort(eigenvalues)[::-1][: spec.components]
    axes = (vectors[:, order].T @ centred) / np.sqrt(np.maximum(eigenvalues[order], 1e-12))[:, None]
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, mean=mean.astype(np.float32), axes=axes.astype(np.float32),
                 variance=(eigenvalues[order] / len(flat)).astype(np.float32))


def _load_basis(root: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(root / "basis.npz", allow_pickle=False) as data:
        return data["mean"], data["axes"]


def render_index_shard(root: Path, spec: IndexSpec, shard: int) -> int:
    """Render and embed one shard (skipped when done); returns its number of sounds."""
    target = root / "shards" / f"{shard:05d}"
    if target.exists():
        return spec.shard_length(shard)
    mean, axes = _load_basis(root)
    codes, mels = _render_kept(spec, _rng(spec, shard), spec.shard_length(shard))
    embedding = embed_mels(mels, mean, axes).astype(np.float16)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        np.save(tmp / "params.npy", codes)
        np.save(tmp / "embedding.npy", embedding)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return len(codes)


def _shard_job(args: tuple[str, IndexSpec, int]) -> int:
    return render_index_shard(Path(args[0]), args[1], args[2])


def _check_or_write_manifest(root: Path, spec: IndexSpec) -> None:
    manifest = root / "manifest.json"
    if manifest.exists():
        if manifest.read_text() != spec.to_json():
            raise SoundIndexError(f"{root} holds an index built with other settings; choose "
                                  "another --out folder or delete this one")
        return
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(manifest, spec.to_json())


def build_index(root: str | os.PathLike[str], spec: IndexSpec, workers: int | None = None,
                progress: Callable[[int], None] | None = None) -> None:
    """Build (or finish) the index at ``root``; ``progress(n)`` after each shard of n sounds."""
    folder = Path(root)
    _check_or_write_manifest(folder, spec)
    (folder / "shards").mkdir(exist_ok=True)
    _fit_basis(folder, spec)
    run_jobs(_shard_job, [(str(folder), spec, shard) for shard in range(spec.n_shards)],
             workers, progress)


def run_jobs(job: Callable[[T], int], jobs: list[T], workers: int | None,
             progress: Callable[[int], None] | None) -> None:
    """``job`` over ``jobs`` in ``workers`` processes (here when 1); ``progress(n)`` with each
    job's count as it finishes, in order."""
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    if workers == 1:
        counts: Iterable[int] = map(job, jobs)
        for done in counts:
            if progress:
                progress(done)
        return
    with ProcessPoolExecutor(workers) as pool:
        for done in pool.map(job, jobs):
            if progress:
                progress(done)


# -- loading and searching -------------------------------------------------------------------

class SoundIndex:
    """A loaded index: presets (normalised, index order) and their embeddings."""

    def __init__(self, spec: IndexSpec, params: np.ndarray, embedding: np.ndarray,
                 mean: np.ndarray, axes: np.ndarray, root: Path | None = None) -> None:
        self.spec = spec
        self.names = tuple(spec.parameters)
        self.root = root
        self._codes = params
        self.embedding = np.ascontiguousarray(embedding, dtype=np.float32)
        self._norms = np.einsum("ij,ij->i", self.embedding, self.embedding)
        # The search's matrix-vector product runs in torch (same memory): OpenBLAS's threads
        # spin on after a NumPy product and starved the torch work that follows (the
        # parameter posterior's draws took 110-140 ms instead of 15 right after a search).
        self._embedding_t = torch.from_numpy(self.embedding)
        self.mean, self.axes = mean, axes

    def __len__(self) -> int:
        return len(self._codes)

    @cached_property
    def fingerprint(self) -> str:
        """The embedding's identity (settings and basis): a model conditioned on this
        index's embedding (the parameter posterior) records it and is refused by another."""
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.mean, np.float32).tobytes())
        digest.update(np.ascontiguousarray(self.axes, np.float32).tobytes())
        return (f"{self.spec.embedding}:{self.axes.shape[0]}:{self.spec.synth}:"
                f"{digest.hexdigest()[:16]}")

    def head(self, size: int, components: int | None = None) -> SoundIndex:
        """The first ``size`` sounds on the first ``components`` axes as an index of their
        own: what a smaller build of this seed would hold, shard for shard and axis for axis
        (PCA's leading axes do not depend on how many are kept); the benchmark's sweep."""
        from dataclasses import replace

        size = max(1, min(int(size), len(self)))
        keep = max(1, min(int(components or self.spec.components), self.spec.components))
        return SoundIndex(replace(self.spec, size=size, components=keep), self._codes[:size],
                          self.embedding[:size, :keep], self.mean, self.axes[:keep], self.root)

    def params(self, rows: np.ndarray) -> np.ndarray:
        """Normalised parameter vectors ``(len(rows), P)`` of index ``rows``."""
        return _dequantise(self._codes[np.asarray(rows, dtype=np.int64)])

    def embed(self, mels: np.ndarray) -> np.ndarray:
        """Linear mels ``(N, n_mels, frames)`` (``mel_magnitude``) → embeddings ``(N, C)``."""
        mels = np.asarray(mels, dtype=np.float32)
        if mels.ndim != 3 or mels[0].size != self.mean.size:
            raise ValueError(f"index embedding: mels (N, n_mels, frames) of "
                             f"{self.mean.size} values each expected, got {mels.shape}")
        return embed_mels(mels, self.mean, self.axes)

    def nearest(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows and Euclidean distances of the ``k`` nearest sounds to one embedding."""
        q = np.asarray(query, dtype=np.float32).ravel()
        with torch.no_grad():
            products = torch.mv(self._embedding_t, torch.from_numpy(q)).numpy()
        squared = self._norms - 2.0 * products + float(q @ q)
        k = max(0, min(int(k), len(self)))
        if k == 0:
            return np.zeros(0, np.int64), np.zeros(0)
        rows = np.argpartition(squared, k - 1)[:k]
        rows = rows[np.argsort(squared[rows], kind="stable")]
        return rows.astype(np.int64), np.sqrt(np.maximum(squared[rows], 0.0)).astype(np.float64)


def _read_manifest(root: Path) -> IndexSpec:
    path = root / "manifest.json"
    if not path.is_file():
        raise SoundIndexError(f"{root} is not a sound index (no manifest.json); build one with "
                              "`flowsynth index build --params 32 --size 200000 --components 32 "
                              "--out DIR`")
    try:
        data = json.loads(path.read_text())
        if data.get("format") != INDEX_FORMAT:
            raise SoundIndexError(f"{path} is not a FlowSynth sound index manifest")
        data["parameters"] = tuple(data["parameters"])
        return IndexSpec(**data)
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as err:
        raise SoundIndexError(f"{path} is corrupt ({err}); delete the folder and rebuild it "
                              "with `flowsynth index build`") from err


def load_index(root: str | os.PathLike[str]) -> SoundIndex:
    """Load and check an index; :class:`SoundIndexError` says why and how to rebuild."""
    folder = Path(root)
    spec = _read_manifest(folder)
    rebuild = f"rebuild it with `{spec.rebuild_command(folder)}`"
    if spec.format_version != INDEX_FORMAT_VERSION:
        raise SoundIndexError(f"{folder}: index format {spec.format_version}, this FlowSynth "
                              f"reads {INDEX_FORMAT_VERSION}; {rebuild}")
    if spec.synth != param_specs.spec_version():
        raise SoundIndexError(f"{folder} was rendered by synth {spec.synth}, this FlowSynth "
                              f"plays {param_specs.spec_version()}: its sounds are stale; "
                              f"{rebuild}")
    if spec.mel != DEFAULT_SETTINGS.to_dict() or spec.embedding != EMBEDDING:
        raise SoundIndexError(f"{folder} was embedded with other feature settings; {rebuild}")
    try:
        mean, axes = _load_basis(folder)
        codes, embeddings = [], []
        for shard in range(spec.n_shards):
            where = folder / "shards" / f"{shard:05d}"
            codes.append(np.load(where / "params.npy", allow_pickle=False))
            embeddings.append(np.load(where / "embedding.npy", allow_pickle=False))
    except (OSError, ValueError, KeyError) as err:
        raise SoundIndexError(f"{folder} is incomplete or corrupt ({err}); run the build again "
                              f"to finish it, or {rebuild}") from err
    params, embedding = np.concatenate(codes), np.concatenate(embeddings)
    n_features = DEFAULT_SETTINGS.n_mels * n_frames(int(RENDER_SECONDS * DEFAULT_SAMPLE_RATE))
    if (params.dtype != np.uint16 or params.shape != (spec.size, len(spec.parameters))
            or embedding.shape != (spec.size, spec.components)
            or axes.shape != (spec.components, n_features) or mean.shape != (n_features,)
            or not np.all(np.isfinite(embedding))):
        raise SoundIndexError(f"{folder} holds arrays of the wrong shape or type; {rebuild}")
    return SoundIndex(spec, params, embedding, mean, axes, folder)
