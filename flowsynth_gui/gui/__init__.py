"""The desktop app (PySide6 + pyqtgraph): the only layer of FlowSynth that imports Qt.

- :mod:`.session` — :class:`~flowsynth_gui.gui.session.Session`, the controller that owns the
  explorer, the model, the preset library, audio (:mod:`.audio_control`) and MIDI
  (:mod:`.midi_control`); panels send it intent, it works on worker threads (:mod:`.workers`)
  and answers with past-tense signals carrying the plain data of :mod:`.state`.
- :mod:`.panels` — one widget per file; each emits intent and shows what the session reports.
- :mod:`.dialogs` — settings and export dialogs.
- :mod:`.main_window` — assembles panels and wires signals.
- :mod:`.settings` — one ``DEFAULTS`` dict in front of QSettings; :mod:`.theme` — palettes.

Heavy modules (torch, numba, scipy) are imported on worker threads only, so the window shows
before the model has loaded and the GUI thread never waits for an import.
"""
