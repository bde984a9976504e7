"""The MIDI side of the session: parameters out to an external synth, a keyboard in.

Wraps :class:`~flowsynth_gui.midi.MidiOut` (rate-limited, change-only, reconnecting) and
:class:`~flowsynth_gui.midi.MidiIn` (notes to the live synth; controller knobs bound by MIDI
learn to named controls, reported by ``control_moved``). Ports open on worker threads;
``send_params`` only writes into MidiOut's coalescing store, so a drag never waits for a port.
When the output port disappears (mid-drag or not) MidiOut reports it, this says so in the
window, and the values go out again when the port returns.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal

from flowsynth_gui.gui.imports import require
from flowsynth_gui.gui.workers import ErrorSink, Lane

if TYPE_CHECKING:
    from flowsynth_gui.midi import MidiIn, MidiOut

__all__ = ["MidiControl", "NoteTarget"]

log = logging.getLogger(__name__)

RESYNC_MS = 300  # after a gesture ends, when every value goes out once more


class NoteTarget(Protocol):
    def note_on(self, note: int, velocity: int = 100) -> None: ...

    def note_off(self, note: int) -> None: ...


class MidiControl(QObject):
    """MIDI output (parameters as CCs) and input (notes); see the module doc."""

    out_status_changed = Signal(str)
    in_status_changed = Signal(str)
    ports_listed = Signal(object, object, str)  # outputs, inputs, why empty ('' if fine)
    note_played = Signal(int, int)  # note, velocity (0: off), from the MIDI input
    control_moved = Signal(str, float)  # a learned control's name, value in [0, 1]
    bindings_changed = Signal(object)  # {control name: "CC 21 · ch 1"}
    cc_map_loaded = Signal()  # cc_map and cc_map_source are set
    _resync_wanted = Signal()  # internal: (re)start the resync timer
    problem_reported = Signal(str, str)  # level, message

    def __init__(self, pool: QThreadPool, on_error: ErrorSink, notes: NoteTarget, *,
                 enabled: bool = True, api: str = "", out_port: str = "", channel: int = 1,
                 in_port: str = "", system: Any = None, bindings_folder: str | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.enabled = enabled
        self.api = api
        self.channel = channel
        self.out_port = out_port
        self.in_port = in_port
        self._notes = notes
        self._system = system  # injected (tests) or made on start
        # Where MIDI-learn bindings are kept (midi_learn.json); None: this run only.
        self.bindings_folder = bindings_folder
        self._own_system = system is None
        self.midi_out: MidiOut | None = None
        self.midi_in: MidiIn | None = None
        self._lane = Lane(pool, "midi", on_error, prepare=lambda: require("midi"))
        self._resync = QTimer(self)
        self._resync.setSingleShot(True)
        self._resync.setInterval(RESYNC_MS)
        self._resync.timeout.connect(self._send_everything_again)
        self._resync_wanted.connect(self._resync.start)
        self._last_out_state = ""
        self.cc_map: Any = None  # the CC map MIDI out sends with, once started
        self.cc_map_source = ""
        self.outputs: list[str] = []  # the ports last listed
        self.inputs: list[str] = []
        self.no_system = ""  # why no MIDI system answers ('' while one does)
        off = "off (--no-midi)"
        self.out_status = "MIDI out: starting…" if enabled else f"MIDI out: {off}"
        self.in_status = "MIDI in: no port chosen" if enabled else f"MIDI in: {off}"

    def start(self) -> None:
        self.out_status_changed.emit(self.out_status)
        self.in_status_changed.emit(self.in_status)
        if self.enabled:
            self._lane.submit("starting MIDI", self._start)

    def _start(self) -> None:
        from flowsynth_gui.midi import MidiOut, MidiSystem

        if self._system is None:
            self._system = MidiSystem(api=self.api or None)
        # MidiOut reports changes only; its first state is known without asking (asking
        # could read a state older than the one its watcher thread reports meanwhile).
        self.out_status = (f"MIDI out: connecting to {self.out_port}…" if self.out_port
                           else "MIDI out: no port chosen")
        self.out_status_changed.emit(self.out_status)
        self.midi_out = MidiOut(system=self._system, port=self.out_port or None,
                                channel=self.channel, on_state_changed=self._on_out_state)
        self._report_cc_map()
        self.midi_in = self._make_input()
        self._report_bindings()
        if self.in_port:
            self._open_in(self.in_port)
        self._list_ports()

    def _make_input(self) -> MidiIn:
        from flowsynth_gui.midi import MidiIn
        from flowsynth_gui.midi.learn import LearnFileError
        from flowsynth_gui.midi.paths import learn_file_path

        options = dict(note_sink=self, control_sink=self.control_moved.emit,
                       system=self._system, on_learned=lambda _: self._report_bindings())
        if self.bindings_folder is None:
            return MidiIn(persist=False, **options)
        try:
            return MidiIn(bindings_path=learn_file_path(self.bindings_folder), **options)
        except LearnFileError as err:  # keep MIDI working; the file is left for the user
            self.problem_reported.emit("warning", f"MIDI learn: {err}. Learned knobs start "
                                                  "empty and are not saved this session.")
            return MidiIn(persist=False, **options)

    # -- MIDI in: the note sink (MIDI thread) -------------------------------------------------
    def note_on(self, note: int, velocity: int) -> None:
        self._notes.note_on(note, velocity)
        self.note_played.emit(note, velocity)

    def note_off(self, note: int) -> None:
        self._notes.note_off(note)
        self.note_played.emit(note, 0)

    # -- output --------------------------------------------------------------------------------
    def send_params(self, values: Mapping[str, float], settled: bool = False) -> None:
        """Queue the current values (never blocks; unmapped parameters are not sent).

        ``settled``: a gesture ended or the sound jumped. Shortly after, every value goes out
        once more: MidiOut sends changes only, and a CC lost on the way (a busy JACK graph
        drops events that overflow a period's buffer) would otherwise leave the external
        synth off the sound for good.
        """
        out = self.midi_out
        if out is not None:
            out.send_params(values)
            if settled:  # any thread: the timer starts on the GUI thread
                self._resync_wanted.emit()

    def _send_everything_again(self) -> None:
        out = self.midi_out
        if out is not None:
            out.resend_all()

    def _on_out_state(self, state: str) -> None:
        """MidiOut's listener (its watcher thread, or ours)."""
        previous, self._last_out_state = self._last_out_state, state
        port = self.out_port or None
        if state == "connected":
            text = f"MIDI out: {port} · ch {self.channel}"
        elif state == "no port":
            text = "MIDI out: no MIDI system" if self.no_system else "MIDI out: no port chosen"
        else:
            text = f"MIDI out: {state}"
        self.out_status = text
        self.out_status_changed.emit(text)
        if previous == "connected" and state != "connected":
            why = state.removeprefix("disconnected: ")
            self.problem_reported.emit(
                "warning", f"MIDI output {port!r} went away ({why}). The sound is kept; "
                           "FlowSynth sends it again when the port returns.")

    def select_out(self, port: str) -> None:
        self.out_port = port
        out = self.midi_out
        if out is not None:
            out.select_port(port or None)

    def set_api(self, api: str) -> None:
        """Use another MIDI API ('' : automatic): the ports reopen on it."""
        self.api = api
        if self.enabled and self._own_system:
            self._lane.submit("switching the MIDI API", self._restart)

    def _restart(self) -> None:
        """Close the services and the system, and start again (with a fresh detection)."""
        self._close_services()
        if self._system is not None:
            self._system.close()
        self._system = None
        self._start()

    @property
    def api_in_use(self) -> str:
        """The API the ports use now, e.g. 'UNIX_JACK' ('' before MIDI started)."""
        system = self._system
        return (getattr(system, "api", None) or "") if system is not None else ""

    def set_channel(self, channel: int) -> None:
        self.channel = channel
        out = self.midi_out
        if out is not None:
            out.channel = channel
            self._on_out_state(out.state)

    def _report_cc_map(self) -> None:
        from flowsynth_gui.midi.paths import user_cc_map_path

        user = user_cc_map_path()
        self.cc_map = self.midi_out.cc_map
        self.cc_map_source = (str(user) if user.is_file() else
                              f"the default map; to change it, edit a copy at {user}")
        self.cc_map_loaded.emit()

    # -- MIDI learn ----------------------------------------------------------------------------
    def learn(self, control: str) -> bool:
        """Bind the next CC from the MIDI input to ``control``; False if there is no input."""
        midi_in = self.midi_in
        if midi_in is None or not midi_in.is_open:
            where = ("no MIDI system answers on this computer (the MIDI tab says why)"
                     if self.no_system else "choose your controller in the MIDI tab")
            self.problem_reported.emit("info", f"MIDI learn needs a MIDI input: {where}")
            return False
        midi_in.learn(control)
        return True

    def forget(self, control: str) -> None:
        if self.midi_in is not None:
            self.midi_in.unbind(control)
            self._report_bindings()

    def _report_bindings(self) -> None:
        midi_in = self.midi_in
        bindings = {} if midi_in is None else midi_in.bindings
        self.bindings_changed.emit({name: f"CC {b.cc} · ch {b.channel}"
                                    for name, b in bindings.items()})

    # -- input ---------------------------------------------------------------------------------
    def select_in(self, port: str) -> None:
        self.in_port = port
        if self.enabled:
            self._lane.submit("opening the MIDI input", lambda: self._open_in(port))

    def _open_in(self, port: str) -> None:
        from flowsynth_gui.midi import MidiPortError

        midi_in = self.midi_in
        if midi_in is None:
            return
        if not port:
            midi_in.close_port()
            self._set_in_status("MIDI in: no port chosen")
            return
        try:
            midi_in.open(port)
        except MidiPortError as err:
            self._set_in_status(f"MIDI in: {port} unavailable")
            self.problem_reported.emit("warning", f"MIDI input: {err}")
            return
        self._set_in_status(f"MIDI in: {port}")

    def _set_in_status(self, text: str) -> None:
        self.in_status = text
        self.in_status_changed.emit(text)

    # -- ports -----------------------------------------------------------------------------------
    def refresh_ports(self) -> None:
        if self.enabled:
            self._lane.submit("listing MIDI ports", self._list_ports)
        else:
            self.ports_listed.emit([], [], "MIDI is off (--no-midi)")

    def _list_ports(self) -> None:
        from flowsynth_gui.midi import MidiPortError, NoMidiSystemError

        system = self._system
        try:
            outputs, inputs = system.output_names(), system.input_names()
        except MidiPortError as err:
            self.outputs, self.inputs = [], []
            if isinstance(err, NoMidiSystemError) and self._may_switch_api():
                self._restart()  # automatic, and another API answers now (JACK started)
                return
            if isinstance(err, NoMidiSystemError):  # not "no port chosen": none can be
                self.no_system = str(err)
                self.out_status = "MIDI out: no MIDI system"
                self.out_status_changed.emit(self.out_status)
                self._set_in_status("MIDI in: no MIDI system")
            self.ports_listed.emit([], [], str(err))
            return
        if self.no_system:  # it answers now (after a Refresh)
            self.no_system = ""
            self._on_out_state(self._last_out_state or "no port")
            if self.midi_in is not None and not self.midi_in.is_open:
                self._set_in_status("MIDI in: no port chosen")
        self.outputs, self.inputs = list(outputs), list(inputs)
        self.ports_listed.emit(list(outputs), list(inputs), "")

    def _may_switch_api(self) -> bool:
        from flowsynth_gui.midi.ports import detect_api

        system = self._system
        if not (self._own_system and getattr(system, "automatic", False)):
            return False
        found = detect_api()
        return found is not None and found != system.api

    def _close_services(self) -> None:
        out, self.midi_out = self.midi_out, None
        midi_in, self.midi_in = self.midi_in, None
        for service in (out, midi_in):
            if service is not None:
                try:
                    service.close()
                except Exception:  # closing must not stop the shutdown
                    log.exception("closing a MIDI service failed")

    def shutdown(self, timeout: float = 5.0) -> None:
        self._lane.clear()
        self._lane.wait_idle(timeout)
        self._close_services()
        if self._own_system and self._system is not None:
            self._system.close()
