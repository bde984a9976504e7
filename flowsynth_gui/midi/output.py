"""``MidiOut``: parameter changes and preview notes to an external synth, rate-limited.

A fast drag must never flood a MIDI port (a DIN cable carries about 1,000 CC messages a second),
yet the value the user lets go at must always arrive. So callers never send: they write the
latest value per parameter into a coalescing store (:class:`~flowsynth_gui.midi.throttle.
Throttle`, bounded by the CC map's size) and a sender thread drains it within the
:class:`RateLimits`. Only values whose quantised CC data changed are sent.

Three kinds of thread touch a ``MidiOut``:

* callers (GUI, session): ``send_params``, ``note_on``... only update the store and notify;
* the sender thread: takes due messages and sends them;
* the watcher thread: polls the port list every ``poll_interval_s`` and (re)opens the port
  when it (re)appears. It is apart from the sender because opening a port is slow (50-100 ms on
  JACK, which registers a client) and listing may be too on some backends: messages must not
  wait for either.

Lock order: ``_port_lock`` (held while sending or swapping the port) before ``_lock`` (the
store); never the other way round.

>>> class Printer:
...     def send(self, msg): print(msg.type, msg.control, msg.value)
...     def close(self): pass
>>> out = MidiOut(system=StaticPorts({"Synth": Printer()}), port="Synth")
>>> out.wait_for_state("connected", timeout=5)
True
>>> out.send_params({"VCF1: Resonance": 1.0})
1
>>> out.flush(timeout=5)
control_change 71 127
True
>>> out.close()
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol

import mido

from flowsynth_gui.midi.cc_map import CCMap, check_params, load_cc_map
from flowsynth_gui.midi.ports import (
    MidiPortError,
    MidiSystem,
    NoMidiSystemError,
    OutputPort,
    resolve_port_name,
)
from flowsynth_gui.midi.throttle import RateLimits, Throttle

__all__ = [
    "DISCONNECTED",
    "MidiOut",
    "OutputSystem",
    "RateLimits",
    "STATE_CONNECTED",
    "STATE_NO_PORT",
    "StaticPorts",
]

STATE_CONNECTED = "connected"
STATE_NO_PORT = "no port"
DISCONNECTED = "disconnected: "

log = logging.getLogger(__name__)


class OutputSystem(Protocol):
    """Where ``MidiOut`` finds ports: a :class:`MidiSystem`, or a test double."""

    def output_names(self) -> list[str]: ...

    def open_output(self, name: str) -> OutputPort: ...

    def open_virtual_output(self, name: str) -> OutputPort: ...


class StaticPorts:
    """A fixed set of ready output ports by name (for tests, docs and offline use)."""

    def __init__(self, ports: Mapping[str, OutputPort]) -> None:
        self.ports = dict(ports)

    def output_names(self) -> list[str]:
        return list(self.ports)

    def open_output(self, name: str) -> OutputPort:
        if name not in self.ports:
            raise MidiPortError(f"MIDI output {name!r} is not available; "
                                f"available: {', '.join(map(repr, self.ports)) or 'none'}")
        return self.ports[name]

    def open_virtual_output(self, name: str) -> OutputPort:
        return self.open_output(name)


def _check_channel(channel: int) -> int:
    if isinstance(channel, bool) or not isinstance(channel, int) or not 1 <= channel <= 16:
        raise ValueError(f"MIDI channel {channel!r}: channels are 1..16")
    return channel


def _check_note(note: int, velocity: int = 1) -> None:
    if not (isinstance(note, int) and 0 <= note <= 127):
        raise ValueError(f"MIDI note {note!r}: notes are 0..127")
    if not (isinstance(velocity, int) and 0 <= velocity <= 127):
        raise ValueError(f"velocity {velocity!r}: velocities are 0..127")


class MidiOut:
    """Sends synth parameters (via a :class:`CCMap`) and preview notes to one MIDI output.

    ``port``: the output's name (None: no port yet, see :meth:`select_port`); with
    ``virtual=True`` it names a port FlowSynth creates for other programs to connect to.
    ``channel`` defaults to the map's channel (1..16). ``on_state_changed(state)`` runs on a
    worker thread whenever :attr:`state` changes; keep it short (a GUI queues a signal).
    The threads start at once; call :meth:`close` (or use ``with``) to stop them.
    """

    def __init__(self, cc_map: CCMap | None = None, *, system: OutputSystem | None = None,
                 port: str | None = None, virtual: bool = False, channel: int | None = None,
                 limits: RateLimits | None = None, poll_interval_s: float = 1.0,
                 no_system_poll_s: float = 10.0,
                 on_state_changed: Callable[[str], None] | None = None) -> None:
        self._cc_map = cc_map if cc_map is not None else load_cc_map()
        self._own_system: MidiSystem | None = None  # made here, so closed by close()
        if system is None:
            system = self._own_system = MidiSystem()
        self._system: OutputSystem = system
        self._poll_s = float(poll_interval_s)
        # Without a MIDI system every poll fails (and ALSA prints to stderr): poll rarely.
        self._no_system_poll_s = max(float(no_system_poll_s), self._poll_s)
        _check_channel(channel if channel is not None else self._cc_map.channel)

        self._lock = threading.Lock()
        self._work_ready = threading.Condition(self._lock)  # the sender waits on it
        self._idle = threading.Condition(self._lock)  # flush() waits on it
        self._state_changed = threading.Condition(self._lock)
        self._port_lock = threading.Lock()
        self._listener_lock = threading.RLock()  # listeners hear states in order
        self._wake_watcher = threading.Event()

        self._target = port
        self._virtual = virtual
        self._port: OutputPort | None = None
        self._port_key: tuple[str, bool] | None = None  # (resolved name, virtual) when open
        self._connected = False
        self._closing = False
        self._state = STATE_NO_PORT if port is None else f"{DISCONNECTED}connecting to {port!r}"
        self._listeners: list[Callable[[str], None]] = []
        if on_state_changed is not None:
            self._listeners.append(on_state_changed)

        self._throttle = Throttle(self._cc_map, channel if channel is not None
                                  else self._cc_map.channel, limits or RateLimits())
        self._in_flight = 0
        self._counts = {"messages_sent": 0, "send_calls": 0, "notes_dropped": 0,
                        "send_errors": 0}

        self._sender = threading.Thread(target=self._sender_loop, name="midi-out-sender",
                                        daemon=True)
        self._watcher = threading.Thread(target=self._watch_loop, name="midi-out-watcher",
                                         daemon=True)
        self._sender.start()
        self._watcher.start()

    # -- public API (any thread) ----------------------------------------------------------
    @property
    def state(self) -> str:
        """'connected', 'disconnected: <reason>' or 'no port'."""
        with self._lock:
            return self._state

    @property
    def port_name(self) -> str | None:
        """The port asked for (None: none selected)."""
        with self._lock:
            return self._target

    @property
    def cc_map(self) -> CCMap:
        return self._cc_map

    @property
    def channel(self) -> int:
        with self._lock:
            return self._throttle.channel

    @channel.setter
    def channel(self, channel: int) -> None:
        """Switch channel; the receiver on the new channel then gets every current value."""
        _check_channel(channel)
        with self._lock:
            if channel != self._throttle.channel:
                self._throttle.channel = channel
                self._throttle.resend_all()
                self._work_ready.notify()

    @property
    def stats(self) -> dict[str, int]:
        """Counters: messages_sent, send_calls, notes_dropped, send_errors."""
        with self._lock:
            return dict(self._counts)

    def add_state_listener(self, listener: Callable[[str], None]) -> Callable[[], None]:
        """Call ``listener(state)`` on each state change (worker thread); returns an unsubscribe."""
        with self._listener_lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._listener_lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def wait_for_state(self, prefix: str, timeout: float) -> bool:
        """Wait until :attr:`state` starts with ``prefix`` (e.g. 'connected'); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not self._state.startswith(prefix):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._state_changed.wait(remaining)
            return True

    def select_port(self, port: str | None, virtual: bool = False) -> None:
        """Send to another port (None: none); the watcher thread switches over."""
        with self._lock:
            self._target, self._virtual = port, virtual
        self._wake_watcher.set()

    def set_cc_map(self, cc_map: CCMap) -> None:
        """Use another map from now on; every current value is sent again through it."""
        with self._lock:
            self._cc_map = self._throttle.cc_map = cc_map
            self._throttle.resend_all()
            self._work_ready.notify()

    def send_params(self, values: Mapping[str, float]) -> int:
        """Queue normalised parameter values; returns how many mapped values changed.

        Unmapped parameters are remembered (a later map may carry them) but not sent. Raises
        :class:`~flowsynth_gui.synth.params.ParameterError` for unknown names or values outside
        [0, 1]. Never blocks on the port; after :meth:`close` it does nothing.
        """
        checked = check_params(values)
        with self._lock:
            if self._closing:
                return 0
            self._counts["send_calls"] += 1
            changed = self._throttle.put(checked)
            if changed:
                self._work_ready.notify()
            return changed

    def resend_all(self) -> None:
        """Send every current value again (e.g. after the user reloaded the external synth)."""
        with self._lock:
            self._throttle.resend_all()
            self._work_ready.notify()

    def note_on(self, note: int, velocity: int = 100) -> None:
        """Preview a note; the pending parameter values go out first, so it plays the patch
        the user sees. Dropped (and counted) while disconnected: a late note would surprise."""
        _check_note(note, velocity)
        self._queue_note("on" if velocity > 0 else "off", note, velocity)

    def note_off(self, note: int) -> None:
        _check_note(note)
        self._queue_note("off", note, 0)

    def panic(self) -> None:
        """Note-off for every note we started, then All Notes Off and All Sound Off."""
        self._queue_note("panic", 0, 0)

    def flush(self, timeout: float = 2.0) -> bool:
        """Send everything queued now (ignoring the per-parameter interval, not the budget)
        and wait until it has gone out. False on timeout or while not connected."""
        deadline = time.monotonic() + timeout
        with self._lock:
            self._throttle.expedite = True
            self._work_ready.notify()
            while self._throttle.busy or self._in_flight:
                remaining = deadline - time.monotonic()
                if not self._connected or remaining <= 0:
                    return False
                self._idle.wait(remaining)
            return self._connected

    def close(self) -> None:
        """Stop both threads (joined) and close the port. Queued values are not sent."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            self._work_ready.notify_all()
            self._idle.notify_all()
        self._wake_watcher.set()
        self._sender.join()
        self._watcher.join()
        self._drop_port(None)
        if self._own_system is not None:
            self._own_system.close()

    def __enter__(self) -> MidiOut:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers ---------------------------------------------------------------------------
    def _queue_note(self, kind: str, note: int, velocity: int) -> None:
        with self._lock:
            if self._closing or not self._connected:
                self._counts["notes_dropped"] += kind != "panic"
                return
            self._throttle.queue_note(kind, note, velocity)
            self._work_ready.notify()

    # -- sender thread ------------------------------------------------------------------------
    def _sender_loop(self) -> None:
        while True:
            with self._lock:
                while True:
                    if self._closing:
                        return
                    messages, wait = ([], None) if not self._connected \
                        else self._throttle.take(time.monotonic())
                    if messages:
                        self._in_flight += 1
                        break
                    self._idle.notify_all()
                    self._work_ready.wait(wait)
            self._send_batch(messages)
            with self._lock:
                self._in_flight -= 1
                self._idle.notify_all()

    def _send_batch(self, messages: list[mido.Message]) -> None:
        failure: str | None = None
        with self._port_lock:
            port, key = self._port, self._port_key
            if port is None or key is None:
                return  # disconnected meanwhile; a reconnect sends every value again
            sent = 0
            try:
                for message in messages:
                    port.send(message)
                    sent += 1
            except Exception as err:  # backends raise their own types; all mean "port gone"
                failure = f"{DISCONNECTED}sending to MIDI output {key[0]!r} failed: {err}"
            with self._lock:
                self._counts["messages_sent"] += sent
                self._counts["send_errors"] += failure is not None
        if failure is not None:
            self._drop_port(failure)
            self._wake_watcher.set()

    # -- watcher thread -----------------------------------------------------------------------
    def _watch_loop(self) -> None:
        while True:
            self._wake_watcher.clear()
            with self._lock:
                if self._closing:
                    return
            delay = self._check_port()
            self._wake_watcher.wait(delay)

    def _check_port(self) -> float:
        """Bring the port in line with the target; returns the delay until the next poll."""
        with self._lock:
            target, virtual = self._target, self._virtual
        if target is None:
            self._drop_port(STATE_NO_PORT)
            return self._poll_s
        if virtual:
            if self._port_key != (target, True):
                self._drop_port(None)
                self._open(target, True)
            return self._poll_s
        try:
            names = self._system.output_names()
        except NoMidiSystemError as err:
            self._drop_port(f"{DISCONNECTED}{err}")
            return self._no_system_poll_s
        except MidiPortError as err:
            self._drop_port(f"{DISCONNECTED}{err}")
            return self._poll_s
        resolved = resolve_port_name(target, names)
        if resolved is not None and self._port_key == (resolved, False):
            return self._poll_s  # still there
        if resolved is None:
            available = ", ".join(map(repr, names)) or "none"
            self._drop_port(f"{DISCONNECTED}MIDI output {target!r} is not available; "
                            f"available: {available}")
            return self._poll_s
        self._drop_port(None)
        self._open(resolved, False)
        return self._poll_s

    def _open(self, name: str, virtual: bool) -> None:
        try:
            if virtual:
                port = self._system.open_virtual_output(name)
            else:
                port = self._system.open_output(name)
        except MidiPortError as err:
            self._set_state(f"{DISCONNECTED}{err}")
            return
        with self._port_lock:
            self._port, self._port_key = port, (name, virtual)
            with self._lock:
                self._connected = True
                # A (re)connected receiver knows nothing of us: every current value goes out.
                self._throttle.resend_all()
                self._work_ready.notify()
        self._set_state(STATE_CONNECTED)

    def _drop_port(self, new_state: str | None) -> None:
        """Close the port (if open) and, unless None, switch to ``new_state``."""
        with self._port_lock:
            port, self._port, self._port_key = self._port, None, None
            with self._lock:
                self._connected = False
                self._throttle.disconnected()  # the receiver may be another one next time
                self._idle.notify_all()
        if port is not None:
            try:
                port.close()
            except Exception as err:  # a vanished port may fail to close; it is gone anyway
                log.debug("closing MIDI output failed: %s", err)
        if new_state is not None:
            self._set_state(new_state)

    def _set_state(self, state: str) -> None:
        with self._listener_lock:
            with self._lock:
                if state == self._state:
                    return
                self._state = state
                self._state_changed.notify_all()
            for listener in list(self._listeners):
                try:
                    listener(state)
                except Exception:  # a broken listener must not stop the watcher
                    log.exception("MIDI output state listener failed")
