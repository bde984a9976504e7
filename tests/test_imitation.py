"""Imitation matching: shape features, the shape distance, relevance feedback, index shapes,
the imitation search and its CLI, and inputs that are short, long, breathy or silent."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from flowsynth_gui.cli import main as cli_main
from flowsynth_gui.features.audio_io import AudioFileError, write_wav
from flowsynth_gui.features.shape import FEATURES, POINTS, SoundShape, describe_shape
from flowsynth_gui.inference.analysis import analyse_imitation
from flowsynth_gui.matching import MatchEngine, load_index
from flowsynth_gui.matching.imitation import Imitator
from flowsynth_gui.matching.shape_distance import (
    ShapeQuery,
    ShapeTable,
    apply_feedback,
    combine,
    shape_distance,
)
from flowsynth_gui.matching.shape_index import build_shapes, load_shapes
from flowsynth_gui.synth import param_set
from flowsynth_gui.synth.render import render_batch

SR = 22050
NAMES = param_set(32)
RNG = np.random.default_rng(0)


def _tone(seconds: float, hz: float | np.ndarray = 220.0) -> np.ndarray:
    n = int(seconds * SR)
    freq = np.broadcast_to(np.asarray(hz, dtype=np.float64), (n,))
    return np.sin(2 * np.pi * np.cumsum(freq) / SR)


def _stretch(x: np.ndarray, factor: float) -> np.ndarray:
    """The same sound ``factor`` times as long (its envelope slowed, its pitch kept)."""
    n = int(len(x) * factor)
    return np.interp(np.arange(n) / factor, np.arange(len(x)), x)


# --- shape features ---------------------------------------------------------------------------

def test_features_follow_known_contours() -> None:
    t = np.arange(2 * SR) / SR
    sweep = describe_shape(_tone(2.0, np.geomspace(200, 3200, 2 * SR)).astype(np.float32), SR)
    assert np.all(np.diff(sweep.feature("brightness")) > 0)  # a rising sweep gets brighter
    pluck = describe_shape((_tone(2.0) * np.exp(-3 * t)).astype(np.float32), SR)
    assert np.all(np.diff(pluck.feature("loudness")) < 0)  # a decay gets quieter
    assert pluck.pitch_hz == pytest.approx(220, rel=0.01)
    vibrato = describe_shape(_tone(2.0, 220 * 2 ** (np.sin(2 * np.pi * 2 * t) / 12)).astype(
        np.float32), SR)
    pitch = vibrato.feature("pitch")
    assert pitch.max() > 0.04 and pitch.min() < -0.04  # ± a semitone, over 12 semitones
    noise = describe_shape(RNG.standard_normal(SR).astype(np.float32) * 0.3, SR)
    assert noise.pitch_hz is None and noise.feature("voicing").mean() < 0.4
    assert noise.feature("noisiness").mean() > pluck.feature("noisiness").mean() + 0.3


def test_the_active_part_is_the_shape_whatever_the_silence_around_it() -> None:
    tone = (_tone(1.0) * np.hanning(SR)).astype(np.float32)
    padded = np.concatenate([np.zeros(SR // 2, np.float32), tone, np.zeros(SR, np.float32)])
    plain, late = describe_shape(tone, SR), describe_shape(padded, SR)
    assert late.onset_seconds == pytest.approx(0.5 + plain.onset_seconds, abs=0.02)
    assert late.seconds == pytest.approx(plain.seconds, abs=0.02)
    assert shape_distance(plain, late) < 0.02
    ts = describe_shape((RNG.standard_normal(int(0.12 * SR)) * 0.2).astype(np.float32), SR)
    assert ts.contours.shape == (len(FEATURES), POINTS) and 0.08 < ts.seconds < 0.16


# --- the distance -------------------------------------------------------------------------------

@pytest.mark.parametrize("factor", [0.8, 1.2])
def test_distance_tolerates_a_twenty_percent_stretch(factor: float) -> None:
    t = np.arange(2 * SR) / SR
    swell = (_tone(2.0) * np.minimum(1, t / 1.2) * np.exp(-2 * np.maximum(0, t - 1.2)))
    other = _tone(2.0) * np.exp(-4 * t)  # a pluck: another shape
    a = describe_shape(swell.astype(np.float32), SR)
    b = describe_shape(_stretch(swell, factor).astype(np.float32), SR)
    c = describe_shape(other.astype(np.float32), SR)
    assert shape_distance(a, b) < 0.25 * shape_distance(a, c)
    assert ShapeTable.of([b]).feature_distances(ShapeQuery.of(a))[0, -1] == 0  # no length cost


def _shape(loudness: np.ndarray, brightness: np.ndarray) -> SoundShape:
    contours = np.zeros((len(FEATURES), POINTS), np.float32)
    contours[FEATURES.index("loudness")] = loudness
    contours[FEATURES.index("brightness")] = brightness
    return SoundShape(contours, 1.0, None)


def test_feedback_moves_the_query_and_the_weights_the_right_way() -> None:
    x = np.linspace(0, 1, POINTS)
    query = ShapeQuery.of(_shape(-x, x - 0.5))  # a decay that gets brighter
    # Closer: the same decay, any brightness; further: the query's brightness, another loudness.
    closer = [_shape(-x, RNG.uniform(-1, 1, POINTS)) for _ in range(2)]
    further = [_shape(-1 + x, x - 0.5) for _ in range(2)]
    moved = apply_feedback(query, closer, further)
    table = moved.weight_table()
    before = query.weight_table()
    assert table["loudness"] / table["brightness"] > before["loudness"] / before["brightness"]
    assert pytest.approx(sum(table.values()), rel=1e-5) == sum(before.values())
    mean_further = np.mean([s.contours for s in further], axis=0)
    assert (np.abs(moved.contours - mean_further).sum()
            > np.abs(query.contours - mean_further).sum())
    assert [id(a) for a in moved.anchors] == [id(c) for c in closer]
    assert apply_feedback(query, [], []) is query


def test_shapes_marked_closer_are_anchors_of_the_distance() -> None:
    """After feedback a candidate's distance is half its distance to the query and half its mean
    distance to the anchors; the last four marks are kept."""
    x = np.linspace(0, 1, POINTS)
    query = ShapeQuery.of(_shape(-x, x - 0.5))
    marked = [_shape(-x ** (1 + i), RNG.uniform(-1, 1, POINTS)) for i in range(3)]
    candidates = ShapeTable.of([_shape(-x ** k, x - 0.5) for k in (0.5, 2.0, 4.0)] + marked)
    moved = replace(apply_feedback(query, marked[:2], []), contours=query.contours)
    expected = 0.5 * candidates.distances(query) + 0.25 * sum(
        candidates.distances(ShapeQuery.of(s)) for s in marked[:2])
    assert np.allclose(candidates.distances(moved), expected, atol=1e-6)
    again = apply_feedback(apply_feedback(moved, marked[1:], []), marked[2:], [])
    assert [id(a) for a in again.anchors] == [id(s) for s in (*marked[1:2], *marked[1:], marked[2])]
    assert np.argmin(candidates.distances(moved)[3:]) in (0, 1)  # a marked shape comes first


def _plain_dtw(a: np.ndarray, b: np.ndarray, radius: int) -> float:
    n = len(a)
    cells = np.full((n + 1, n + 1), np.inf)
    cells[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(max(1, i - radius), min(n, i + radius) + 1):
            cells[i, j] = abs(a[i - 1] - b[j - 1]) + min(cells[i - 1, j], cells[i, j - 1],
                                                         cells[i - 1, j - 1])
    return cells[n, n] / n


@pytest.mark.parametrize("count", [1, 63, 64, 65, 130])
def test_shapes_warped_side_by_side_equal_one_at_a_time(count: int) -> None:
    """The kernel warps shapes in SIMD lanes; each lane is the plain banded DTW, whatever the
    shape's position in its block."""
    from flowsynth_gui.matching.shape_distance import _RADIUS, _RELATIVE

    table = ShapeTable(RNG.uniform(-1, 0, (count, len(FEATURES), POINTS)), np.ones(count))
    query = ShapeQuery.of(SoundShape(RNG.uniform(-1, 0, (len(FEATURES), POINTS)).astype(
        np.float32), 1.0, None))
    q_rel = ShapeTable(query.contours[None], np.ones(1)).relative[0]
    got = table.feature_distances(query)
    for k in {0, count // 2, count - 1}:
        for f, name in enumerate(FEATURES):
            rho = _RELATIVE[name]
            want = ((1 - rho) * _plain_dtw(query.contours[f], table.contours[k, f], _RADIUS)
                    + rho * _plain_dtw(q_rel[f], table.relative[k, f], _RADIUS))
            assert got[k, f] == pytest.approx(want, abs=1e-5)


def test_feedback_can_give_weight_to_a_feature_that_had_none() -> None:
    """Pitch starts at weight 0; marks that only pitch tells apart give it some."""
    x = np.linspace(0, 1, POINTS)
    query = ShapeQuery.of(_shape(-x, x - 0.5))
    assert query.weight_table()["pitch"] == 0

    def gliding(depth: float) -> SoundShape:
        shape = _shape(-x, x - 0.5)
        shape.contours[FEATURES.index("pitch")] = depth * x
        return shape

    moved = apply_feedback(query, [gliding(0.0), gliding(0.02)], [gliding(0.8), gliding(0.9)])
    assert moved.weight_table()["pitch"] > 0.01 * sum(moved.weight_table().values())


def test_a_top_list_keeps_few_polished_near_copies() -> None:
    from flowsynth_gui.matching.engine import MatchCandidate
    from flowsynth_gui.matching.imitation import _POLISHED_IN_TOP, _Pool

    x = np.linspace(0, 1, POINTS)
    pool = _Pool(ShapeQuery.of(_shape(-x, x - 0.5)))
    near = [(MatchCandidate(RNG.uniform(0, 1, 4), np.nan, "polish"), _shape(-x, x - 0.5))
            for _ in range(8)]  # polish variants: the query's own shape
    other = [(MatchCandidate(RNG.uniform(0, 1, 4), np.nan, "index", f"index #{i}"),
              _shape(-x ** (1 + i / 10), x - 0.5)) for i in range(8)]
    pool.add(near + other)
    top = pool.top(8)
    assert [c.source for c, _ in top[:_POLISHED_IN_TOP]] == ["polish"] * _POLISHED_IN_TOP
    assert sum(c.source == "polish" for c, _ in top) == _POLISHED_IN_TOP and len(top) == 8


def test_features_of_no_weight_are_skipped_without_changing_the_distance() -> None:
    shapes = [_shape(-np.linspace(0, 1, POINTS) ** k, RNG.uniform(-1, 1, POINTS))
              for k in (0.5, 1.0, 2.0)]
    for shape in shapes:
        shape.contours[FEATURES.index("pitch")] = RNG.uniform(-1, 1, POINTS)
    table, query = ShapeTable.of(shapes), ShapeQuery.of(shapes[0])
    skipped = table.feature_distances(query, every_feature=False)
    assert np.all(skipped[:, FEATURES.index("pitch")] == 0)
    assert table.feature_distances(query)[1:, FEATURES.index("pitch")].min() > 0
    assert np.allclose(table.distances(query), combine(table.feature_distances(query),
                                                       query.weights))


# --- index shapes and the search ----------------------------------------------------------------

def test_index_shapes_resume_and_are_refused_for_another_index(index_32_with_shapes: Path,
                                                               tmp_path: Path) -> None:
    index = load_index(index_32_with_shapes)
    table, warning = load_shapes(index)
    assert warning is None and len(table) == len(index) and np.isfinite(table.seconds).all()
    copy = tmp_path / "copy"
    shutil.copytree(index_32_with_shapes, copy)
    (copy / "shapes" / "00001.npz").unlink()  # interrupted
    assert "incomplete" in load_shapes(load_index(copy))[1]
    build_shapes(copy, rows=len(index), workers=2)
    assert np.array_equal(load_shapes(load_index(copy))[0].contours, table.contours)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["seed"] = 12  # now another index's manifest
    (copy / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    assert "another index" in load_shapes(load_index(copy))[1]


def test_an_index_sound_imitated_by_itself_comes_back_first(index_32_with_shapes: Path) -> None:
    index = load_index(index_32_with_shapes)
    shapes, _ = load_shapes(index)
    engine = MatchEngine(NAMES, index=index, workers=2)
    imitator = Imitator(engine, shapes)
    row = 7
    audio = render_batch(index.params([row]), NAMES, note=60, seeds=[0], workers=1)[0]
    target = analyse_imitation(audio, SR)
    first = imitator.imitate(target, budget=0, top=4)
    assert first.best.label == f"index #{row}" and first.best.distance < 1e-3
    assert first.renders > 0 and len(first.shapes) == len(first.candidates)
    # Feedback: a new query; every shape rendered before is ranked again, not rendered again
    # (the index's sounds, no other source: at most one render each over both searches).
    query = imitator.feedback(first, closer=[1], further=[3])
    again = imitator.imitate(target, query=query, again=first, budget=0, top=4)
    assert again.query is query and first.renders + again.renders <= len(index)
    assert {c.label for c in again.candidates} <= {c.label for c, _ in first.rendered}
    searched = imitator.imitate(target, budget=0.6, top=4, seed=3)
    assert searched.best.distance <= first.best.distance + 1e-9
    engine.close()


def test_without_index_shapes_the_search_falls_back_to_spectral_neighbours(
        index_32_with_shapes: Path) -> None:
    index = load_index(index_32_with_shapes)
    engine = MatchEngine(NAMES, index=index, workers=1)
    voice = (_tone(1.0, 180) * np.hanning(SR)).astype(np.float32)
    outcome = Imitator(engine, None).imitate(analyse_imitation(voice, SR), budget=0, top=3)
    assert len(outcome.candidates) == 3 and any("no shapes" in n for n in outcome.notes)
    engine.close()


# --- inputs ------------------------------------------------------------------------------------

def test_inputs_that_are_short_long_breathy_clipped_or_late_are_imitations() -> None:
    ts = analyse_imitation((RNG.standard_normal(int(0.15 * SR)) * 0.3).astype(np.float32), SR)
    assert ts.note == 60 and any("no clear pitch" in n for n in ts.notes)
    long = analyse_imitation((0.3 * _tone(10.0, 196)).astype(np.float32), SR)
    assert any("first 4 s" in n for n in long.notes) and long.shape.seconds <= 4.05
    assert long.note == 55  # G3
    late = np.concatenate([np.zeros(SR), 0.3 * _tone(1.0)]).astype(np.float32)
    assert any("silence before it skipped" in n for n in analyse_imitation(late, SR).notes)
    loud = np.clip(3 * _tone(1.0), -1, 1).astype(np.float32)
    assert any("full scale" in n for n in analyse_imitation(loud, SR).notes)
    with pytest.raises(AudioFileError, match="silent"):
        analyse_imitation(np.zeros(SR, np.float32), SR)
    with pytest.raises(AudioFileError, match="NaN"):
        analyse_imitation(np.full(SR, np.nan, np.float32), SR)


def test_cli_imitation_round_trip(index_32_with_shapes: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    hum = tmp_path / "hum.wav"
    write_wav(hum, (0.4 * _tone(1.5, 147) * np.hanning(int(1.5 * SR))).astype(np.float32), SR)
    dat = tmp_path / "dat.wav"
    write_wav(dat, (0.5 * _tone(0.15, 300) * np.exp(-np.arange(int(0.15 * SR)) / 800)).astype(
        np.float32), SR)
    silent = tmp_path / "silent.wav"
    write_wav(silent, np.zeros(SR, np.float32), SR)
    out = tmp_path / "found"
    out.mkdir()
    code = cli_main(["match", "--imitation", str(hum), str(dat), str(silent), "--index",
                     str(index_32_with_shapes), "--budget", "0.3", "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 1 and "silent.wav: cannot match" in printed.err  # the others still matched
    found = {stem: json.loads((out / f"{stem}.json").read_text()) for stem in ("hum", "dat")}
    for data in found.values():
        assert 0 <= data["shape_distance"] < 3 and isinstance(data["note"], int)
        assert set(data["parameters"]) == set(NAMES)
    # a 1.5 s hum has index sounds of its length; a 0.15 s "dat" pays for being shorter
    assert found["hum"]["shape_distance"] < 1 < found["dat"]["shape_distance"]
    # played where it sounds the hum's D3 (MIDI 50), its own tuning counted
    assert f"hum.wav: note {found['hum']['note']}, shape distance" in printed.out
    assert "pitch 147.6 Hz -> MIDI note 50" in printed.out


def test_a_full_shape_memo_keeps_what_the_search_needs(index_32_with_shapes: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """After the memo of rendered shapes overflows, a search after feedback still finds the
    shapes of the candidates it ranks again (a KeyError once)."""
    import flowsynth_gui.matching.imitation as imitation

    monkeypatch.setattr(imitation, "_MEMO", 30)
    index = load_index(index_32_with_shapes)
    engine = MatchEngine(NAMES, index=index, workers=1)
    imitator = Imitator(engine, load_shapes(index)[0])
    audio = render_batch(index.params([3]), NAMES, note=60, seeds=[0], workers=1)[0]
    target = analyse_imitation(audio, SR)
    first = imitator.imitate(target, budget=0, top=4)
    query = imitator.feedback(first, closer=[0], further=[2])
    again = imitator.imitate(target, query=query, again=first, budget=0, top=4)
    assert len(again.candidates) == 4
    engine.close()
