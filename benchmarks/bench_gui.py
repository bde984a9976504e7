"""The app's responsiveness on the shipped model, offscreen: prints the figures.

1. **Drag → parameters and MIDI out.** A map drag of real mouse events at 60 Hz; for every
   position the session computed, the time from the mouse event to the parameter panel holding
   the new values, to the values being queued for MIDI out, and to the first CC leaving
   for a recording MIDI port (MidiOut's rate limits included). Positions the "latest request
   wins" rule skipped are counted, not timed. Target: 95th percentile ≤ 16 ms.
2. **GUI thread stalls.** A 2 ms QTimer heartbeat on the GUI thread; a stall is the longest gap
   between two beats minus the interval, during the drag, a match of a dropped WAV and a
   refinement. Target: never more than 50 ms.
3. **Start-up.** ``main.py`` in a fresh process (temporary home, no audio, no MIDI): time from
   launch to a usable window (shown, event loop running), to the model being loaded and to the
   first sound shown. Target: a usable window ≤ 3 s.

Run: ``QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_gui.py`` on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QEvent, QEventLoop, QPointF, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flowsynth_gui.gui.main_window import MainWindow  # noqa: E402
from flowsynth_gui.gui.qt_fixes import shield_singletons  # noqa: E402
from flowsynth_gui.gui.session import DEFAULT_MODEL, Session, SessionOptions  # noqa: E402
from flowsynth_gui.gui.settings import Settings  # noqa: E402

DRAG_HZ = 60
HEARTBEAT_MS = 2


class RecordingPort:
    """A MIDI output that notes when each message leaves."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._lock = threading.Lock()

    def send(self, message: object) -> None:
        with self._lock:
            self.times.append(time.perf_counter())

    def close(self) -> None:
        pass


class OnePort:
    """A MIDI system with one output, 'Bench'."""

    def __init__(self, port: RecordingPort) -> None:
        self.port = port

    def output_names(self) -> list[str]:
        return ["Bench"]

    def input_names(self) -> list[str]:
        return []

    def open_output(self, name: str) -> RecordingPort:
        return self.port

    open_virtual_output = open_output

    def close(self) -> None:
        pass


class Heartbeat:
    """Beats on the GUI thread; the longest gap tells how long the thread was blocked."""

    def __init__(self) -> None:
        self.beats: list[float] = []
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(HEARTBEAT_MS)
        self.timer.timeout.connect(lambda: self.beats.append(time.perf_counter()))

    def start(self) -> None:
        self.beats = [time.perf_counter()]
        self.timer.start()

    def stop(self) -> np.ndarray:
        self.timer.stop()
        self.beats.append(time.perf_counter())
        return np.maximum(0.0, np.diff(self.beats) * 1000 - HEARTBEAT_MS)


def spin(app: QApplication, seconds: float, until: object = None) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if until is not None and until():
            return True
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
    return until is None or bool(until())


def percentile(values: list[float] | np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else float("nan")


def open_bench_window(app: QApplication, root: Path, sketches: int) -> tuple:
    port = RecordingPort()
    settings = Settings.from_file(root / "settings.ini")
    settings.set("midi/out_port", "Bench")
    settings.set("audio/auto_preview", False)
    session = Session(settings, SessionOptions(
        model_path=str(DEFAULT_MODEL), audio=False, midi=True, midi_system=OnePort(port),
        library_folder=str(root / "library"), cache_folder=str(root / "cache"),
        sketches=sketches))
    window = MainWindow(session)
    window.resize(1600, 1000)
    window.show()
    session.start()
    ok = spin(app, 180, lambda: session.map_snapshot is not None and bool(session._macros)
              and session.midi.out_status.startswith("MIDI out: Bench"))
    if not ok:
        raise SystemExit("the window did not get ready in 3 minutes")
    spin(app, 1.0)
    return window, session, port


def drag_latency(app: QApplication, window: MainWindow, port: RecordingPort,
                 moves: int) -> dict[str, object]:
    session = window.session
    viewport = window.map.plot.viewport()
    start = window.map.scene_position_of(*window.map.cursor_position)
    sent: dict[tuple[float, float], float] = {}
    shown: list[float] = []
    queued: list[float] = []
    published: list[tuple[float, float]] = []  # (event time, publish time)
    original_show = window.params.show_state
    original_send = session.midi.send_params

    recording = [True]  # off before the release: it re-sends the last position

    def show(state: object) -> None:
        original_show(state)
        t = sent.get(_key(state.position)) if recording[0] else None
        if t is not None and state.continuous:
            shown.append(time.perf_counter() - t)

    def send(values: object, settled: bool = False) -> None:
        original_send(values, settled)
        state = session.state
        t = sent.get(_key(state.position)) if state is not None and recording[0] else None
        if t is not None and state.continuous:
            now = time.perf_counter()
            queued.append(now - t)
            published.append((t, now))

    window.params.show_state = show
    session.params_changed.disconnect(original_show)
    session.params_changed.connect(show)
    session.midi.send_params = send
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    _mouse(viewport, QEvent.Type.MouseButtonPress, start, left, left)
    heartbeat = Heartbeat()
    heartbeat.start()
    path = [start + QPointF(140 * np.sin(i / 25), 90 * np.sin(i / 17)) for i in range(moves)]
    period = 1.0 / DRAG_HZ
    next_time = time.perf_counter()
    for point in path:
        while time.perf_counter() < next_time:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 1)
        view = window.map.view_box.mapSceneToView(window.map.plot.mapToScene(point.toPoint()))
        sent[_key((view.x(), view.y()))] = time.perf_counter()
        _mouse(viewport, QEvent.Type.MouseMove, point, none, left)
        next_time += period
    spin(app, 0.5)
    recording[0] = False
    _mouse(viewport, QEvent.Type.MouseButtonRelease, path[-1], left, none)
    spin(app, 0.5)
    stalls = heartbeat.stop()
    wire = _first_after(port.times, published)
    # Moves never shown: skipped by the session (latest wins) or by pyqtgraph, which lets
    # through at most 100 mouse moves a second (two moves less than 10 ms apart: one).
    return {"moves": moves, "shown": shown, "queued": queued, "wire": wire, "stalls": stalls,
            "skipped": moves - len(shown)}


def _key(position: tuple[float, float]) -> tuple[float, float]:
    # The cursor's map position survives the trip through the latent (off-plane kept): round.
    return round(float(position[0]), 6), round(float(position[1]), 6)


def _first_after(times: list[float], published: list[tuple[float, float]]) -> list[float]:
    """For each published move, the first MIDI message sent after it, from the mouse event."""
    times = sorted(times)
    out = []
    for event, at in published:
        i = int(np.searchsorted(times, at))
        if i < len(times):
            out.append(times[i] - event)
    return out


def _mouse(widget: object, kind: QEvent.Type, pos: QPointF, button: Qt.MouseButton,
           buttons: Qt.MouseButton) -> None:
    global_pos = QPointF(widget.mapToGlobal(pos.toPoint()))
    QApplication.sendEvent(widget, QMouseEvent(kind, pos, global_pos, button, buttons,
                                               Qt.KeyboardModifier.NoModifier))


def stalls_while(app: QApplication, action: object, until: object, timeout: float) -> np.ndarray:
    heartbeat = Heartbeat()
    heartbeat.start()
    action()
    if not spin(app, timeout, until):
        print("  (did not finish in time)")
    spin(app, 0.2)
    return heartbeat.stop()


def matching_and_refinement(app: QApplication, session: Session, root: Path,
                            budget: float) -> tuple[np.ndarray, np.ndarray, float]:
    from flowsynth_gui.features.audio_io import write_wav
    from flowsynth_gui.synth.render import render

    wav = write_wav(root / "target.wav", render({"VCF1: Frequency": 0.55}, note=55), 22050)
    reports: list[object] = []
    session.match_ready.connect(reports.append)
    # The match: its first answer, then its live search to the end of its budget.
    match = stalls_while(app, lambda: session.match_file(str(wav)),
                         lambda: any(getattr(r, "refined", False) for r in reports), 60)
    started, before = time.perf_counter(), len(reports)
    refine = stalls_while(app, lambda: session.refine(budget),
                          lambda: any(getattr(r, "refined", False) for r in reports[before:]),
                          300)
    return match, refine, time.perf_counter() - started


def startup(runs: int) -> list[dict[str, float]]:
    results = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as home:
            env = {**os.environ, "HOME": home, "QT_QPA_PLATFORM": "offscreen",
                   "XDG_CONFIG_HOME": f"{home}/config", "XDG_CACHE_HOME": f"{home}/cache",
                   "XDG_DATA_HOME": f"{home}/data", "FLOWSYNTH_CONFIG_DIR": f"{home}/fs"}
            launched = time.time()
            done = subprocess.run(
                [sys.executable, str(ROOT / "main.py"), "--settings", f"{home}/s.ini",
                 "--no-audio", "--no-midi", "--report-startup", "--quit-when-ready",
                 "--quit-after-ms", "120000"], env=env, capture_output=True, text=True,
                timeout=200)
            stamps = {}
            for line in done.stdout.splitlines():
                parts = line.split()
                if len(parts) == 3 and parts[0] == "startup":
                    stamps.setdefault(parts[1], float(parts[2]) - launched)
            results.append(stamps)
    return results


def _ms(values: list[float] | np.ndarray) -> str:
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return "no samples"
    scale = 1000.0 if values.max() < 10 else 1.0
    v = values * scale
    return (f"median {np.median(v):.1f} ms, p95 {percentile(v, 95):.1f} ms, "
            f"max {v.max():.1f} ms (n={v.size})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--moves", type=int, default=300)
    parser.add_argument("--budget", type=float, default=2.0,
                        help="seconds of 'Search longer' after the match")
    parser.add_argument("--sketches", type=int, default=160)
    parser.add_argument("--startup-runs", type=int, default=3)
    args = parser.parse_args()
    shield_singletons()
    app = QApplication.instance() or QApplication([])
    print(f"FlowSynth GUI benchmark on {DEFAULT_MODEL.name}, {os.cpu_count()} cores, offscreen")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        window, session, port = open_bench_window(app, root, args.sketches)
        drag = drag_latency(app, window, port, args.moves)
        match, refine, refine_s = matching_and_refinement(app, session, root, args.budget)
        window.close()
    print(f"\n1. Drag at {DRAG_HZ} Hz, {drag['moves']} mouse moves "
          f"({drag['skipped']} not shown: skipped by latest-wins or pyqtgraph's 100 Hz limit):")
    print(f"   mouse event → parameter panel updated: {_ms(drag['shown'])}")
    print(f"   mouse event → values queued for MIDI out: {_ms(drag['queued'])}")
    print(f"   mouse event → first CC sent to the port (rate-limited): {_ms(drag['wire'])}")
    print("\n2. GUI thread stalls (heartbeat gap beyond its interval):")
    for name, stalls in (("drag", drag["stalls"]), ("matching a WAV", match),
                         (f"search longer ({args.budget:g} s asked, {refine_s:.1f} s)", refine)):
        print(f"   {name}: max {stalls.max():.1f} ms, p99 {percentile(stalls, 99):.1f} ms")
    print("\n3. Start-up (fresh process, --no-audio --no-midi):")
    runs = startup(args.startup_runs)
    for key, label in (("window_usable", "usable window"), ("model_ready", "model loaded"),
                       ("sound_ready", "first sound shown")):
        values = [r[key] for r in runs if key in r]
        if values:
            print(f"   launch → {label}: median {np.median(values):.2f} s "
                  f"(runs: {', '.join(f'{v:.2f}' for v in values)})")


if __name__ == "__main__":
    main()
