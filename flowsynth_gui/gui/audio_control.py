"""The audio side of the session: live player (previews, MIDI notes) and the recorder.

Wraps :class:`~flowsynth_gui.audio.LivePlayer` and :class:`~flowsynth_gui.audio.Recorder` for
the GUI. Devices open on a worker thread (PortAudio and the synth's compiled kernels load
there); without a device, or with ``enabled=False``, everything still answers and the status
says why there is no sound. The audio callback stays inside the audio package: nothing here
runs on it, and it never sees Qt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal

from flowsynth_gui.gui.imports import require
from flowsynth_gui.gui.workers import ErrorSink, Lane

if TYPE_CHECKING:
    from flowsynth_gui.audio import LivePlayer, Recorder

__all__ = ["AudioControl"]

log = logging.getLogger(__name__)

RECORD_RATE = 22050  # what matching analyses
_METER_MS = 50


class AudioControl(QObject):
    """Output and input devices, previews, live notes and recording (see module doc)."""

    status_changed = Signal(str)  # one line for the status bar
    levels_measured = Signal(float, float)  # peak, RMS in dBFS
    recording_changed = Signal(str)  # 'idle', 'armed', 'recording'
    recorded = Signal(object)  # trimmed mono float32 at RECORD_RATE
    problem_reported = Signal(str, str)  # level, message
    devices_listed = Signal(object, object)  # output names, input names (after a rescan)
    _meter_switched = Signal(bool)  # internal: timers belong to the GUI thread

    def __init__(self, pool: QThreadPool, on_error: ErrorSink, *, enabled: bool = True,
                 output_device: str = "", input_device: str = "", blocksize: int = 256,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.enabled = enabled
        self.output_device = output_device
        self.input_device = input_device
        self.blocksize = blocksize
        self.player: LivePlayer | None = None
        self.recorder: Recorder | None = None
        self.output_names: list[str] = []  # device names, listed when the output opens
        self.input_names: list[str] = []
        self.status = "Audio: starting…" if enabled else "Audio: off (--no-audio)"
        self._lane = Lane(pool, "audio", on_error, prepare=lambda: require("audio"))
        self._meter = QTimer(self)
        self._meter.setInterval(_METER_MS)
        self._meter.timeout.connect(self._read_levels)
        self._meter_switched.connect(self._switch_meter)

    # -- devices ---------------------------------------------------------------------------
    def start(self) -> None:
        """Open the output device on a worker (no-op when audio is off)."""
        self.status_changed.emit(self.status)
        if self.enabled:
            self._lane.submit("opening the audio output", self._open_player)

    def reconfigure(self, output_device: str, input_device: str, blocksize: int) -> None:
        """Use other devices or another buffer size; the player is reopened on a worker."""
        self.output_device, self.input_device = output_device, input_device
        self.blocksize = blocksize
        self.recording_changed.emit("idle")  # another input may work: the buttons come back
        if self.enabled:
            self._lane.submit("reopening the audio output", self._reopen)

    @property
    def has_output(self) -> bool:
        return self.player is not None and self.player.available

    def rescan(self, reopen: bool = True) -> None:
        """Ask PortAudio for the devices again (it scans once, at start: a JACK server
        started later is unseen). The output is closed and reopened around the scan; with
        ``reopen`` False (the window coming to the front) only when there is none."""
        if self.enabled and (reopen or not self.has_output):
            self._lane.submit("looking for audio devices", self._rescan)

    def _rescan(self) -> None:
        from flowsynth_gui.audio import refresh_devices

        self._close_devices()  # PortAudio restarts: no stream of ours may be open
        refresh_devices()
        self._open_player()
        self.devices_listed.emit(list(self.output_names), list(self.input_names))

    def _settings(self, device: str) -> Any:
        from flowsynth_gui.audio import AudioSettings

        return AudioSettings(device=device or None, blocksize=int(self.blocksize))

    def _reopen(self) -> None:
        self._close_devices()
        self._open_player()

    def _open_player(self) -> None:
        from flowsynth_gui.audio import AudioSettingsError, AudioUnavailable, LivePlayer

        self._list_devices()
        try:
            player = LivePlayer(self._settings(self.output_device))
        except AudioSettingsError as err:
            self._set_status(f"Audio: none ({err})", problem=True)
            return
        self.player = player
        if not player.available:
            self._set_status(f"Audio: none ({player.unavailable_reason})", problem=True)
            return
        try:
            player.start()
        except AudioUnavailable as err:
            self._set_status(f"Audio: none ({err})", problem=True)
            return
        rate_khz = player.sample_rate / 1000
        self._set_status(f"Audio: {player.device_label} · {rate_khz:g} kHz · "
                         f"{player.blocksize} frames")

    def _list_devices(self) -> None:
        from flowsynth_gui.audio import AudioUnavailable, list_devices

        try:
            self.output_names = [d.name for d in list_devices("output")]
            self.input_names = [d.name for d in list_devices("input")]
        except AudioUnavailable:
            self.output_names, self.input_names = [], []

    def _set_status(self, text: str, problem: bool = False) -> None:
        self.status = text
        self.status_changed.emit(text)
        if problem:
            log.warning("%s", text)
            self.problem_reported.emit(
                "warning", f"{text}. FlowSynth works without sound; choose a device in "
                           "Settings to hear it.")

    @property
    def playing(self) -> bool:
        """Whether sound can be heard now."""
        player = self.player
        return player is not None and player.running

    # -- sound (any thread) ------------------------------------------------------------------
    def set_params(self, values: Mapping[str, float]) -> None:
        player = self.player
        if player is not None:
            player.set_params(values)

    def play(self, audio: np.ndarray, sample_rate: int) -> bool:
        """Play a preview; False when there is no output to play it on."""
        player = self.player
        if player is None or not player.running:
            return False
        player.play_preview(audio, sample_rate)
        return True

    def note_on(self, note: int, velocity: int = 100) -> None:
        player = self.player
        if player is not None:
            player.note_on(note, velocity)

    def note_off(self, note: int) -> None:
        player = self.player
        if player is not None:
            player.note_off(note)

    def all_notes_off(self) -> None:
        player = self.player
        if player is not None:
            player.all_notes_off()

    # -- recording ---------------------------------------------------------------------------
    def arm(self) -> None:
        """Open the input so the level meter moves (worker); nothing is kept yet."""
        if self._refuse_without_audio():
            return
        self._lane.submit("opening the audio input", lambda: self._with_recorder("arm"))

    def record(self) -> None:
        """Start a take (arming first)."""
        if self._refuse_without_audio():
            return
        self._lane.submit("recording", lambda: self._with_recorder("record"))

    def _refuse_without_audio(self) -> bool:
        if self.enabled:
            return False
        self.problem_reported.emit("warning", "Recording needs audio: FlowSynth was started "
                                              "with --no-audio")
        self.recording_changed.emit("idle")  # the buttons must not look armed
        return True

    def stop(self) -> None:
        """End the take: ``recorded`` with the audio, or a 'no signal' message."""
        if self.enabled:
            self._lane.submit("finishing the recording", self._finish)

    def disarm(self) -> None:
        if self.recorder is not None:
            self._lane.submit("closing the audio input", self._disarm)

    def _with_recorder(self, action: str) -> None:
        from flowsynth_gui.audio import AudioUnavailable, Recorder

        if self.recorder is None:
            self.recorder = Recorder(self._settings(self.input_device))
        recorder = self.recorder
        if not recorder.available:
            self.problem_reported.emit("warning", f"No audio input: "
                                                  f"{recorder.unavailable_reason}. Choose an "
                                                  "input device in Settings.")
            self.recorder = None
            self.recording_changed.emit("unavailable")  # not again at every click
            return
        try:
            recorder.arm() if action == "arm" else recorder.record()
        except AudioUnavailable as err:
            self.problem_reported.emit("warning", f"Cannot open the audio input: {err}")
            self.recorder = None
            self.recording_changed.emit("idle")
            return
        self.recording_changed.emit("armed" if action == "arm" else "recording")
        self._call_meter(True)

    def _finish(self) -> None:
        from flowsynth_gui.audio import NoSignalError

        recorder = self.recorder
        self._call_meter(False)
        if recorder is None:
            self.recording_changed.emit("idle")
            return
        try:
            samples = recorder.stop(RECORD_RATE)
        except NoSignalError as err:
            self.recording_changed.emit("idle")
            self.problem_reported.emit("warning", f"Recording: {err}")
            return
        self.recording_changed.emit("idle")
        self.recorded.emit(samples)

    def _disarm(self) -> None:
        self._call_meter(False)
        if self.recorder is not None:
            self.recorder.disarm()
        self.recording_changed.emit("idle")

    def _call_meter(self, on: bool) -> None:
        # Called on a worker; the timer is switched on the GUI thread (queued signal).
        self._meter_switched.emit(on)

    def _switch_meter(self, on: bool) -> None:
        if on:
            self._meter.start()
        else:
            self._meter.stop()
            self.levels_measured.emit(-120.0, -120.0)

    def _read_levels(self) -> None:
        recorder = self.recorder
        if recorder is not None and recorder.armed:
            levels = recorder.levels
            self.levels_measured.emit(levels.peak_dbfs, levels.rms_dbfs)

    # -- health and shutdown -------------------------------------------------------------------
    def check_health(self, report: Callable[[str, str], None]) -> None:
        """Report a render thread that stopped (the output then plays silence)."""
        player = self.player
        if player is not None and player.render_error is not None:
            error, player.render_error = player.render_error, None
            report("error", f"The live synth stopped: {error!r}; reopen the audio output in "
                            "Settings")

    def _close_devices(self) -> None:
        player, self.player = self.player, None
        recorder, self.recorder = self.recorder, None
        for device in (player, recorder):
            if device is not None:
                try:
                    device.close()
                except Exception:  # closing must not stop the shutdown
                    log.exception("closing an audio device failed")

    def shutdown(self, timeout: float = 5.0) -> None:
        self._meter.stop()
        self._lane.clear()
        self._lane.wait_idle(timeout)
        self._close_devices()
