"""Pieces of the GUI layer that need no window: lanes, the PySide6 guard, presets, drops."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QObject, QThreadPool, Signal
from test_gui_support import H2P_DIR, make_tiny_model

from flowsynth_gui.explorer.neighbourhood import blend_presets
from flowsynth_gui.gui.drops import classify
from flowsynth_gui.gui.qt_fixes import emit_steals_true, shield_singletons
from flowsynth_gui.gui.state import ParamInfo
from flowsynth_gui.gui.workers import Lane
from flowsynth_gui.latent.sliders import suggest_tags
from flowsynth_gui.presets.files import export_fspreset, read_preset_file
from flowsynth_gui.synth.params import spec_by_name


def test_a_lane_runs_in_order_and_the_latest_keyed_request_wins(qapp) -> None:  # noqa: ANN001
    pool = QThreadPool()
    errors: list[str] = []
    lane = Lane(pool, "test", lambda task, err: errors.append(f"{task}: {err}"))
    gate = threading.Event()
    done: list[str] = []
    lane.submit("block", gate.wait)  # holds the lane while the others queue up
    for i in range(10):
        lane.submit("move", lambda i=i: done.append(f"move {i}"), key="cursor")
    lane.submit("undo", lambda: done.append("undo"))
    lane.submit("move", lambda: done.append("move after"), key="cursor")
    lane.submit("fail", lambda: 1 / 0)
    lane.submit("last", lambda: done.append("last"))
    gate.set()
    assert lane.wait_idle(5)
    assert done == ["move 9", "undo", "move after", "last"]  # 9 moves coalesced, undo kept
    assert lane.coalesced == 9
    assert errors == ["fail: division by zero"]  # reported, and the lane went on
    pool.waitForDone()


def test_the_emit_guard_keeps_true_alive(qapp) -> None:  # noqa: ANN001
    class Emitter(QObject):
        emitted = Signal(object)

    shield_singletons()
    emitter = Emitter()
    before = sys.getrefcount(True)
    for i in range(20000):  # would abort an unguarded Python 3.11 on PySide6 6.12.0
        emitter.emitted.emit(i)
    assert sys.getrefcount(True) > 0
    if emit_steals_true():
        assert before - sys.getrefcount(True) >= 19900  # one per emit (give or take)


def test_param_info_formats_native_units() -> None:
    spec = spec_by_name("VCF1: Frequency")
    info = ParamInfo(spec.name, spec.section, spec.min, spec.max, spec.unit,
                     spec.default_normalised)
    assert info.format(0.5) == "note 90.0 · 1.48 kHz"  # Diva's note scale, and in Hz
    assert info.format(0.25) == "note 60.0 · 262 Hz"
    assert ParamInfo("x", "s", 0, 250, "ms", 0).format(1.0) == "250 ms"


def test_suggested_tags_follow_the_sliders() -> None:
    pairs = [("Dark", "Bright"), ("Constant", "Moving"), ("Clean", "Dirty")]
    assert suggest_tags(pairs, [1.2, -0.2, -0.9]) == ["Bright", "Clean"]


def test_blend_keeps_the_model_values_and_crossfades_the_rest() -> None:
    names = ("VCF1: Frequency",)
    a = {"VCF1: Frequency": 0.1, "Delay1: Wet": 0.0}
    b = {"VCF1: Frequency": 0.9, "Delay1: Wet": 1.0}
    blended = blend_presets(a, b, np.array([0.42]), names, 0.25)
    assert blended == {"VCF1: Frequency": 0.42, "Delay1: Wet": 0.25}


def test_preset_files_round_trip(tmp_path: Path) -> None:
    path = export_fspreset(tmp_path / "Pad", "Pad", {"VCF1: Frequency": 0.3}, tags=["Soft"],
                           latent=[0.0, 1.0])
    assert path.suffix == ".fspreset"
    preset = read_preset_file(path)
    assert preset.parameters == {"VCF1: Frequency": 0.3} and preset.tags == ["Soft"]
    assert read_preset_file(H2P_DIR / "diva_saved_keys.h2p").name == "diva_saved_keys"


def test_drops_are_sorted_by_kind(tmp_path: Path) -> None:
    assert classify(str(tmp_path)) == "folder"
    assert classify(str(tmp_path / "a.H2P")) == "preset"
    assert classify(str(tmp_path / "a.fspreset")) == "preset"
    assert classify(str(tmp_path / "a.wav")) == "sound"
    assert classify(str(tmp_path / "notes.txt")) == "sound"  # the matcher says why not


@pytest.mark.usefixtures("one_torch_thread")
def test_sketches_are_deterministic_named_and_audible(tmp_path: Path) -> None:
    from flowsynth_gui.explorer import LatentCodec
    from flowsynth_gui.explorer.sketches import sketch_presets
    from flowsynth_gui.models import load_checkpoint

    codec = LatentCodec(load_checkpoint(make_tiny_model(tmp_path / "m.pt")))
    started = time.perf_counter()
    first = sketch_presets(codec, 6, seed=3, workers=2)
    again = sketch_presets(codec, 6, seed=3, workers=2)
    assert time.perf_counter() - started < 30
    assert [p.parameters for p in first] == [p.parameters for p in again]
    assert all(p.name.startswith("Sketch ") for p in first)
    assert all(set(p.parameters) == set(codec.names) for p in first)
    # each keeps the latent it was made from, which the model maps back to it exactly
    made = codec.to_params(np.array([p.latent for p in first]))
    np.testing.assert_allclose(made, [list(p.parameters.values()) for p in first], atol=1e-9)
    stop = threading.Event()
    stop.set()
    assert sketch_presets(codec, 6, should_stop=stop) == []


def test_the_message_bar_paints_the_colour_of_its_level(qtbot) -> None:  # noqa: ANN001
    from PySide6.QtGui import QColor

    from flowsynth_gui.gui.panels.message_bar import _COLOURS, MessageBar

    bar = MessageBar()
    qtbot.addWidget(bar)
    bar.resize(400, 40)
    for level in ("error", "warning", "info"):
        bar.show_message(level, f"an {level}")
        corner = bar.grab().toImage().pixelColor(2, 2)
        assert corner == QColor(_COLOURS[level][0]), (level, corner.name())


def test_long_names_and_statuses_do_not_widen_the_window(qtbot) -> None:  # noqa: ANN001
    from PySide6.QtWidgets import QVBoxLayout, QWidget

    from flowsynth_gui.gui.panels.status_bar import StatusBar
    from flowsynth_gui.gui.widgets import ElidedLabel

    holder = QWidget()
    qtbot.addWidget(holder)
    layout = QVBoxLayout(holder)
    title, status = ElidedLabel("Parameters"), StatusBar()
    layout.addWidget(title)
    layout.addWidget(status)
    before = holder.minimumSizeHint().width()
    long = "A → B " * 60
    title.setText(long)
    for key in StatusBar.KEYS:
        status.show_status(key, long)
    assert holder.minimumSizeHint().width() <= before + 10
    assert title.text() == long and title.toolTip() == long  # the whole text is kept


def test_a_long_sound_name_does_not_widen_the_sound_panel(qtbot) -> None:  # noqa: ANN001
    from flowsynth_gui.gui.panels.sound_panel import SoundPanel
    from flowsynth_gui.gui.state import Rendered

    panel = SoundPanel()
    qtbot.addWidget(panel)
    # before any sound: the plots already span the 4 s every sound has (no redraw later)
    assert panel.target.wave.getViewBox().viewRange()[0] == [0.0, 4.0]
    before = panel.minimumSizeHint().width()
    audio = np.zeros(22050, dtype=np.float32)
    long = "Sketch 031 ~3 → Sketch 042 step 4 of 8 straight " * 3
    panel.show_preview(Rendered(audio, 22050, np.zeros((128, 22)), long))
    panel.show_target(Rendered(audio, 22050, np.zeros((128, 22)), long))
    assert panel.minimumSizeHint().width() <= before + 10


def test_the_window_module_imports_nothing_heavy() -> None:
    """Start-up shows the window before the heavy libraries load (on workers): importing the
    window must not pull in scipy, numba, torch or the audio and MIDI back-ends (scipy alone
    took the usable window from 1.2 s to 2.8 s once)."""
    import subprocess

    code = ("import sys, flowsynth_gui.gui.main_window; print(sorted({m.split('.')[0] for m in "
            "sys.modules} & {'scipy', 'numba', 'torch', 'sounddevice', 'mido', 'rtmidi'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_an_unticked_check_box_is_visible_in_the_dark_theme(qtbot) -> None:  # noqa: ANN001
    from PySide6.QtWidgets import QApplication, QCheckBox

    from flowsynth_gui.gui.theme import apply_theme

    app = QApplication.instance()
    palette, style, sheet = app.palette(), app.style().name(), app.styleSheet()
    apply_theme(app, "dark")
    try:
        box = QCheckBox("Favourites only")
        qtbot.addWidget(box)
        box.resize(box.sizeHint())
        image = box.grab().toImage()
        # the indicator's outline must stand out from the window behind it
        lightness = [image.pixelColor(x, y).lightness() for x in range(16)
                     for y in range(image.height())]
        assert max(lightness) - min(lightness) > 80
    finally:  # the other tests see the application as it was
        app.setStyle(style)
        app.setPalette(palette)
        app.setStyleSheet(sheet)
