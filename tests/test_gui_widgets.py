"""The window driven by real mouse and keyboard events (offscreen, tiny model).

Assertions go through the session's signals and state, never pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QToolTip
from test_gui_support import (
    click_point,
    drag,
    map_drag_points,
    send_mouse,
    settle,
    wait_until,
)

from flowsynth_gui.features.audio_io import write_wav
from flowsynth_gui.gui.main_window import MainWindow
from flowsynth_gui.gui.panels.map_panel import HOVER_HINT
from flowsynth_gui.synth.render import render


def test_dragging_the_map_cursor_changes_the_parameters(qtbot, window: MainWindow) -> None:
    session = window.session
    before = dict(session.state.values)
    states = []
    session.params_changed.connect(states.append)
    points = map_drag_points(window)
    with qtbot.waitSignal(session.preview_rendered, timeout=20000):
        drag(window.map.plot.viewport(), points, pause=lambda: qtbot.wait(5))
    settle(qtbot, session)
    moving = [s for s in states if s.continuous]
    assert moving, "no parameter update while dragging"
    assert states[-1].continuous is False  # the release records the gesture
    after = session.state.values
    assert any(abs(after[k] - before[k]) > 1e-6 for k in session.model_info.active)
    # the parameter panel shows the new values
    bars = window.params.bars.values
    assert all(abs(bars[k] - after[k]) < 1e-9 for k in session.model_info.active)
    assert session.state.name.endswith("(edited)")
    assert np.allclose(window.map.cursor_position, session.state.position)


def test_a_semantic_slider_moves_the_cursor(qtbot, window: MainWindow) -> None:
    session = window.session
    window.map.axes_chosen.emit("0,1")  # show the slider's own dimension on the map
    wait_until(qtbot, lambda: session.map_snapshot.axes_key == "0,1")
    settle(qtbot, session)
    slider = window.controls.sliders[0]
    before = window.map.cursor_position
    slider.setFocus()
    with qtbot.waitSignal(session.params_changed, timeout=5000,
                          check_params_cb=lambda s: s.label == "Dark ↔ Bright"):
        qtbot.keyClick(slider, Qt.Key.Key_PageUp)
        qtbot.keyClick(slider, Qt.Key.Key_PageUp)
    settle(qtbot, session)
    expected = slider.value() / 100
    assert abs(session.state.semantic[0] - expected) < 1e-9
    assert abs(session.state.z[0] - expected) < 1e-9
    assert abs(window.map.cursor_position[0] - expected) < 1e-9  # the cursor followed
    assert window.map.cursor_position != before
    # the view follows a cursor that a control takes out of it
    (x0, x1), _ = window.map.view_box.viewRange()
    window.map.view_box.translateBy(x=(x1 - x0) * 3)  # the user panned far away
    qtbot.keyClick(slider, Qt.Key.Key_End)
    settle(qtbot, session)
    (x0, x1), (y0, y1) = window.map.view_box.viewRange()
    x, y = window.map.cursor_position
    assert x0 <= x <= x1 and y0 <= y <= y1


def test_one_slider_step_and_back_returns_an_imported_preset(qtbot, window: MainWindow) -> None:
    session = window.session
    session.import_h2p_folder(str(Path(__file__).parent / "data" / "h2p"))
    wait_until(qtbot, lambda: "diva_saved_bass" in session.map_snapshot.names)
    settle(qtbot, session)
    session.go_to_point(session.map_snapshot.names.index("diva_saved_bass"), "diva_saved_bass")
    settle(qtbot, session)
    loaded = dict(session.state.values)
    assert abs(session.state.z[0] * 100 - round(session.state.z[0] * 100)) > 1e-6  # off-grid
    slider = window.controls.sliders[0]
    slider.setFocus()
    qtbot.keyClick(slider, Qt.Key.Key_Right)
    settle(qtbot, session)
    assert dict(session.state.values) != loaded
    qtbot.keyClick(slider, Qt.Key.Key_Left)
    settle(qtbot, session)
    back = session.state.values
    assert max(abs(back[k] - v) for k, v in loaded.items()) < 1e-12


def test_a_macro_knob_and_a_parameter_bar_change_the_sound(qtbot, window: MainWindow) -> None:
    session = window.session
    knob = window.controls.knobs[0]
    knob.setFocus()
    with qtbot.waitSignal(session.params_changed, timeout=5000,
                          check_params_cb=lambda s: s.label == "Macro 1"):
        qtbot.keyClick(knob, Qt.Key.Key_PageUp)
    settle(qtbot, session)
    dim = session.macros[0].dim
    assert abs(session.state.z[dim] - knob.value() / 100) < 1e-9
    # drag the first explored parameter's bar to three quarters
    bars = window.params.bars
    name = next(row.name for row in bars.rows if hasattr(row, "name"))
    rect = bars.row_rect(name)
    y = rect.center().y()
    points = [QPointF(rect.left() + rect.width() * f, y) for f in (0.2, 0.5, 0.75)]
    drag(bars, points, pause=lambda: qtbot.wait(5))
    settle(qtbot, session)
    assert abs(session.state.values[name] - 0.75) < 0.01
    assert session.state.label == name
    # hovering a bar says what the knob does and reads its value (Diva's knobs have no unit)
    bars.set_values(session.state.values)
    tip = bars.tooltip_at(rect.center().y())
    info = next(row for row in bars.rows if getattr(row, "name", None) == name)
    assert name in tip and info.format(session.state.values[name]) in tip
    assert info.meaning and info.meaning.split()[0] in tip
    point = rect.center().toPoint()
    QApplication.sendEvent(bars, QHelpEvent(QEvent.Type.ToolTip, point, bars.mapToGlobal(point)))
    assert name in QToolTip.text()


def test_hovering_shows_a_preset_and_clicking_loads_it(qtbot, window: MainWindow) -> None:
    session = window.session
    snapshot = session.map_snapshot
    index = isolated_point(window)
    pos = window.map.scene_position_of(*snapshot.coords[index])
    viewport = window.map.plot.viewport()
    send_mouse(viewport, QEvent.Type.MouseMove, pos, Qt.MouseButton.NoButton,
               Qt.MouseButton.NoButton)
    wait_until(qtbot, lambda: snapshot.names[index] in window.map.hover_label.text(), 5)
    # the mouse leaving the plot from a point clears the label (no move event comes)
    QApplication.sendEvent(viewport, QEvent(QEvent.Type.Leave))
    assert window.map.hover_label.text() == HOVER_HINT and window.map.plot.toolTip() == ""
    with qtbot.waitSignal(session.preset_loaded, timeout=5000) as loaded:
        click_point(viewport, pos)
    assert loaded.args == [snapshot.names[index]]
    settle(qtbot, session)
    assert session.state.name == snapshot.names[index]
    # off every point, the label goes back to its hint
    plot = window.map.plot
    empty = next(p for p in (QPointF(x, y) for x in range(5, 400, 15) for y in range(5, 300, 15))
                 if window.map.nearest_point(plot.mapToScene(p.toPoint())) < 0)
    send_mouse(viewport, QEvent.Type.MouseMove, empty, Qt.MouseButton.NoButton,
               Qt.MouseButton.NoButton)
    wait_until(qtbot, lambda: window.map.hover_label.text() == HOVER_HINT, 5)


def test_a_hand_on_the_ring_does_not_pick_a_point_beside_it(qtbot, window: MainWindow) -> None:
    session = window.session
    snapshot = session.map_snapshot
    index = isolated_point(window)
    panel = window.map
    # The cursor 6 px beside a point (inside the 10 px pick radius), then a press and release
    # on the ring: a drag too short to start.
    beside = panel.scene_position_of(*snapshot.coords[index]) + QPointF(6.0, 0.0)
    target = panel.view_box.mapSceneToView(panel.plot.mapToScene(beside.toPoint()))
    session.move_cursor(target.x(), target.y())
    session.finish_gesture()
    settle(qtbot, session)
    name = session.state.name
    ring = panel.scene_position_of(*panel.cursor_position)
    assert (ring - panel.scene_position_of(*snapshot.coords[index])).manhattanLength() < 9
    click_point(panel.plot.viewport(), ring)
    settle(qtbot, session)
    assert session.state.name == name  # nothing loaded


def isolated_point(win: MainWindow) -> int:
    """The map point farthest (on screen) from its nearest neighbour, inside the view."""
    snapshot = win.session.map_snapshot
    screen = np.array([[p.x(), p.y()] for p in
                       (win.map.scene_position_of(x, y) for x, y in snapshot.coords)])
    size = win.map.plot.viewport().size()
    inside = ((screen[:, 0] > 10) & (screen[:, 0] < size.width() - 10)
              & (screen[:, 1] > 10) & (screen[:, 1] < size.height() - 10))
    gaps = np.sqrt(np.square(screen[:, None] - screen[None]).sum(axis=2))
    np.fill_diagonal(gaps, np.inf)
    nearest = np.where(inside, gaps.min(axis=1), -1)
    return int(np.argmax(nearest))


def test_interpolation_ends_are_the_presets(qtbot, window: MainWindow) -> None:
    session = window.session
    session.import_h2p_folder(str(Path(__file__).parent / "data" / "h2p"))
    wait_until(qtbot, lambda: "diva_saved_bass" in session.map_snapshot.names)
    settle(qtbot, session)
    panel = window.interpolation
    window.tabs.setCurrentWidget(panel)
    # A: the preset loaded from the map, taken with "this one"; B: from the list
    names = session.map_snapshot.names
    session.go_to_point(names.index("diva_saved_bass"), "diva_saved_bass")
    settle(qtbot, session)
    qtbot.mouseClick(panel.take_a, Qt.MouseButton.LeftButton)
    assert panel.a.currentText() == "diva_saved_bass"
    panel.choose("diva_saved_bass", "Sketch 002")
    panel.steps.setValue(5)
    with qtbot.waitSignal(session.interpolation_ready, timeout=5000):
        qtbot.mouseClick(panel.walk, Qt.MouseButton.LeftButton)
    settle(qtbot, session)
    points = {p.name: p for p in session.explorer.map.points}
    a, b = points["diva_saved_bass"].params, points["Sketch 002"].params
    assert session.state.name == "diva_saved_bass"
    assert all(session.state.values[k] == v for k, v in a.items())
    panel.slider.setFocus()
    qtbot.keyClick(panel.slider, Qt.Key.Key_End)
    settle(qtbot, session)
    assert session.state.name == "Sketch 002"
    assert all(session.state.values[k] == v for k, v in b.items())
    qtbot.keyClick(panel.slider, Qt.Key.Key_Home)
    qtbot.keyClick(panel.slider, Qt.Key.Key_Right)
    settle(qtbot, session)
    middle = session.state.values
    # the sound's name counts steps as the panel does (1 of 5 is A)
    assert session.state.name == "diva_saved_bass → Sketch 002 step 2 of 5"
    assert panel.where.text().endswith("step 2 of 5")
    active = session.model_info.active
    assert any(middle[k] != a.get(k) and middle[k] != b.get(k) for k in active)
    qtbot.mouseClick(panel.straight, Qt.MouseButton.LeftButton)  # straight path, same step
    settle(qtbot, session)
    t = 1 / 4
    assert all(abs(session.state.values[k] - ((1 - t) * a[k] + t * b[k])) < 1e-9
               for k in active)
    # stepping the straight path keeps the cursor where the map is: the view is not dragged
    # off to where f^-1 of a blend lies
    for _ in range(2):  # steps 3 and 4 of 5: between the ends
        qtbot.keyClick(panel.slider, Qt.Key.Key_Right)
        settle(qtbot, session)
        (x0, x1), (y0, y1) = window.map.view_box.viewRange()
        x, y = session.state.position
        assert x0 <= x <= x1 and y0 <= y <= y1
        heard = session.explorer.heard_latent(session.state.values)
        assert np.allclose(session.state.z, heard, atol=1e-6)  # placed as the map places it
        bulk = session.map_snapshot.coords
        assert (x1 - x0) < 4 * np.ptp(bulk[:, 0]) and x0 < np.median(bulk[:, 0]) < x1


def test_variations_appear_on_the_map_and_in_the_list(qtbot, window: MainWindow) -> None:
    session = window.session
    panel = window.neighbours
    window.tabs.setCurrentWidget(panel)
    panel.count.setValue(5)
    (x0, x1), _ = window.map.view_box.viewRange()
    window.map.view_box.translateBy(x=(x1 - x0) * 3)  # the user had panned far away
    with qtbot.waitSignal(session.overlays_changed, timeout=5000):
        qtbot.mouseClick(panel.find, Qt.MouseButton.LeftButton)
    wait_until(qtbot, lambda: panel.list.count() == 5, 5)
    assert len(window.map.neighbours.data) == 5
    (x0, x1), (y0, y1) = window.map.view_box.viewRange()  # the view came to them
    data = window.map.neighbours.data
    assert all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in zip(data["x"], data["y"], strict=True))
    item = panel.list.item(2)
    rect = panel.list.visualItemRect(item)
    with qtbot.waitSignal(session.params_changed, timeout=5000):
        qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    settle(qtbot, session)
    assert session.state.name.endswith("~3")
    base = session.state.name[:-len(" ~3")]
    rect = panel.list.visualItemRect(panel.list.item(1))
    with qtbot.waitSignal(session.params_changed, timeout=5000):
        qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    settle(qtbot, session)
    assert session.state.name == f"{base} ~2"  # a variation of the same sound, not "~3 ~2"
    # a new match: the old sound's variations leave the map and the list
    wav = write_wav(Path(session.settings.path).parent / "new.wav",
                    render({"VCF1: Frequency": 0.6}, note=60), 22050)
    with qtbot.waitSignal(session.match_ready, timeout=20000):
        session.match_file(str(wav))
    wait_until(qtbot, lambda: panel.list.count() == 0, 5)
    assert len(window.map.neighbours.data) == 0


def test_undo_and_redo_restore_the_sound(qtbot, window: MainWindow) -> None:
    session = window.session
    before = dict(session.state.values)
    drag(window.map.plot.viewport(), map_drag_points(window), pause=lambda: qtbot.wait(5))
    settle(qtbot, session)
    after = dict(session.state.values)
    assert after != before
    assert window.commands.undo.isEnabled()
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow(), timeout=3000)
    qtbot.keyClick(window.map, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    settle(qtbot, session)
    assert dict(session.state.values) == before
    assert window.commands.redo.isEnabled()
    qtbot.keyClick(window.map, Qt.Key.Key_Z,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    settle(qtbot, session)
    assert dict(session.state.values) == after


def test_the_window_fits_a_1280_pixel_display(qtbot, window: MainWindow) -> None:
    # with a model loaded: the map's choosers, knobs, sliders and parameter bars all filled
    assert window.session.model_info is not None
    assert window.minimumSizeHint().width() <= 1280
    assert window.map.colour_by.width() >= window.map.colour_by.sizeHint().width()
