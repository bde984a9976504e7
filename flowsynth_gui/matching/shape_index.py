"""The shapes of a sound index's first sounds, so that an imitation query is a search.

Layout, inside the index folder::

    shapes/manifest.json    how they were made (shape features, points, frames), how many
                            rows, and the index manifest they belong to (its digest)
    shapes/00000.npz        per index shard: ``contours`` uint8 (n, features, points),
                            ``seconds`` float16 (the active length), ``pitch`` float16 (its
                            median pitch as a MIDI note at the reference note, NaN unpitched:
                            detuned presets are many)

Each covered index row is rendered again exactly as it was indexed (reference note, the fixed
noise seed) and described by :func:`~flowsynth_gui.features.shape.describe_shape`. Only the
first ``rows`` sounds are covered: 40,000 shapes are 6.0 MB beside the index's 27 MB, and a
shape search needs variety of shapes more than the 200,000 sounds a spectral search profits
from. Shards are written atomically: an interrupted build goes on where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from flowsynth_gui.features import shape as shape_features
from flowsynth_gui.features.pitch import hz_to_midi
from flowsynth_gui.features.shape import decode_contours, describe_shape, encode_contours
from flowsynth_gui.fileio import atomic_path, atomic_write_text
from flowsynth_gui.matching.index import (
    RENDER_SEED,
    SoundIndex,
    SoundIndexError,
    load_index,
    run_jobs,
)
from flowsynth_gui.matching.shape_distance import ShapeTable
from flowsynth_gui.synth.render import DEFAULT_SAMPLE_RATE, render_batch

__all__ = ["DEFAULT_SHAPE_ROWS", "ShapeSpec", "build_shapes", "load_shapes"]

DEFAULT_SHAPE_ROWS = 40000
SHAPES_FORMAT = "flowsynth-index-shapes"
SHAPES_FORMAT_VERSION = 3  # 3: 32 points per contour
_CHUNK = 64


def _index_digest(root: Path) -> str:
    return hashlib.sha256((root / "manifest.json").read_bytes()).hexdigest()[:16]


@dataclass(frozen=True)
class ShapeSpec:
    rows: int
    index: str  # digest of the index manifest
    features: tuple[str, ...] = shape_features.FEATURES
    points: int = shape_features.POINTS
    n_fft: int = shape_features.N_FFT
    hop: int = shape_features.HOP
    active_db: float = shape_features.ACTIVE_DB
    format: str = SHAPES_FORMAT
    format_version: int = SHAPES_FORMAT_VERSION

    def to_json(self) -> str:
        data = asdict(self)
        data["features"] = list(self.features)
        return json.dumps(data, indent=1, sort_keys=True)


@dataclass(frozen=True)
class _Job:
    root: str
    shard: int
    start: int
    stop: int


def _shard_file(root: Path, shard: int) -> Path:
    return root / "shapes" / f"{shard:05d}.npz"


def _describe_rows(index: SoundIndex, rows: np.ndarray) -> dict[str, np.ndarray]:
    contours, seconds, pitch = [], [], []
    for chunk in np.array_split(rows, max(1, -(-len(rows) // _CHUNK))):
        audio = render_batch(index.params(chunk), index.names, index.spec.note,
                             seeds=[RENDER_SEED] * len(chunk), workers=1)
        shapes = [describe_shape(a, DEFAULT_SAMPLE_RATE) for a in audio]
        contours.append(encode_contours(np.stack([s.contours for s in shapes])))
        seconds.append(np.array([s.seconds for s in shapes], np.float16))
        pitch.append(np.array([np.nan if s.pitch_hz is None else hz_to_midi(s.pitch_hz)
                               for s in shapes], np.float16))
    return {"contours": np.concatenate(contours), "seconds": np.concatenate(seconds),
            "pitch": np.concatenate(pitch)}


def _run_job(job: _Job) -> int:
    root = Path(job.root)
    target = _shard_file(root, job.shard)
    if not target.exists():
        arrays = _describe_rows(load_index(root), np.arange(job.start, job.stop))
        with atomic_path(target) as tmp, open(tmp, "wb") as handle:
            np.savez_compressed(handle, **arrays)  # 40,000 shapes: 6.0 MB, 7.8 plain
    return job.stop - job.start


def build_shapes(root: str | os.PathLike[str], rows: int = DEFAULT_SHAPE_ROWS,
                 workers: int | None = None, progress: Callable[[int], None] | None = None,
                 ) -> ShapeSpec:
    """Describe the first ``rows`` sounds of the index at ``root`` (resumable)."""
    folder = Path(root)
    index = load_index(folder)
    rows = max(1, min(int(rows), len(index)))
    spec = ShapeSpec(rows, _index_digest(folder))
    manifest = folder / "shapes" / "manifest.json"
    if manifest.exists() and manifest.read_text() != spec.to_json():
        raise SoundIndexError(f"{folder / 'shapes'} holds shapes made with other settings; "
                              "delete that folder and build them again")
    manifest.parent.mkdir(exist_ok=True)
    atomic_write_text(manifest, spec.to_json())
    size = index.spec.shard_size
    jobs = [_Job(str(folder), s, s * size, min(rows, (s + 1) * size))
            for s in range(-(-rows // size))]
    run_jobs(_run_job, jobs, workers, progress)
    return spec


def load_shapes(index: SoundIndex) -> tuple[ShapeTable | None, str | None]:
    """The shapes of ``index``'s first rows, or None and why (with how to build them)."""
    if index.root is None:
        return None, "the sound index has no folder to hold shapes"
    build = (f"build them with `flowsynth index shapes {index.root}` (a few minutes); until "
             "then imitation searches only the sounds it renders")
    manifest = index.root / "shapes" / "manifest.json"
    if not manifest.is_file():
        return None, f"the sound index at {index.root} has no shapes: {build}"
    try:
        data = json.loads(manifest.read_text())
        data["features"] = tuple(data["features"])
        spec = ShapeSpec(**data)
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        return None, f"{manifest} is corrupt ({err}); delete the shapes folder and {build}"
    if spec != ShapeSpec(spec.rows, _index_digest(index.root)):
        return None, (f"the shapes at {manifest.parent} were made for another index or with "
                      f"other shape settings; delete that folder and {build}")
    size = index.spec.shard_size
    try:
        parts: dict[str, list[np.ndarray]] = {"contours": [], "seconds": [], "pitch": []}
        for shard in range(-(-spec.rows // size)):
            with np.load(_shard_file(index.root, shard), allow_pickle=False) as part:
                for name, arrays in parts.items():
                    arrays.append(part[name])
        codes, lengths, pitch = (np.concatenate(parts[n]) for n in ("contours", "seconds",
                                                                       "pitch"))
    except (OSError, ValueError, KeyError) as err:
        return None, f"the shapes at {manifest.parent} are incomplete ({err}); {build}"
    if (codes.shape != (spec.rows, len(spec.features), spec.points) or codes.dtype != np.uint8
            or lengths.shape != (spec.rows,) or pitch.shape != (spec.rows,)):
        return None, f"the shapes at {manifest.parent} have the wrong shape; {build}"
    return ShapeTable(decode_contours(codes), lengths.astype(np.float32),
                      pitch.astype(np.float32)), None
