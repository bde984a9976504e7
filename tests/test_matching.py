"""The matching engine: the sound index, the candidate sources, polish, budget and cancel, CLI."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from index_support import INDEX_SPECS

from flowsynth_gui.cli import main as cli_main
from flowsynth_gui.features.audio_io import AudioFileError, write_wav
from flowsynth_gui.inference.analysis import analyse_audio
from flowsynth_gui.inference.match import Matcher
from flowsynth_gui.matching import (
    EngineSettings,
    IndexSpec,
    MatchEngine,
    SoundIndexError,
    load_index,
    open_index,
)
from flowsynth_gui.matching.index import build_index
from flowsynth_gui.matching.polish import PolishSettings, polish
from flowsynth_gui.models import load_checkpoint
from flowsynth_gui.paths import CHECKPOINTS_DIR
from flowsynth_gui.synth import param_set
from flowsynth_gui.synth.render import render_batch

SR = 22050
NAMES = param_set(32)
TINY = INDEX_SPECS[32]  # the spec of the shared index_32 fixture


@pytest.fixture(scope="module")
def shipped_matcher() -> Matcher:
    return Matcher(load_checkpoint(CHECKPOINTS_DIR / "flowsynth_flow_dis_32.pt"))


def _arrays(root: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(root.rglob("*.npy"))]


def test_index_round_trip_resume_and_reproducibility(index_32: Path, tmp_path: Path) -> None:
    index = load_index(index_32)
    assert len(index) == TINY.size and index.names == NAMES
    assert index.embedding.shape == (TINY.size, TINY.components)
    params = index.params(np.arange(TINY.size))
    assert np.all((params >= 0) & (params <= 1))
    copy = tmp_path / "copy"
    shutil.copytree(index_32, copy)
    shutil.rmtree(copy / "shards" / "00001")  # an interrupted build: one shard missing
    with pytest.raises(SoundIndexError, match="incomplete or corrupt"):
        load_index(copy)
    build_index(copy, TINY, workers=2)  # resumed with another worker count
    assert _arrays(copy) == _arrays(index_32)


def test_stale_foreign_and_corrupt_indexes_are_refused(index_32: Path, tmp_path: Path) -> None:
    stale = tmp_path / "stale"
    shutil.copytree(index_32, stale)
    manifest = json.loads((stale / "manifest.json").read_text())
    manifest["synth"] = "flowsynth-va/0"
    (stale / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SoundIndexError, match="stale.*flowsynth index build"):
        load_index(stale)
    (stale / "manifest.json").write_text("{not json")
    with pytest.raises(SoundIndexError, match="corrupt"):
        load_index(stale)
    with pytest.raises(SoundIndexError, match="not a sound index"):
        load_index(tmp_path)
    index, why = open_index(stale, NAMES)
    assert index is None and "model alone" in why
    index, why = open_index(index_32, param_set(16))
    assert index is None and "other parameters" in why
    with pytest.raises(SoundIndexError, match="other settings"):
        build_index(index_32, IndexSpec(param_set=32, size=10, seed=6), workers=1)


def _target_of(values: np.ndarray, note: int = 60):
    return analyse_audio(render_batch(values[None], NAMES, note=note, seeds=[0])[0], SR)


def test_a_index_32_finds_a_sound_that_is_in_it(index_32: Path) -> None:
    index = load_index(index_32)
    engine = MatchEngine(NAMES, index=index, workers=1)
    for row in range(len(index)):  # tuned presets too: their pitch is not the note's
        outcome = engine.match(_target_of(index.params([row])[0]), budget=0)
        best = outcome.best
        assert best.source == "index" and best.label == f"index #{row}"
        assert best.distance < 1e-6 and best.note == 60
        np.testing.assert_array_equal(best.params, index.params([row])[0])


def test_posterior_draws_come_after_the_first_answer(shipped_matcher: Matcher) -> None:
    engine = MatchEngine(NAMES, matcher=shipped_matcher, workers=1,
                         settings=EngineSettings(posterior_samples=4, previous=0))
    target = _target_of(np.random.default_rng(5).uniform(0.05, 0.95, 32), note=48)
    seen: list = []
    engine.match(target, budget=0.3, progress=seen.append)
    # The first answer is the model's, at each pitch hypothesis; the draws follow at once.
    hypotheses = 1 if target.note == 60 else 2
    assert seen[0].stage == "candidates" and seen[0].renders == hypotheses
    assert seen[1].stage == "polish"
    assert seen[1].renders == hypotheses + (4 if hypotheses == 1 else 4 + 2)
    assert engine.match(target, budget=0).renders == hypotheses


def test_engine_sources_top1_never_worse_and_model_answer_kept(
        index_32: Path, shipped_matcher: Matcher) -> None:
    engine = MatchEngine(NAMES, matcher=shipped_matcher, index=load_index(index_32),
                         settings=EngineSettings(neighbours=6, posterior_samples=4))
    target = _target_of(np.random.default_rng(3).uniform(0.05, 0.95, 32), note=48)
    seen = []
    outcome = engine.match(target, budget=0.6, progress=seen.append, top=4)
    first = seen[0]
    assert first.stage == "candidates"
    assert {c.source for c in first.best} <= {"index", "model", "posterior"}
    assert outcome.best.distance <= first.best[0].distance
    assert outcome.model_answer is not None and outcome.model_answer.source == "model"
    assert outcome.model_answer.z is not None
    assert len(outcome.candidates) == 4
    assert [c.distance for c in outcome.candidates] == sorted(c.distance
                                                              for c in outcome.candidates)
    assert any(p.stage == "polish" for p in seen)
    # The previous match's best is a candidate of the next one.
    again = engine.match(target, budget=0)
    assert again.best.distance <= outcome.best.distance + 1e-12
    assert any(c.source == "previous" for c in again.candidates)


def test_budget_and_cancel_are_respected(index_32: Path) -> None:
    engine = MatchEngine(NAMES, index=load_index(index_32), workers=2)
    target = _target_of(np.full(32, 0.4))
    began = time.perf_counter()
    outcome = engine.match(target, budget=0.5)
    assert time.perf_counter() - began < 0.5 + 0.4  # at most one generation past it
    assert not outcome.cancelled and outcome.renders > 20
    stop = threading.Event()
    cancelled = engine.match(target, budget=30.0, should_stop=stop,
                             progress=lambda p: stop.set() if p.stage == "polish" else None)
    assert cancelled.cancelled and cancelled.seconds < 5.0
    assert cancelled.best.distance <= engine.match(target, budget=0).best.distance


def test_polish_finds_the_minimum_inside_the_bounds() -> None:
    goal = np.linspace(0.1, 0.9, 6)
    rows_seen = []

    def score(rows: np.ndarray) -> np.ndarray:
        rows_seen.append(rows)
        return np.abs(rows - goal).sum(axis=1)

    generations, cancelled = polish([np.full(6, 0.5)], score, time.perf_counter() + 0.5,
                                    PolishSettings(starts=1, sigma=0.3), seed=1)
    everything = np.concatenate(rows_seen)
    assert not cancelled and generations > 10
    assert everything.min() >= 0.0 and everything.max() <= 1.0
    assert score(everything).min() < 0.05


def test_loud_clean_input_is_matched_and_broken_input_refused() -> None:
    t = np.arange(2 * SR) / SR
    saw = (2.0 * ((220.0 * t) % 1.0) - 1.0).astype(np.float32)  # 0 dBFS
    square = np.sign(np.sin(2 * np.pi * 110.0 * t)).astype(np.float32)
    for loud in (saw, square):
        target = analyse_audio(loud, SR)
        assert target.mel.shape[0] == 128
    assert any("full scale" in n for n in analyse_audio(square, SR).notes)
    with pytest.raises(AudioFileError, match="silent"):
        analyse_audio(np.zeros(SR, np.float32), SR)
    with pytest.raises(AudioFileError, match="NaN"):
        analyse_audio(np.full(SR, np.nan, np.float32), SR)


def test_posterior_draws_differ_and_are_presets(shipped_matcher: Matcher) -> None:
    audio = _target_of(np.full(32, 0.5)).at_reference
    z, values = shipped_matcher.sample_posterior(audio, 8, seed=0)
    assert z.shape == (8, shipped_matcher.model.latent_dim) and values.shape == (8, 32)
    assert len({row.tobytes() for row in values}) == 8
    z_again, _ = shipped_matcher.sample_posterior(audio, 8, seed=0)
    np.testing.assert_array_equal(z, z_again)


def test_cli_matches_a_batch_into_a_folder_and_never_overwrites(
        index_32: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    index = load_index(index_32)
    inputs = []
    # rows whose pitch is the key played (random presets are often detuned by their Tune knobs)
    for row, note in ((0, 48), (11, 60)):
        path = tmp_path / f"sound{row}.wav"
        write_wav(path, render_batch(index.params([row]), NAMES, note=note, seeds=[0])[0], SR)
        inputs.append(str(path))
    out = tmp_path / "presets"
    # 1 s, not less: the first match of a process also loads the compiled kernels, and at 0.3 s
    # a loaded machine ran out of time before rendering the index's own row at note 48.
    argv = ["match", *inputs, "--out", str(out), "--index", str(index_32), "--budget", "1"]
    assert cli_main(argv) == 0
    printed = capsys.readouterr().out
    assert "sound0.wav: note 48" in printed and "sound11.wav: note 60" in printed, printed
    written = json.loads((out / "sound0.json").read_text())
    assert written["note"] == 48 and written["spectral_convergence"] < 0.05
    assert set(written["parameters"]) == set(NAMES)
    assert cli_main(argv) == 0  # again: new names beside the old files
    assert (out / "sound0 2.json").exists() and (out / "sound11 2.json").exists()
    assert cli_main(["match", inputs[0], "--out", str(tmp_path / "x.h2p"), "--index",
                     str(index_32), "--budget", "0", "--format", "h2p"]) == 0
    assert (tmp_path / "x.h2p").read_text().startswith("/*@Meta")


def test_cli_checks_the_output_before_any_work(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    wav = tmp_path / "a.wav"
    write_wav(wav, np.zeros(SR, np.float32), SR)
    assert cli_main(["match", str(wav), "--out", str(tmp_path / "a.txt")]) == 2
    assert ".json" in capsys.readouterr().err
    assert cli_main(["match", str(tmp_path / "missing.wav"), "--out", str(tmp_path)]) == 2
    assert "no such file" in capsys.readouterr().err
    # A silent file is refused with the reason; the others of the batch still go on.
    assert cli_main(["match", str(wav), "--out", str(tmp_path / "b.json"), "--index",
                     str(tmp_path / "nowhere"), "--budget", "0"]) == 1
    captured = capsys.readouterr()
    assert "silent" in captured.err and "model alone" in captured.out
