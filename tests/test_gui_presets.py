"""Presets in the window: export (.h2p, .fspreset), the library and favourites, imports."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QPushButton, QToolBar, QWidget
from test_gui_support import (
    H2P_DIR,
    settle,
    wait_until,
)

from flowsynth_gui.gui.dialogs.export_dialog import ExportDialog, ExportRequest
from flowsynth_gui.gui.main_window import MainWindow
from flowsynth_gui.presets import read_h2p
from flowsynth_gui.presets.library import Preset, PresetLibrary
from flowsynth_gui.synth.params import spec_by_name


def fill_export_dialog(qtbot, folder: Path, kind: str, seen: dict,  # noqa: ANN001
                       name: str | None = None) -> None:
    """Runs inside the modal dialog's event loop: check the prefill, aim, click Save."""
    dialog = QApplication.activeModalWidget()
    assert isinstance(dialog, ExportDialog)
    seen.update(name=dialog.name.text(), tags=dialog.tags.text())
    if name is not None:
        dialog.name.setText(name)
    dialog.folder.setText(str(folder))
    dialog.author.setText("Tester")
    dialog.kind.setCurrentIndex(dialog.kind.findData(kind))
    save = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Save)
    qtbot.mouseClick(save, Qt.MouseButton.LeftButton)


def export_through_toolbar(qtbot, win: MainWindow, folder: Path, kind: str,  # noqa: ANN001
                           name: str | None = None) -> tuple:
    seen: dict = {}
    QTimer.singleShot(200, lambda: fill_export_dialog(qtbot, folder, kind, seen, name))
    with qtbot.waitSignal(win.session.exported, timeout=20000) as exported:
        tool = _tool_button(win, win.commands.export)
        qtbot.mouseClick(tool, Qt.MouseButton.LeftButton)
    return Path(exported.args[0]), seen


def _tool_button(win: MainWindow, action: QAction) -> QWidget:
    return win.findChild(QToolBar).widgetForAction(action)


def test_export_writes_an_h2p_that_read_h2p_accepts(qtbot, window: MainWindow,
                                                    tmp_path: Path) -> None:
    session = window.session
    session.go_to_point(0, session.map_snapshot.names[0])
    wait_until(qtbot, lambda: session.state.name == session.map_snapshot.names[0], 5)
    settle(qtbot, session)
    path, seen = export_through_toolbar(qtbot, window, tmp_path / "out", "h2p")
    assert seen["name"] == session.state.name  # prefilled from the current sound
    assert path.suffix == ".h2p" and path.stem == session.state.name
    preset = read_h2p(path)
    assert preset.metadata["Author"] == "Tester"
    values = preset.parameters()
    for name in session.model_info.active:
        spec = spec_by_name(name)
        step = 1e-3 * max(1.0, abs(spec.max - spec.min))  # h2p keeps a few decimals
        assert abs(values[name] - session.state.values[name]) <= step / (spec.max - spec.min)
    assert session.settings.get("export/author") == "Tester"  # prefilled next time


def test_export_writes_the_apps_own_preset(qtbot, window: MainWindow, tmp_path: Path) -> None:
    session = window.session
    # a name a file cannot hold (interpolation steps had "2/4") still lands in the folder
    path, _ = export_through_toolbar(qtbot, window, tmp_path, "fspreset", name="A → B: 2/4")
    assert path == tmp_path / "A → B- 2-4.fspreset" and path.exists()
    assert session.settings.get("export/folder") == str(tmp_path)
    preset = Preset.from_json(path.read_bytes())
    assert preset.parameters == dict(session.state.values)
    assert preset.latent is not None and len(preset.latent) == session.model_info.latent_dim


def test_export_never_replaces_a_file_and_a_failed_one_changes_nothing(
        qtbot, window: MainWindow, tmp_path: Path) -> None:
    session = window.session
    first, _ = export_through_toolbar(qtbot, window, tmp_path, "h2p", name="Pad")
    original = first.read_bytes()
    with qtbot.waitSignal(session.message_posted, timeout=20000,
                          check_params_cb=lambda level, text: "Exported" in text) as posted:
        second, _ = export_through_toolbar(qtbot, window, tmp_path, "h2p", name="Pad")
    assert first == tmp_path / "Pad.h2p" and second == tmp_path / "Pad 2.h2p"
    assert first.read_bytes() == original and "'Pad.h2p' was already there" in posted.args[1]
    # into a "folder" that is a file: a plain reason, and the remembered folder stays
    wait_until(qtbot, lambda: session.settings.get("export/folder") == str(tmp_path), 5)
    blocker = tmp_path / "not a folder"
    blocker.write_text("x")
    request = ExportRequest("h2p", str(blocker / "Pad"), "Pad", "Tester", [], "")
    with qtbot.waitSignal(session.message_posted, timeout=20000) as failed:
        session.export(request)
    level, text = failed.args
    assert level == "error" and "is a file, not a folder" in text and "Errno" not in text
    assert session.settings.get("export/folder") == str(tmp_path)


def test_library_save_load_and_favourites(qtbot, window: MainWindow) -> None:
    session = window.session
    panel = window.library
    window.tabs.setCurrentWidget(panel)
    saved_values = dict(session.state.values)
    panel.name.clear()
    qtbot.keyClicks(panel.name, "My pad")
    panel.tags.setText("Soft, Dark")
    save = next(b for b in panel.findChildren(QPushButton) if b.text() == "Save current sound")
    with qtbot.waitSignal(session.library_changed, timeout=10000):
        qtbot.mouseClick(save, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: panel.list.count() == 1, 5)
    library = PresetLibrary(session.library_folder())
    assert library.list() == ["My pad"] and library.load("My pad").tags == ["Soft", "Dark"]
    assert "My pad" in session.map_snapshot.names  # placed on the map
    # a favourite, by ticking its box
    item = panel.list.item(0)
    rect = panel.list.visualItemRect(item)
    with qtbot.waitSignal(session.library_changed, timeout=5000):
        qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton,
                         pos=QPoint(rect.left() + 10, rect.center().y()))
    assert library.is_favourite("My pad")
    # move away, then load it back by double-click
    session.go_to_point(0)
    settle(qtbot, session)
    middle = panel.list.visualItemRect(panel.list.item(0)).center()
    with qtbot.waitSignal(session.preset_loaded, timeout=5000):
        qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=middle)
        qtbot.mouseDClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=middle)
    settle(qtbot, session)
    assert session.state.name == "My pad"
    assert all(abs(session.state.values[k] - v) < 1e-12 for k, v in saved_values.items())
    # the cursor goes where the map places the preset: where the model hears it
    heard = session.explorer.heard_latent(saved_values)
    assert np.allclose(session.state.z, heard, atol=1e-9)


def test_importing_a_folder_with_a_corrupt_h2p(qtbot, window: MainWindow,
                                               tmp_path: Path) -> None:
    session = window.session
    with qtbot.waitSignal(session.message_posted, timeout=10000) as posted:
        session.import_h2p_folder(str(tmp_path))  # nothing to import: said, not "0 imported"
    assert posted.args[0] == "warning" and "No .h2p presets in" in posted.args[1]
    folder = tmp_path / "diva"
    shutil.copytree(H2P_DIR, folder)
    (folder / "broken.h2p").write_bytes(b"\x00\x01 not a preset at all")
    before = dict(session.state.values)
    with qtbot.waitSignal(session.message_posted, timeout=10000) as posted:
        session.import_h2p_folder(str(folder))
    level, text = posted.args
    assert level == "warning" and "broken.h2p" in text and "Imported 4 presets" in text
    settle(qtbot, session)
    names = session.map_snapshot.names
    assert {"diva_saved_arp", "diva_saved_bass", "diva_saved_keys"} <= set(names)
    assert dict(session.state.values) == before  # the current sound is untouched
    # the view fits the imported presets wherever they landed
    wait_until(qtbot, lambda: window.map.snapshot is session.map_snapshot, 5)
    (x0, x1), (y0, y1) = window.map.view_box.viewRange()
    imported = [i for i, source in enumerate(session.map_snapshot.sources)
                if source.startswith("h2p:")]
    for x, y in session.map_snapshot.coords[imported]:
        assert x0 <= x <= x1 and y0 <= y <= y1
    # they stand out (bigger, outlined) and the legend, readable, says what they are
    window.map.set_colour_by(-1)
    drawn = window.map.points.data
    sketches = [i for i, s in enumerate(session.map_snapshot.sources) if s == "sketch"]
    assert min(drawn["size"][imported]) > max(drawn["size"][sketches])
    assert {drawn["pen"][i].widthF() for i in imported} != {drawn["pen"][i].widthF()
                                                          for i in sketches}
    legend = window.map.legend
    assert legend.isVisible() and legend.width() > 300 and legend.height() > 10
    assert "imported Diva preset" in legend.text() and "library" in legend.text()
    assert str(folder) in session.settings.get("library/h2p_folders")  # placed again next time
    # opening a corrupt preset file says so and keeps the sound
    with qtbot.waitSignal(session.message_posted, timeout=10000) as posted:
        session.open_preset_file(str(folder / "broken.h2p"))
    assert posted.args[0] == "warning" and "broken.h2p" in posted.args[1]
    settle(qtbot, session)
    assert dict(session.state.values) == before


def test_a_quiet_diva_preset_is_shown_scaled_and_played_at_the_common_level(
        qtbot, window: MainWindow) -> None:
    from flowsynth_gui.audio.loudness import PEAK_CEILING_DBFS, PREVIEW_RMS_DBFS, level_dbfs

    session = window.session
    session.import_h2p_folder(str(H2P_DIR))
    wait_until(qtbot, lambda: "diva_saved_bass" in session.map_snapshot.names)
    settle(qtbot, session)
    with qtbot.waitSignal(session.preview_rendered, timeout=10000) as shown:
        session.go_to_point(session.map_snapshot.names.index("diva_saved_bass"),
                            "diva_saved_bass")
    sound = shown.args[0]
    peak, _ = level_dbfs(sound.audio)
    assert peak < -12  # the premise: imported presets are much quieter than the model's
    # the level is read out, and the waveform is drawn to the sound's own peak
    assert f"peak {peak:.1f} dBFS".replace("-", "−") in window.sound.current_title.text()
    low, high = window.sound.current.wave.getViewBox().viewRange()[1]
    assert high < 2 * 10 ** (peak / 20) and low < 0 < high
    # heard at the common loudness (switch on, the default), as it is with the switch off
    played_peak, played_rms = level_dbfs(session.playback_audio(sound))
    assert played_rms > level_dbfs(sound.audio)[1] + 6
    assert abs(played_rms - PREVIEW_RMS_DBFS) < 0.1 or abs(played_peak - PEAK_CEILING_DBFS) < 0.1
    session.settings.set("audio/normalise_preview", False)
    assert session.playback_audio(sound) is sound.audio
