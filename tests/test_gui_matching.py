"""Matching in the window: a dropped WAV, refinement with progress and Cancel, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication
from test_gui_support import (
    make_options,
    open_window,
    settle,
    wait_until,
)

from flowsynth_gui.audio import NoSignalError
from flowsynth_gui.features.audio_io import write_wav
from flowsynth_gui.gui.main_window import MainWindow
from flowsynth_gui.gui.settings import Settings
from flowsynth_gui.synth.render import render


def drop_file(win: MainWindow, path: Path) -> None:
    """Drag a file over the win and drop it, as a file manager would."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    where = win.rect().center()
    action = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(QPointF(where), action, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(win, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(where), action, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(win, drop)


def test_dropping_a_wav_lists_candidates_then_improves_them(
        qtbot, tmp_path: Path, tiny_model: Path, index_16: Path) -> None:
    win = open_window(qtbot, Settings.from_file(tmp_path / "settings.ini"),
                      make_options(tmp_path, tiny_model, index_path=str(index_16)))
    session, panel = win.session, win.matching
    win.matching.budget.setValue(1.0)
    wav = write_wav(tmp_path / "imitation.wav", render({"VCF1: Frequency": 0.7}, note=57),
                    22050)
    reports = []
    session.match_ready.connect(reports.append)
    session.match_improved.connect(reports.append)
    with qtbot.waitSignal(session.match_ready, timeout=20000) as matched:
        drop_file(win, wav)
    first = matched.args[0]
    assert first.source == "imitation" and first.searching and not first.refined
    sources = {c.source for c in first.candidates}
    assert {"sound index", "model's answer"} <= sources  # each row says where it came from
    assert panel.cancel.isEnabled()  # the search goes on, and can be stopped
    assert win.tabs.currentWidget() is win.matching
    assert first.candidates[0].source in panel.candidates.item(0).text()
    wait_until(qtbot, lambda: reports and reports[-1].refined, 30)
    final = reports[-1]
    assert final.candidates[0].distance <= first.candidates[0].distance  # never worse
    assert [c.source for c in final.candidates].count("model's answer") == 1  # stays listed
    assert panel.candidates.count() == len(final.candidates)
    assert not panel.cancel.isEnabled()
    settle(qtbot, session)
    assert session.state.name == "Match: imitation"
    assert len(win.map.match.data) == 1  # the match is on the map
    assert win.sound.target.shown is not None  # the target's waveform and spectrogram
    # the best of the search became the current sound
    best = session.explorer.last_match.best
    np.testing.assert_allclose([session.state.values[n] for n in session.explorer.names],
                               best.params)

    # search longer, see progress, cancel: what was found so far is listed
    panel.budget.setValue(30.0)
    progress = []
    session.refine_progressed.connect(lambda *args: progress.append(args))
    qtbot.mouseClick(panel.refine, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: len(progress) >= 1, 30)
    assert panel.cancel.isEnabled() and panel.progress.value() > 0
    with qtbot.waitSignal(session.match_ready, timeout=30000,
                          check_params_cb=lambda r: r.refined) as refined:
        qtbot.mouseClick(panel.cancel, Qt.MouseButton.LeftButton)
    report = refined.args[0]
    assert report.cancelled
    assert report.candidates[0].distance <= final.candidates[0].distance
    assert "best" in panel.progress.format()
    item = panel.candidates.item(1)
    with qtbot.waitSignal(session.params_changed, timeout=5000):
        qtbot.mouseClick(panel.candidates.viewport(), Qt.MouseButton.LeftButton,
                         pos=panel.candidates.visualItemRect(item).center())
    settle(qtbot, session)
    assert session.state.name.endswith("#2")
    win.close()


def test_a_non_audio_file_dropped_gets_a_message_and_keeps_the_sound(
        qtbot, window: MainWindow, tmp_path: Path) -> None:
    session = window.session
    before = dict(session.state.values)
    text = tmp_path / "notes.wav"
    text.write_text("this is not a sound")
    with qtbot.waitSignal(session.message_posted, timeout=10000) as posted:
        drop_file(window, text)
    level, message = posted.args
    assert level == "warning" and "cannot be read as audio" in message
    assert window.messages.isVisible() and window.messages.last == (level, message)
    settle(qtbot, session)
    assert dict(session.state.values) == before
    silent = write_wav(tmp_path / "silence.wav", np.zeros(22050, np.float32), 22050)
    with qtbot.waitSignal(session.message_posted, timeout=10000) as posted:
        drop_file(window, silent)
    assert "silent" in posted.args[1].lower() or "no signal" in posted.args[1].lower()
    assert dict(session.state.values) == before
    # a file that matches afterwards closes the warning: it no longer stands in the bar
    assert window.messages.isVisible()
    wav = write_wav(tmp_path / "good.wav", render({}, note=60), 22050)
    with qtbot.waitSignal(session.match_ready, timeout=20000):
        drop_file(window, wav)
    wait_until(qtbot, lambda: not window.messages.isVisible(), 5)


class SilentRecorder:
    """A recorder whose take holds nothing (as with a muted microphone)."""

    available, unavailable_reason, armed = True, None, False

    def arm(self) -> None:
        self.armed = True

    def record(self) -> None:
        self.armed = True

    def stop(self, sample_rate: int = 22050) -> np.ndarray:
        self.armed = False
        raise NoSignalError("no signal: the recording peaks at -120.0 dBFS, below -50 dBFS; "
                            "check the input device, the cable and the input gain")

    def disarm(self) -> None:
        self.armed = False

    def close(self) -> None:
        pass


def test_a_recording_without_signal_gets_a_message(qtbot, tmp_path: Path,
                                                   tiny_model: Path) -> None:
    options = make_options(tmp_path, tiny_model, audio=True)
    settings = Settings.from_file(tmp_path / "s.ini")
    settings.set("audio/output_device", "FlowSynth test: no such device")
    settings.set("audio/input_device", "FlowSynth test: no such device")
    win = open_window(qtbot, settings, options)
    session = win.session
    session.audio.recorder = SilentRecorder()
    before = dict(session.state.values)
    panel = win.matching
    qtbot.mouseClick(panel.record, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: panel.record.isChecked(), 5)
    with qtbot.waitSignal(session.message_posted, timeout=10000,
                          check_params_cb=lambda level, text: "no signal" in text) as posted:
        qtbot.mouseClick(panel.record, Qt.MouseButton.LeftButton, pos=QPoint(5, 5))
    assert posted.args[0] == "warning"
    assert not panel.record.isChecked()
    settle(qtbot, session)
    assert dict(session.state.values) == before
    win.close()
