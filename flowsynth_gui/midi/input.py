"""``MidiIn``: a MIDI controller plays the synth, turns learned controls and moves parameters.

Incoming messages are routed on the backend's MIDI thread (mido's port callback), so routing is
a few dictionary look-ups and a call into a sink; anything slow (writing the learn file) happens
on a saver thread. Routing, in order:

* notes -> ``note_sink.note_on(note, velocity)`` / ``note_off(note)`` (a note-on with velocity 0
  is a note-off); All Notes Off / All Sound Off -> ``note_sink.all_notes_off()`` when it has one;
* learn mode (:meth:`MidiIn.learn`): the next CC binds to the named control and is consumed;
* a learned CC -> ``control_sink(control_name, value in [0, 1])``;
* a CC of the CC map -> ``params_sink({parameter: value in [0, 1]})`` (14-bit pairs decoded).

Learned bindings are kept in a JSON file (see :mod:`flowsynth_gui.midi.learn`).

>>> played = []
>>> class Sink:
...     def note_on(self, note, velocity): played.append(("on", note, velocity))
...     def note_off(self, note): played.append(("off", note))
>>> midi_in = MidiIn(note_sink=Sink(), persist=False)
>>> midi_in.handle(mido.Message("note_on", note=60, velocity=90))
>>> midi_in.handle(mido.Message("note_on", note=60, velocity=0))
>>> played
[('on', 60, 90), ('off', 60)]
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

import mido

from flowsynth_gui.midi.cc_map import CHANNEL_MODE_CCS, CCDecoder, CCMap, load_cc_map
from flowsynth_gui.midi.learn import BindingsSaver, LearnedBinding, load_bindings
from flowsynth_gui.midi.paths import learn_file_path
from flowsynth_gui.midi.ports import InputPort, MidiSystem

__all__ = [
    "ControlSink",
    "InputSystem",
    "MergingParamsSink",
    "MidiIn",
    "NoteSink",
    "ParamsSink",
]

ALL_SOUND_OFF = 120
ALL_NOTES_OFF = 123

log = logging.getLogger(__name__)

ControlSink = Callable[[str, float], None]
ParamsSink = Callable[[dict[str, float]], None]


class NoteSink(Protocol):
    """Where notes go: :class:`~flowsynth_gui.synth.live.PolySynth` fits."""

    def note_on(self, note: int, velocity: int) -> None: ...

    def note_off(self, note: int) -> None: ...


class InputSystem(Protocol):
    """Where ``MidiIn`` opens ports: a :class:`MidiSystem`, or a test double."""

    def open_input(self, name: str, callback: Callable[[mido.Message], None]) -> InputPort: ...

    def open_virtual_input(self, name: str,
                           callback: Callable[[mido.Message], None]) -> InputPort: ...


class MergingParamsSink:
    """Merge partial parameter updates into a full patch and forward the whole patch.

    ``PolySynth.set_params`` treats a missing parameter as "default", so MIDI-in updates of one
    parameter must go through this: ``MidiIn(params_sink=MergingParamsSink(synth.set_params))``.
    """

    def __init__(self, target: Callable[[Mapping[str, float]], None],
                 initial: Mapping[str, float] | None = None) -> None:
        self._target = target
        self._values = dict(initial or {})
        self._lock = threading.Lock()

    def __call__(self, changes: Mapping[str, float]) -> None:
        with self._lock:  # forward under the lock: the target sees updates in order
            self._values.update(changes)
            self._target(dict(self._values))

    @property
    def values(self) -> dict[str, float]:
        with self._lock:
            return dict(self._values)

    def reset(self, values: Mapping[str, float]) -> None:
        """Start from another patch (e.g. when the user loads a preset); not forwarded."""
        with self._lock:
            self._values = dict(values)


class MidiIn:
    """Routes one MIDI input to note, control and parameter sinks; see the module docstring.

    ``channel`` (1..16) listens to one channel; None (default) to all. ``persist=False`` keeps
    learned bindings in memory only; otherwise they live in ``bindings_path`` (default: the
    config folder's ``midi_learn.json``). ``on_learned(binding)`` runs on the MIDI thread when
    learn mode binds a CC. Sinks run on the MIDI thread too: keep them short.
    """

    def __init__(self, *, cc_map: CCMap | None = None, note_sink: NoteSink | None = None,
                 control_sink: ControlSink | None = None, params_sink: ParamsSink | None = None,
                 system: InputSystem | None = None, channel: int | None = None,
                 bindings_path: str | os.PathLike[str] | None = None, persist: bool = True,
                 on_learned: Callable[[LearnedBinding], None] | None = None) -> None:
        if channel is not None and not (isinstance(channel, int) and 1 <= channel <= 16):
            raise ValueError(f"MIDI channel {channel!r}: channels are 1..16 (None: all)")
        self._cc_map = cc_map if cc_map is not None else load_cc_map()
        self._decoder = CCDecoder(self._cc_map)
        self.note_sink = note_sink
        self.control_sink = control_sink
        self.params_sink = params_sink
        self.on_learned = on_learned
        self.channel = channel
        self._system: InputSystem | None = system
        self._own_system: MidiSystem | None = None  # made by open(), closed by close()
        self._lock = threading.Lock()
        self._port: InputPort | None = None
        self.port_name: str | None = None
        self._learning: str | None = None
        self._saver = BindingsSaver(Path(bindings_path) if bindings_path else learn_file_path()) \
            if persist else None
        bindings = load_bindings(self._saver.path) if self._saver else {}
        # Copy-on-write: the MIDI thread reads these without a lock; writers swap whole dicts.
        self._bindings: dict[str, LearnedBinding] = bindings
        self._by_cc = {(b.channel, b.cc): b for b in bindings.values()}
        self.errors = 0
        self.last_error: str | None = None

    # -- ports --------------------------------------------------------------------------------
    def open(self, port: str, virtual: bool = False) -> None:
        """Listen to ``port`` (or create a virtual input of that name); MidiPortError if not."""
        system = self._system
        if system is None:
            system = self._system = self._own_system = MidiSystem()
        self.close_port()
        if virtual:
            opened = system.open_virtual_input(port, self._on_message)
        else:
            opened = system.open_input(port, self._on_message)
        with self._lock:
            self._port, self.port_name = opened, port

    def close_port(self) -> None:
        """Stop listening (the bindings stay)."""
        with self._lock:
            port, self._port, self.port_name = self._port, None, None
        if port is not None:
            port.close()

    def close(self) -> None:
        """Stop listening and write any pending bindings (the saver thread is joined)."""
        self.close_port()
        if self._saver is not None:
            self._saver.close()
        if self._own_system is not None:
            self._own_system.close()

    def __enter__(self) -> MidiIn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def is_open(self) -> bool:
        return self._port is not None

    @property
    def cc_map(self) -> CCMap:
        return self._cc_map

    def set_cc_map(self, cc_map: CCMap) -> None:
        """Map incoming CCs through another map from now on."""
        # The MIDI thread reads only the decoder, which carries its map: one swap suffices.
        self._cc_map, self._decoder = cc_map, CCDecoder(cc_map)

    # -- learning -----------------------------------------------------------------------------
    def learn(self, control: str) -> None:
        """Bind the next incoming CC to ``control`` (a macro or slider name)."""
        if not isinstance(control, str) or not control.strip():
            raise ValueError(f"control name {control!r}: give a non-empty name")
        with self._lock:
            self._learning = control

    def cancel_learn(self) -> None:
        with self._lock:
            self._learning = None

    @property
    def learning(self) -> str | None:
        """The control waiting for a CC, or None."""
        return self._learning

    @property
    def bindings(self) -> dict[str, LearnedBinding]:
        """Learned bindings by control name (a copy)."""
        return dict(self._bindings)

    @property
    def save_error(self) -> str | None:
        """Why the last write of the learn file failed, or None."""
        return self._saver.last_error if self._saver else None

    def bind(self, control: str, channel: int, cc: int) -> LearnedBinding:
        """Bind ``control`` to CC ``cc`` on ``channel`` (replacing both sides' old bindings)."""
        binding = LearnedBinding(control, channel, cc)
        with self._lock:
            self._store_locked(binding)
        return binding

    def unbind(self, control: str) -> None:
        with self._lock:
            if control in self._bindings:
                self._set_bindings_locked({k: b for k, b in self._bindings.items()
                                           if k != control})

    def _store_locked(self, binding: LearnedBinding) -> None:
        key = (binding.channel, binding.cc)
        kept = {name: b for name, b in self._bindings.items()
                if name != binding.control and (b.channel, b.cc) != key}
        kept[binding.control] = binding
        self._set_bindings_locked(kept)

    def _set_bindings_locked(self, bindings: dict[str, LearnedBinding]) -> None:
        self._by_cc = {(b.channel, b.cc): b for b in bindings.values()}
        self._bindings = bindings
        if self._saver is not None:
            self._saver.request(dict(bindings))

    # -- routing (MIDI thread) ----------------------------------------------------------------
    def _on_message(self, message: mido.Message) -> None:
        try:
            self.handle(message)
        except Exception as err:  # never raise into the backend's thread
            self.errors += 1
            self.last_error = f"{message}: {err!r}"
            log.exception("MIDI input: handling %s failed", message)

    def handle(self, message: mido.Message) -> None:
        """Route one message (the port callback; public for tests and other sources)."""
        channel = getattr(message, "channel", None)
        if channel is None or (self.channel is not None and channel + 1 != self.channel):
            return
        kind = message.type
        sink = self.note_sink
        if kind == "note_on" and sink is not None:
            if message.velocity > 0:
                sink.note_on(message.note, message.velocity)
            else:
                sink.note_off(message.note)
        elif kind == "note_off" and sink is not None:
            sink.note_off(message.note)
        elif kind == "control_change":
            self._handle_cc(channel + 1, message.control, message.value)

    def _handle_cc(self, channel: int, cc: int, value: int) -> None:
        if cc in CHANNEL_MODE_CCS:
            if cc in (ALL_NOTES_OFF, ALL_SOUND_OFF):
                all_off = getattr(self.note_sink, "all_notes_off", None)
                if all_off is not None:
                    all_off()
            return
        if self._learning is not None and self._learn(channel, cc):
            return
        learned = self._by_cc.get((channel, cc))
        if learned is not None:
            if self.control_sink is not None:
                self.control_sink(learned.control, value / 127)
            return
        if self.params_sink is not None:
            decoded = self._decoder.feed(channel, cc, value)
            if decoded is not None:
                self.params_sink({decoded[0]: decoded[1]})

    def _learn(self, channel: int, cc: int) -> bool:
        with self._lock:
            control, self._learning = self._learning, None
            if control is None:  # cancelled meanwhile
                return False
            binding = LearnedBinding(control, channel, cc)
            self._store_locked(binding)
        if self.on_learned is not None:
            self.on_learned(binding)
        return True
