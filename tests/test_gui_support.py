"""Shared set-up of the GUI tests: a tiny model, a session in a temporary world, real events.

Imported by the ``test_gui_*`` modules (it holds no tests of its own); its fixtures
(``tiny_model``, ``window``) live in ``conftest.py``. Every session here keeps
its settings in a temporary INI file, its library and caches in temporary folders: a test never
touches the user's settings or presets.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QWidget

from flowsynth_gui.explorer import MacroSettings
from flowsynth_gui.features.mel import FeatureNormaliser
from flowsynth_gui.gui.main_window import MainWindow
from flowsynth_gui.gui.session import Session, SessionOptions
from flowsynth_gui.gui.settings import Settings
from flowsynth_gui.models import CheckpointMetadata, build_model, save_checkpoint
from flowsynth_gui.synth import param_set
from flowsynth_gui.training.config import load_train_config

H2P_DIR = Path(__file__).parent / "data" / "h2p"
FAST_MACROS = MacroSettings(span=2.0, steps=2, anchors=1, seed=0)
SKETCHES = 12


def make_tiny_model(path: Path, n_params: int = 16) -> Path:
    """An untrained tiny Flow_dis checkpoint (seconds to build; its sounds are arbitrary)."""
    config = load_train_config("tiny").model_config("flow_dis", n_params)
    model = build_model(config).eval()
    metadata = CheckpointMetadata(param_set(n_params), FeatureNormaliser(-4.0, 2.0))
    return save_checkpoint(path, model, metadata)[0]


def make_options(root: Path, model: Path, **changes: object) -> SessionOptions:
    options = SessionOptions(model_path=str(model), audio=False, midi=False,
                             library_folder=str(root / "library"),
                             cache_folder=str(root / "cache"), sketches=SKETCHES,
                             macro_settings=FAST_MACROS, render_workers=2)
    for key, value in changes.items():
        setattr(options, key, value)
    return options


def wait_until(qtbot, condition: Callable[[], bool], timeout: float = 30.0) -> None:  # noqa: ANN001
    qtbot.waitUntil(condition, timeout=int(timeout * 1000))


def ready(session: Session) -> bool:
    """The model is loaded, the map holds the sketches and the knobs are ranked."""
    snapshot = session.map_snapshot
    return (session.state is not None and snapshot is not None
            and sum(s == "sketch" for s in snapshot.sources) > 0 and bool(session.macros))


def open_window(qtbot, settings: Settings, options: SessionOptions,  # noqa: ANN001
                size: tuple[int, int] | None = (1400, 900)) -> MainWindow:
    session = Session(settings, options)
    window = MainWindow(session)
    qtbot.addWidget(window)
    if size is not None:
        window.resize(*size)
    window.show()
    session.start()
    wait_until(qtbot, lambda: ready(session))
    wait_until(qtbot, lambda: session.wait_idle(0.01) and session.state is not None)
    return window


def settle(qtbot, session: Session, timeout: float = 20.0) -> None:  # noqa: ANN001
    """Let the workers finish and their signals arrive."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        qtbot.wait(20)
        if session.wait_idle(0.0):
            qtbot.wait(20)
            if session.wait_idle(0.0):
                return
    raise AssertionError("the session did not become idle")


# --- real mouse events ------------------------------------------------------------------------


def send_mouse(widget: QWidget, kind: QEvent.Type, pos: QPointF,
               button: Qt.MouseButton = Qt.MouseButton.LeftButton,
               buttons: Qt.MouseButton = Qt.MouseButton.LeftButton,
               modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """One mouse event, delivered as the window system would (with the held buttons)."""
    global_pos = QPointF(widget.mapToGlobal(pos.toPoint()))
    event = QMouseEvent(kind, pos, global_pos, button, buttons, modifiers)
    QApplication.sendEvent(widget, event)


def drag(widget: QWidget, points: list[QPointF], pause: Callable[[], None] | None = None,
         modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """Press at the first point, move through the others, release at the last."""
    left = Qt.MouseButton.LeftButton
    none = Qt.MouseButton.NoButton
    send_mouse(widget, QEvent.Type.MouseButtonPress, points[0], modifiers=modifiers)
    for point in points[1:]:
        send_mouse(widget, QEvent.Type.MouseMove, point, none, left, modifiers)
        if pause is not None:
            pause()
    send_mouse(widget, QEvent.Type.MouseButtonRelease, points[-1], left, none, modifiers)


def map_drag_points(window: MainWindow, dx: float = 60.0, steps: int = 8) -> list[QPointF]:
    """Screen points (map viewport) from the cursor to ``dx`` pixels right and up."""
    panel = window.map
    start = panel.scene_position_of(*panel.cursor_position)
    return [start + QPointF(dx * i / steps, -dx * 0.6 * i / steps) for i in range(steps + 1)]


def click_point(widget: QWidget, pos: QPointF) -> None:
    send_mouse(widget, QEvent.Type.MouseButtonPress, pos)
    send_mouse(widget, QEvent.Type.MouseButtonRelease, pos, Qt.MouseButton.LeftButton,
               Qt.MouseButton.NoButton)


def to_point(p: QPointF) -> QPoint:
    return p.toPoint()
