"""Imitation in the window: a hummed file matched by shape, closer / further marks, undo and
clear, the Imitation switch for recordings, and a breath that is no note."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_gui_support import (
    make_options,
    open_window,
    settle,
    wait_until,
)

from flowsynth_gui.features.audio_io import write_wav
from flowsynth_gui.gui.settings import Settings

SR = 22050


def _hum(seconds: float = 1.2, hz: float = 165.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    swell = np.minimum(1.0, t / (0.7 * seconds)) * np.exp(-6 * np.maximum(0, t - 0.7 * seconds))
    return (0.4 * swell * np.sign(np.sin(2 * np.pi * hz * t))).astype(np.float32)


def test_a_hum_is_matched_by_shape_and_feedback_reranks_it(
        qtbot, tmp_path: Path, tiny_model: Path, index_16_with_shapes: Path) -> None:
    win = open_window(qtbot, Settings.from_file(tmp_path / "settings.ini"),
                      make_options(tmp_path, tiny_model, index_path=str(index_16_with_shapes)))
    session, panel = win.session, win.matching
    panel.budget.setValue(0.5)
    reports = []
    session.match_ready.connect(reports.append)
    hum = write_wav(tmp_path / "hum.wav", _hum(), SR)
    session.match_file(str(hum), True)
    wait_until(qtbot, lambda: bool(reports) and reports[-1].refined, 30)
    final = reports[-1]
    assert final.imitation and final.measure == "shape distance"
    assert "shape distance" in panel.result.text()
    assert all(c.source != "model's answer" or c.distance >= 0 for c in final.candidates)
    assert not panel.closer.isEnabled()  # nothing selected to mark yet
    settle(qtbot, session)
    assert session.state.name == "Match: hum"

    panel.candidates.setCurrentRow(2)
    assert panel.closer.isEnabled() and not panel.undo_feedback.isEnabled()
    count = len(reports)
    panel.closer.click()
    wait_until(qtbot, lambda: len(reports) > count and reports[-1].feedback_rounds == 1, 20)
    assert "1 round of your feedback" in panel.result.text()
    assert panel.undo_feedback.isEnabled() and panel.clear_feedback.isEnabled()
    panel.candidates.setCurrentRow(3)
    count = len(reports)
    panel.further.click()
    wait_until(qtbot, lambda: len(reports) > count and reports[-1].feedback_rounds == 2, 20)
    count = len(reports)
    panel.undo_feedback.click()
    wait_until(qtbot, lambda: len(reports) > count and reports[-1].feedback_rounds == 1, 20)
    count = len(reports)
    panel.clear_feedback.click()
    wait_until(qtbot, lambda: len(reports) > count and reports[-1].feedback_rounds == 0, 20)
    assert not panel.undo_feedback.isEnabled()
    # The ranking after clearing is the imitation's own again.
    assert reports[-1].candidates[0].distance == pytest.approx(final.candidates[0].distance,
                                                               abs=1e-9)


def test_recordings_follow_the_imitation_switch_and_a_breath_is_no_note(
        qtbot, tmp_path: Path, tiny_model: Path, index_16_with_shapes: Path) -> None:
    win = open_window(qtbot, Settings.from_file(tmp_path / "settings.ini"),
                      make_options(tmp_path, tiny_model, index_path=str(index_16_with_shapes)))
    session, panel = win.session, win.matching
    assert panel.imitation.isChecked()  # on by default for recordings
    reports = []
    session.match_ready.connect(reports.append)
    breath = (0.2 * np.random.default_rng(1).standard_normal(int(0.15 * SR))).astype(np.float32)
    session.match_audio(breath)  # a 0.15 s "tss" is an imitation, not too short
    wait_until(qtbot, lambda: bool(reports), 20)
    assert reports[-1].imitation and reports[-1].detected_hz is None
    assert "no clear pitch" in " ".join(reports[-1].notes)
    wait_until(qtbot, lambda: reports[-1].refined, 30)
    panel.imitation.setChecked(False)
    assert session.settings.get("match/imitate_recordings") is False
    count = len(reports)
    session.match_audio(_hum(2.0))
    wait_until(qtbot, lambda: len(reports) > count, 20)
    assert not reports[-1].imitation and reports[-1].measure == "spectral distance"
    wait_until(qtbot, lambda: reports[-1].refined, 30)
    count = len(reports)
    session.match_audio(np.zeros(SR, np.float32), imitation=True)  # silence: refused, kept
    wait_until(qtbot, lambda: "Cannot match" in win.messages.text.text(), 20)
    assert len(reports) == count
