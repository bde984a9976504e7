"""The imitation benchmark set: deterministic builds, its layout, and imitations that follow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from flowsynth_gui.evaluation import imitation_set as imset
from flowsynth_gui.paths import PROJECT_ROOT

SR = imset.SAMPLE_RATE
HAVE_INDEX = (imset.DEFAULT_INDEX / "manifest.json").exists()
HAVE_SOX = imset.sox_available()
needs_sounds = pytest.mark.skipif(not (HAVE_INDEX or HAVE_SOX), reason="no index and no sox")
SMALL = {"per_kind": 1, "imitations": 2, "candidates": 300, "sox_per_kind": 1,
         "index": imset.DEFAULT_INDEX if HAVE_INDEX else None}


def tone(seconds: float = 4.0, hz: float = 220.0, brightness=None, level=None) -> np.ndarray:
    """A harmonic tone: ``brightness(t)`` the lowpass corner (Hz), ``level(t)`` its gain."""
    t = np.arange(int(seconds * SR)) / SR
    corner = brightness(t) if brightness else np.full(t.size, 3000.0)
    out = np.zeros(t.size)
    for k in range(1, int(8000 / hz)):
        out += np.sin(2 * np.pi * k * hz * t) / k / (1 + (k * hz / corner) ** 4)
    gain = level(t) if level else np.ones(t.size)
    return (0.5 * out / np.abs(out).max() * gain).astype(np.float32)


def db_envelope(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = imset.analyse(audio, pitch=False)
    return c.times, np.maximum(c.relative_db, -60.0)


def aligned_loudness(original: np.ndarray, copy: imset.Imitation) -> tuple[np.ndarray, np.ndarray]:
    """Both dB envelopes on the original's frames (the imitation's timing undone)."""
    t, orig = db_envelope(original)
    ti, imit = db_envelope(copy.audio)
    return orig, np.interp(t * copy.stretch + copy.lead_in, ti, imit)


def brightness_change(audio: np.ndarray) -> float:
    """Octaves the log-centroid moves from the first to the second half of the loud part."""
    c = imset.analyse(audio, pitch=False)
    loud = np.flatnonzero(c.active(20))
    half = loud.size // 2
    octaves = np.log2(c.centroid_hz)
    return float(octaves[loud[half:]].mean() - octaves[loud[:half]].mean())


# ------------------------------------------------------------------------------ built sets

@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not (HAVE_INDEX or HAVE_SOX):
        pytest.skip("no index and no sox")
    root = tmp_path_factory.mktemp("imitation_sets")
    for name, seed in (("a", 0), ("b", 0), ("other", 1)):
        imset.build_imitation_set(root / name, seed=seed, **SMALL)
    return {name: root / name for name in ("a", "b", "other")}


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@needs_sounds
def test_a_seed_builds_the_same_set_byte_for_byte(sets: dict[str, Path]) -> None:
    first, again = _files(sets["a"]), _files(sets["b"])
    assert first.keys() == again.keys() and len(first) > 3
    assert first == again
    other = _files(sets["other"])
    assert other["manifest.json"] != first["manifest.json"]
    shared = [name for name in first if name.endswith(".wav") and name in other]
    assert any(first[name] != other[name] for name in shared)


@needs_sounds
def test_the_manifest_lists_every_file_in_the_documented_layout(sets: dict[str, Path]) -> None:
    root = sets["a"]
    manifest = imset.read_manifest(root)
    assert manifest["format"] == "flowsynth-imitation-set" and manifest["version"] == 1
    assert manifest["seed"] == 0 and manifest["sample_rate"] == SR
    sounds = manifest["sounds"]
    assert len({s["id"] for s in sounds}) == len(sounds) > 0
    listed = set()
    for s in sounds:
        assert s["kind"] in imset.KINDS and s["id"].startswith(s["kind"] + "_")
        assert s["original"] == f"originals/{s['id']}.wav" and isinstance(s["note"], int)
        assert len(s["imitations"]) == len(s["stretch"]) == len(s["lead_in"]) == 2
        assert all(0.8 <= x <= 1.2 for x in s["stretch"])
        assert all(0 <= x <= 0.3 for x in s["lead_in"])
        if s["origin"] == "synth":
            assert 0 <= s["index_row"] < imset.SHAPED_ROWS and s["note"] == 60
            assert len(s["params"]) == 32 and all(0 <= v <= 1 for v in s["params"].values())
        else:
            assert s["origin"] == "sox" and s["index_row"] is None and s["params"] is None
        for name in (s["original"], *s["imitations"]):
            info = sf.info(root / name)
            assert (info.samplerate, info.channels, info.subtype) == (SR, 1, "FLOAT")
            listed.add(name)
        assert sf.info(root / s["original"]).frames == int(imset.SECONDS * SR)
    on_disk = {str(p.relative_to(root)) for p in root.rglob("*.wav")}
    assert on_disk == listed  # no stray or temporary files
    assert {p.name for p in root.iterdir()} == {"manifest.json", "originals", "imitations"}


@pytest.mark.skipif(not HAVE_INDEX, reason="no sound index")
def test_synth_originals_are_renders_of_their_index_row(sets: dict[str, Path]) -> None:
    from flowsynth_gui.data.renders import NOISE_SEED
    from flowsynth_gui.matching.index import load_index
    from flowsynth_gui.synth.render import render_batch

    index = load_index(imset.DEFAULT_INDEX)
    synth = [s for s in imset.read_manifest(sets["a"])["sounds"] if s["origin"] == "synth"]
    assert len(synth) >= len(imset.KINDS) - 1  # one a kind, topped up where one is missing
    s = synth[0]
    values = index.params(np.array([s["index_row"]]))
    assert list(s["params"].values()) == pytest.approx(values[0].tolist(), abs=0)
    audio = render_batch(values, index.names, note=60, seeds=[NOISE_SEED], workers=1)[0]
    original, _ = sf.read(sets["a"] / s["original"], dtype="float32")
    np.testing.assert_array_equal(original, audio)
    assert imset.classify(audio).kind == s["kind"]


@pytest.mark.skipif(not HAVE_SOX, reason="sox not installed")
def test_a_rebuild_keeps_recordings_and_the_cli_reports(tmp_path: Path) -> None:
    root = tmp_path / "set"
    done = subprocess.run([sys.executable, str(PROJECT_ROOT / "scripts/make_imitation_set.py"),
                           str(root), "--no-index", "--sox-per-kind", "1", "--imitations", "1"],
                          capture_output=True, text=True, timeout=60, check=True)
    assert f"{len(imset.KINDS)} originals" in done.stdout and "sox" in done.stdout
    manifest = imset.read_manifest(root)
    recording = {"id": "hum_00", "kind": "swell", "origin": "recording",
                 "original": "originals/hum_00.wav", "note": 57, "index_row": None,
                 "params": None, "imitations": [], "stretch": [], "lead_in": []}
    manifest["sounds"].append(recording)
    (root / "manifest.json").write_text(json.dumps(manifest))
    report = imset.build_imitation_set(root, index=None, sox_per_kind=1, imitations=1)
    assert report.kept_entries == 1 and report.sox_skipped is False
    assert imset.read_manifest(root)["sounds"][-1] == recording


@needs_sounds
def test_the_sets_imitations_follow_loudness_and_sing_where_the_original_has_a_pitch(
        sets: dict[str, Path]) -> None:
    root = sets["a"]
    sung = 0
    for s in imset.read_manifest(root)["sounds"]:
        original, _ = sf.read(root / s["original"], dtype="float32")
        pitched = imset.analyse(original).voiced_fraction() > 0.6
        for name, stretch, lead_in in zip(s["imitations"], s["stretch"], s["lead_in"],
                                          strict=True):
            audio, _ = sf.read(root / name, dtype="float32")
            copy = imset.Imitation(audio, stretch, lead_in, pitched)
            orig, imit = aligned_loudness(original, copy)
            loud = orig > -50
            assert np.corrcoef(orig[loud], imit[loud])[0, 1] > 0.5, name
            if pitched:
                f0 = librosa.yin(audio, fmin=50, fmax=1000, sr=SR, frame_length=2048,
                                 hop_length=256)
                active = imset.analyse(audio, pitch=False).active(20)[:f0.size]
                assert 80 <= np.median(f0[active]) <= 400, name
                sung += 1
    assert sung > 0


def test_without_sox_or_index_the_build_says_so(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imset.shutil, "which", lambda name: None)
    report = imset.build_imitation_set(tmp_path / "empty", index=None)
    assert report.sox_skipped and report.originals == 0
    assert any("sox not found" in line for line in report.lines())
    assert imset.read_manifest(tmp_path / "empty")["sounds"] == []


# ------------------------------------------------------------------------------- imitations

def test_imitations_follow_the_loudness_contour() -> None:
    shapes = {"pluck": lambda t: np.exp(-t / 0.08), "swell": lambda t: np.clip(t / 2.5, 0, 1) ** 3,
              "tremolo": lambda t: 0.55 + 0.45 * np.sin(2 * np.pi * 3 * t) * (t < 3)}
    for name, level in shapes.items():
        original = tone(level=level)
        for seed in (0, 1):
            orig, imit = aligned_loudness(original, imset.imitate(original, seed=seed, voice=seed))
            loud = orig > -50
            assert np.corrcoef(orig[loud], imit[loud])[0, 1] > 0.7, (name, seed)


def test_imitations_follow_the_brightness_of_a_sweep() -> None:
    up = tone(brightness=lambda t: 300 * 2 ** (4 * np.clip(t / 3, 0, 1)))
    down = tone(brightness=lambda t: 4800 * 2 ** (-4 * np.clip(t / 3, 0, 1)))
    assert brightness_change(up) > 1 and brightness_change(down) < -1
    for seed in (0, 1, 2):
        assert brightness_change(imset.imitate(up, seed=seed, voice=seed).audio) > 0.2
        assert brightness_change(imset.imitate(down, seed=seed, voice=seed).audio) < -0.2


def test_timing_is_stretched_by_at_most_20_percent() -> None:
    gated = tone(level=lambda t: ((t > 0.5) & (t < 2.5)).astype(float))
    for seed in range(6):
        copy = imset.imitate(gated, seed=seed, voice=seed)
        assert 0.8 <= copy.stretch <= 1.2 and 0 <= copy.lead_in <= 0.3
        c = imset.analyse(copy.audio, pitch=False)
        loud = c.times[c.active(20)]
        assert (loud[-1] - loud[0]) / 2.0 == pytest.approx(copy.stretch, abs=0.08)
        assert loud[0] == pytest.approx(copy.lead_in + 0.5 * copy.stretch, abs=0.1)
        assert copy.audio.size == round((copy.lead_in + 4.0 * copy.stretch) * SR)


def test_pitched_originals_are_sung_in_a_singable_range() -> None:
    for note in (36, 48, 60, 72, 84):
        original = tone(hz=librosa.midi_to_hz(note), level=lambda t: (t < 3).astype(float))
        for voice in (0, 1):
            copy = imset.imitate(original, seed=note + voice, voice=voice)
            assert copy.pitched
            f0 = librosa.yin(copy.audio, fmin=50, fmax=1000, sr=SR, frame_length=2048,
                             hop_length=256)
            loud = imset.analyse(copy.audio, pitch=False).active(20)[:f0.size]
            assert 80 <= np.median(f0[loud]) <= 400, (note, voice)


def test_a_low_and_a_high_voice_keep_the_tune() -> None:
    rising = tone(seconds=4.0, hz=220.0, level=lambda t: (t < 3).astype(float))
    t = np.arange(rising.size) / SR
    rising = np.sin(2 * np.pi * np.cumsum(220 * 2 ** (np.clip(t, 0, 3) / 3 * 7 / 12)) / SR)
    rising = (0.5 * rising * (t < 3)).astype(np.float32)  # a fifth up over 3 s
    pitches = []
    for voice in (0, 1):
        c = imset.analyse(imset.imitate(rising, seed=3, voice=voice).audio)
        voiced = np.flatnonzero(np.isfinite(c.f0_hz) & c.active(20))
        semis = 12 * np.log2(c.f0_hz[voiced[-20:]].mean() / c.f0_hz[voiced[:20]].mean())
        assert semis == pytest.approx(7, abs=1.5)
        pitches.append(np.nanmedian(c.f0_hz[voiced]))
    assert pitches[1] > pitches[0]


def test_noise_is_whispered() -> None:
    rng = np.random.default_rng(0)
    burst = np.zeros(int(4 * SR), np.float32)
    burst[:5000] = rng.standard_normal(5000) * np.linspace(0.5, 0, 5000)
    copy = imset.imitate(burst, seed=0)
    assert not copy.pitched
    assert imset.analyse(copy.audio).voiced_fraction() < 0.2


def test_imitations_are_deterministic_and_differ_by_seed() -> None:
    original = tone(level=lambda t: np.exp(-t))
    one, same, other = (imset.imitate(original, seed=s) for s in (5, 5, 6))
    np.testing.assert_array_equal(one.audio, same.audio)
    assert one.audio.shape != other.audio.shape or not np.array_equal(one.audio, other.audio)
    for copy in (one, other):
        peak = np.abs(copy.audio).max()
        assert 0.65 < peak < 0.72  # about -3 dBFS, never clipped
        lead = copy.audio[: int(copy.lead_in * SR * 0.9)]
        if lead.size:  # the lead-in is a -70 dBFS room, not silence and not sound
            assert 1e-5 < np.sqrt(np.mean(lead ** 2)) < 1e-3


def test_the_rules_tell_the_shapes_apart() -> None:
    held = lambda t: (t < 3).astype(float)  # noqa: E731 - the synth holds a note 3 s
    cases = {
        "pluck": tone(level=lambda t: np.exp(-t / 0.05)),
        "swell": tone(level=lambda t: np.clip(t / 2.5, 0.01, 1) ** 2 * held(t)),
        "sweep_up": tone(brightness=lambda t: 300 * 2 ** (4 * np.clip(t / 3, 0, 1)), level=held),
        "sweep_down": tone(brightness=lambda t: 4800 * 2 ** (-4 * np.clip(t / 3, 0, 1)),
                           level=held),
        "wobble": tone(brightness=lambda t: 1500 * 2 ** np.sin(2 * np.pi * 4 * t), level=held),
        "steady": tone(level=held),
    }
    for kind, audio in cases.items():
        shape = imset.classify(audio)
        assert shape is not None and shape.kind == kind, (kind, shape)
    assert imset.classify(cases["wobble"]).rate_hz == pytest.approx(4, abs=0.3)


def test_sox_recipes_depend_on_the_seed_only() -> None:
    recipes = imset.sox_recipes(seed=3, per_kind=2)
    assert recipes == imset.sox_recipes(seed=3, per_kind=2) != imset.sox_recipes(4, 2)
    assert [r.kind for r in recipes] == [k for k in imset.KINDS for _ in range(2)]
    if HAVE_SOX:
        audio = imset.render_sox(recipes[0])
        assert audio.shape == (int(imset.SECONDS * SR),) and audio.dtype == np.float32
        np.testing.assert_array_equal(audio, imset.render_sox(recipes[0]))
