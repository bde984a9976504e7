"""`flowsynth render`: every preset file the app reads, at the note a match was made at."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from flowsynth_gui.cli import main
from flowsynth_gui.features.audio_io import load_audio
from flowsynth_gui.presets.h2p import read_h2p
from flowsynth_gui.presets.library import Preset
from flowsynth_gui.synth import render

H2P = Path(__file__).parent / "data" / "h2p" / "diva_saved_bass.h2p"


def _rendered(path: Path) -> np.ndarray:
    loaded = load_audio(path, duration=None)
    assert loaded.sample_rate == 22050 and not loaded.notes  # no resampling, no padding
    return loaded.samples


def test_renders_a_diva_preset(tmp_path: Path) -> None:
    out = tmp_path / "bass.wav"
    assert main(["render", "--preset", str(H2P), "--duration", "1", "--out", str(out)]) == 0
    expected = render(read_h2p(H2P).parameters(), note=60, duration=1.0)
    np.testing.assert_allclose(_rendered(out), expected, atol=1e-4)  # 16-bit WAV


def test_a_matched_preset_plays_at_its_note_unless_told(tmp_path: Path) -> None:
    values = {"VCF1: Frequency": 0.4, "OSC: Volume1": 0.8}
    data = Preset("m", values).to_dict() | {"note": 48, "spectral_convergence": 0.3}
    preset = tmp_path / "m.json"
    preset.write_text(json.dumps(data))
    assert main(["render", "--preset", str(preset), "--duration", "1",
                 "--out", str(tmp_path / "a.wav")]) == 0
    np.testing.assert_allclose(_rendered(tmp_path / "a.wav"),
                               render(values, note=48, duration=1.0), atol=1e-4)
    assert main(["render", "--preset", str(preset), "--note", "72", "--duration", "1",
                 "--out", str(tmp_path / "b.wav")]) == 0
    np.testing.assert_allclose(_rendered(tmp_path / "b.wav"),
                               render(values, note=72, duration=1.0), atol=1e-4)


@pytest.mark.parametrize("text, says", [("{not json", "not valid JSON"),
                                        ('{"name": "x"}', "not a FlowSynth preset")])
def test_a_broken_preset_is_refused_and_nothing_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, says: str) -> None:
    preset = tmp_path / "broken.fspreset"
    preset.write_text(text)
    out = tmp_path / "x.wav"
    assert main(["render", "--preset", str(preset), "--out", str(out)]) == 2
    assert says in capsys.readouterr().err and not out.exists()


def test_the_cli_and_the_app_default_to_one_shipped_model() -> None:
    from flowsynth_gui import cli, paths
    from flowsynth_gui.gui import session

    assert cli.DEFAULT_MODEL is session.DEFAULT_MODEL is paths.DEFAULT_MODEL
    assert paths.DEFAULT_MODEL.is_file()
