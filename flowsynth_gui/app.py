"""Entry point of the desktop app (``flowsynth-gui`` / ``python main.py``).

The window appears first; the model, the map and the devices load behind it on worker threads,
and the status bar says what is ready. ``--help`` lists the options.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flowsynth-gui",
        description="FlowSynth: explore a synthesizer by ear (Esling et al.'s normalizing "
                    "flows). Drag on the map, turn the semantic sliders, drop a sound to match.")
    parser.add_argument("--model", metavar="PATH",
                        help="model checkpoint (.pt with its .json sidecar) for this run; "
                             "default: the one chosen in Settings, else the shipped model")
    parser.add_argument("--index", metavar="DIR",
                        help="sound index for matching (`flowsynth index build`); default: "
                             "the shipped one")
    parser.add_argument("--posterior", metavar="FILE.pt",
                        help="parameter posterior trained on that index (`flowsynth train "
                             "--model param_posterior`); default: the shipped one")
    parser.add_argument("--no-audio", action="store_true",
                        help="open no audio device (no sound, no recording)")
    parser.add_argument("--no-midi", action="store_true", help="open no MIDI port")
    parser.add_argument("--settings", metavar="FILE",
                        help="keep settings in this INI file instead of the user's")
    parser.add_argument("--library", metavar="DIR", help="preset library folder for this run")
    parser.add_argument("--cache", metavar="DIR",
                        help="cache folder for this run (macro rankings); default: the user's")
    parser.add_argument("--sketches", metavar="N", type=int,
                        help="sounds sampled from the model to fill the map (default: Settings)")
    parser.add_argument("--quit-after-ms", metavar="MS", type=int,
                        help="close the window after MS milliseconds (smoke tests)")
    parser.add_argument("--quit-when-ready", action="store_true",
                        help="close the window once the model is loaded and the first sound "
                             "shown (smoke tests)")
    parser.add_argument("--screenshot", metavar="PNG",
                        help="once the map and the sound are shown, save the window as PNG "
                             "and quit")
    parser.add_argument("--report-startup", action="store_true",
                        help="print when the window is usable and the model ready (benchmarks)")
    parser.add_argument("--log-level", default="INFO",
                        choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Qt is imported here, after --help: `main.py --help` answers at once.
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from flowsynth_gui.gui.main_window import MainWindow
    from flowsynth_gui.gui.qt_fixes import shield_singletons
    from flowsynth_gui.gui.session import Session, SessionOptions
    from flowsynth_gui.gui.settings import Settings
    from flowsynth_gui.gui.theme import apply_theme

    shield_singletons()  # before any signal is emitted (PySide6 6.12.0, see qt_fixes)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("FlowSynth")
    app.setApplicationName("FlowSynth")
    settings = Settings.from_file(args.settings) if args.settings else Settings.user()
    apply_theme(app, settings.get("ui/theme"))
    session = Session(settings, SessionOptions(
        model_path=args.model, audio=not args.no_audio, midi=not args.no_midi,
        library_folder=args.library, cache_folder=args.cache, sketches=args.sketches,
        index_path=args.index, posterior_path=args.posterior))
    window = MainWindow(session)
    _report_uncaught(session)
    window.show()
    if args.report_startup:
        _report_startup(session)
    QTimer.singleShot(0, session.start)
    if args.quit_after_ms is not None:
        QTimer.singleShot(args.quit_after_ms, window.close)
    if args.quit_when_ready:
        session.preview_rendered.connect(lambda _: QTimer.singleShot(200, window.close))
        session.model_failed.connect(lambda _: QTimer.singleShot(200, window.close))
    if args.screenshot:
        from flowsynth_gui.gui.screenshot import take_when_ready

        take_when_ready(window, args.screenshot)
    code = app.exec()
    return int(code)


def _report_uncaught(session: object) -> None:
    """An exception nobody caught (a slot on the GUI thread, a stray thread) is logged and
    shown in the window instead of only scrolling past on a terminal."""
    import threading

    log = logging.getLogger("flowsynth_gui")

    def report(kind: type[BaseException], error: BaseException, trace: object) -> None:
        log.error("unexpected error", exc_info=(kind, error, trace))
        session.post("error", f"Unexpected error: {error!r} (details in the log)")  # type: ignore[attr-defined]

    sys.excepthook = report
    threading.excepthook = lambda args: report(args.exc_type, args.exc_value,
                                               args.exc_traceback)


def _report_startup(session: object) -> None:
    """Print wall-clock stamps a benchmark compares with its own launch time."""
    from PySide6.QtCore import QTimer

    QTimer.singleShot(0, lambda: print(f"startup window_usable {time.time():.4f}", flush=True))
    session.model_loaded.connect(  # type: ignore[attr-defined]
        lambda _: print(f"startup model_ready {time.time():.4f}", flush=True))
    session.preview_rendered.connect(  # type: ignore[attr-defined]
        lambda _: print(f"startup sound_ready {time.time():.4f}", flush=True))


if __name__ == "__main__":
    sys.exit(main())
