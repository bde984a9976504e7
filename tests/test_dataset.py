"""Dataset rendering: content, rejection, shards, resume, reproducibility, bad folders."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from flowsynth_gui.data import dataset as ds
from flowsynth_gui.data.dataset import DatasetError, DatasetSpec, build_dataset, load_dataset

SPEC = DatasetSpec(param_set=16, size=60, seed=5, shard_size=20)


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ds") / "a"
    assert build_dataset(root, SPEC, workers=2)
    return root


def test_dataset_holds_params_features_descriptors_tags_and_split(built: Path) -> None:
    data = load_dataset(built)
    assert data.params.shape == (60, 16) and data.log_mel.shape == (60, 128, 87)
    assert data.params.min() >= 0 and data.params.max() <= 1
    assert np.isfinite(data.log_mel.astype(np.float32)).all()
    assert data.descriptors.shape[0] == 60 and np.isfinite(data.descriptors).all()
    sizes = [len(data.subset(s)) for s in ("train", "valid", "test")]
    assert sizes == [48, 6, 6]
    assert data.tag_labels.shape == (60, 4) and set(np.unique(data.tag_labels)) <= {-1, 0, 1}
    assert len(data.characters) == 60
    tagged = [c for c in data.characters if c]
    assert tagged and all(t in {"Dark", "Bright", "Constant", "Moving", "Clean", "Dirty",
                                "Soft", "Aggressive"} for c in tagged for t in c.split(", "))


def test_same_seed_gives_byte_identical_datasets(built: Path, tmp_path: Path) -> None:
    # Another order of work: one process, shard by shard as two "machines".
    other = tmp_path / "b"
    assert not build_dataset(other, SPEC, shard_of=(1, 2), workers=1)
    assert build_dataset(other, SPEC, shard_of=(0, 2), workers=1)
    assert tree_digest(other) == tree_digest(built)


def test_other_seed_gives_other_sounds(tmp_path: Path) -> None:
    spec = DatasetSpec(param_set=16, size=20, seed=6, shard_size=20)
    build_dataset(tmp_path / "c", spec, workers=1)
    first = load_dataset(tmp_path / "c").params
    other = DatasetSpec(param_set=16, size=20, seed=7, shard_size=20)
    build_dataset(tmp_path / "d", other, workers=1)
    assert not np.array_equal(first, load_dataset(tmp_path / "d").params)


def test_resume_renders_only_missing_shards(built: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "resume"
    calls: list[int] = []
    original = ds.render_shard

    def interrupted(root_: Path, spec: DatasetSpec, shard: int) -> dict[str, int]:
        if shard == 2:
            raise KeyboardInterrupt  # the user pressed Ctrl+C during the third shard
        calls.append(shard)
        return original(root_, spec, shard)

    monkeypatch.setattr(ds, "render_shard", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build_dataset(root, SPEC, workers=1)
    assert calls == [0, 1]
    assert not list((root / "shards").glob(".*")), "no half-written shard is left behind"
    done = {p.name: p.stat().st_mtime_ns for p in (root / "shards").iterdir()}

    calls.clear()
    monkeypatch.setattr(ds, "render_shard", lambda r, s, k: calls.append(k) or original(r, s, k))
    assert build_dataset(root, SPEC, workers=1)
    assert calls == [2]
    assert all((root / "shards" / name).stat().st_mtime_ns == t for name, t in done.items())
    assert tree_digest(root) == tree_digest(built)


def test_folder_of_another_dataset_or_version_is_refused(built: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="differs in: seed"):
        build_dataset(built, DatasetSpec(param_set=16, size=60, seed=9, shard_size=20))
    old = tmp_path / "old"
    old.mkdir()
    manifest = json.loads((built / "manifest.json").read_text())
    (old / "manifest.json").write_text(json.dumps({**manifest, "synth": "flowsynth-diva/0"}))
    with pytest.raises(DatasetError, match="render it again"):
        load_dataset(old)
    with pytest.raises(DatasetError, match="not a FlowSynth dataset"):
        load_dataset(tmp_path)
    (tmp_path / "stray.txt").write_text("x")
    with pytest.raises(DatasetError, match="not empty"):
        build_dataset(tmp_path, SPEC)


def test_silent_and_clipped_renders_are_rejected() -> None:
    t = np.linspace(0, 1, 22050)
    audio = np.stack([np.zeros_like(t), np.sign(np.sin(2 * np.pi * 100 * t)) * 0.99,
                      0.5 * np.sin(2 * np.pi * 100 * t)])
    assert list(ds.reject_reasons(audio)) == ["silent", "clipped", ""]


def test_sampling_mix_covers_the_space_and_keeps_defaults() -> None:
    names = ds.param_specs.param_set(32)
    values = ds.sample_parameters(np.random.default_rng(0), 4000, names, 0.5)
    assert values.min() >= 0 and values.max() <= 1
    assert values.min() < 0.01 and values.max() > 0.99
    assert np.mean(values == np.array([ds.param_specs.spec_by_name(n).default_normalised
                                       for n in names])) > 0.1


def test_command_line_builds_a_dataset_and_reports_rejections(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    result = subprocess.run(
        [sys.executable, "-m", "flowsynth_gui.cli", "dataset", "--params", "16", "--size", "30",
         "--shard-size", "15", "--out", str(out), "--seed", "1", "--workers", "1"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "rejected" in result.stdout and "dataset complete" in result.stdout
    assert load_dataset(out).params.shape == (30, 16)
    bad = subprocess.run([sys.executable, "-m", "flowsynth_gui.cli", "dataset", "--out",
                          str(out), "--size", "30", "--params", "16", "--seed", "2"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "differs in: seed" in bad.stderr
