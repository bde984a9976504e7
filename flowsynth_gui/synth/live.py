"""Block-based polyphonic synth for live play: the same compiled voice and effects as offline.

A render thread (never the audio callback) calls ``render_block``; any thread may call
``set_params``, ``note_on`` and ``note_off``. Parameter changes glide over ~10 ms inside the
kernels, so a fast drag produces no zipper noise; notes are queued and applied at the start of
the next block. Buffers are preallocated: rendering a block allocates nothing but the small
per-call copies inside the kernels.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping

import numpy as np
from numba import njit

from flowsynth_gui.synth import params as param_specs
from flowsynth_gui.synth.dsp import JIT, soft_clip
from flowsynth_gui.synth.fx_kernel import FxState, fx_process
from flowsynth_gui.synth.render import check_note, engine_native
from flowsynth_gui.synth.voice_kernel import (
    VOICE_STATE_SIZE,
    voice_process,
    voice_release,
    voice_start,
)

__all__ = ["PolySynth"]

MAX_BLOCK = 8192


@njit(**JIT)
def _clip_interleave(left: np.ndarray, right: np.ndarray, out: np.ndarray, n: int) -> None:
    for i in range(n):
        out[i, 0] = soft_clip(left[i])
        out[i, 1] = soft_clip(right[i])


class _Voice:
    __slots__ = ("state", "rng", "smoothed", "note", "active", "held", "started")

    def __init__(self) -> None:
        self.state = np.zeros(VOICE_STATE_SIZE)
        self.rng = np.array([0x9E3779B97F4A7C15], dtype=np.uint64)
        self.smoothed = np.zeros(len(param_specs.param_names()))
        self.note = -1
        self.active = False
        self.held = False
        self.started = 0


class PolySynth:
    """Polyphonic live synth; ``render_block(n)`` returns (n, 2) float32 frames in (-1, 1)."""

    def __init__(self, sample_rate: int = 48000, max_voices: int = 16,
                 params: Mapping[str, float] | None = None) -> None:
        if max_voices < 1:
            raise ValueError("max_voices must be at least 1")
        self.sample_rate = int(sample_rate)
        self._target = engine_native(param_specs.normalised_vector(params))
        self._pending = self._target.copy()
        self._lock = threading.Lock()
        self._params_changed = False
        self._events: deque[tuple[str, int, int]] = deque()
        self._voices = [_Voice() for _ in range(max_voices)]
        self._fx = FxState.allocate(float(self.sample_rate))
        self._fx_smoothed = self._target.copy()
        self._left = np.zeros(MAX_BLOCK)
        self._right = np.zeros(MAX_BLOCK)
        self._out = np.zeros((MAX_BLOCK, 2), dtype=np.float32)
        self._clock = 0

    # -- control (any thread) -------------------------------------------------------------
    def set_params(self, params: Mapping[str, float] | np.ndarray) -> None:
        """New parameter values (a mapping of normalised values, or a full normalised vector)."""
        if isinstance(params, np.ndarray):
            vector = np.asarray(params, dtype=np.float64)
            if vector.shape != (len(param_specs.param_names()),):
                raise param_specs.ParameterError(
                    f"expected a full vector of {len(param_specs.param_names())} values")
            if not np.all((vector >= 0) & (vector <= 1)):
                raise param_specs.ParameterError("parameter values must lie inside [0, 1]")
        else:
            vector = param_specs.normalised_vector(params)
        native = engine_native(vector)
        with self._lock:
            self._pending[:] = native
            self._params_changed = True

    def note_on(self, note: int, velocity: int = 100) -> None:
        check_note(note, velocity)
        self._events.append(("on", int(note), int(velocity)))

    def note_off(self, note: int) -> None:
        check_note(note, 1)
        self._events.append(("off", int(note), 0))

    def all_notes_off(self) -> None:
        self._events.append(("all_off", 0, 0))

    @property
    def active_voices(self) -> int:
        return sum(voice.active for voice in self._voices)

    # -- rendering (render thread) --------------------------------------------------------
    def render_block(self, frames: int) -> np.ndarray:
        """Render ``frames`` stereo frames; the returned view is reused by the next call."""
        if not 0 < frames <= MAX_BLOCK:
            raise ValueError(f"block size {frames} must be in 1..{MAX_BLOCK}")
        self._apply_pending_params()
        self._apply_events()
        left, right = self._left[:frames], self._right[:frames]
        left[:] = 0.0
        right[:] = 0.0
        sr = float(self.sample_rate)
        for voice in self._voices:
            if voice.active:
                voice.active = voice_process(self._target, voice.smoothed, voice.state,
                                             voice.rng, left, right, 0, frames, sr, True)
        fx = self._fx
        fx_process(self._target, self._fx_smoothed, fx.state, fx.chorus, fx.delay, fx.plate,
                   fx.plate_lines, fx.plate_delays, fx.scratch, left, right, 0, frames, sr, True)
        _clip_interleave(left, right, self._out, frames)
        self._clock += frames
        return self._out[:frames]

    def _apply_pending_params(self) -> None:
        if self._params_changed:
            with self._lock:
                self._target[:] = self._pending
                self._params_changed = False

    def _apply_events(self) -> None:
        while self._events:
            kind, note, velocity = self._events.popleft()
            if kind == "on":
                self._start_voice(note, velocity)
            elif kind == "off":
                for voice in self._voices:
                    if voice.active and voice.held and voice.note == note:
                        voice_release(voice.state)
                        voice.held = False
            else:
                for voice in self._voices:
                    if voice.active and voice.held:
                        voice_release(voice.state)
                        voice.held = False

    def _start_voice(self, note: int, velocity: int) -> None:
        free = [v for v in self._voices if not v.active]
        # Steal the oldest released voice first, then the oldest held one.
        voice = free[0] if free else min(self._voices, key=lambda v: (v.held, v.started))
        voice.smoothed[:] = self._target
        voice_start(voice.smoothed, voice.state, float(note), float(velocity))
        voice.note, voice.active, voice.held, voice.started = note, True, True, self._clock
