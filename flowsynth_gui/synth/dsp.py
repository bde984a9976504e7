"""Compiled DSP building blocks shared by the voice and the effects (numba).

Each function is small and pure so that numba inlines it into the per-sample loops.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = [
    "fast_tanh",
    "cubic_clip",
    "soft_clip",
    "note_to_hz",
    "poly_blep",
    "poly_blamp",
    "morph_wave",
    "morph_wave_lanes",
    "triangle_lanes",
    "saw_and_pulse_lanes",
    "wrap_distance",
    "blep_at",
    "next_noise",
    "fast_exp2",
    "ms_to_coef",
]

# error_model "numpy": a float division by zero gives inf instead of raising, so loops carry no
# checks and stay vectorisable (no division here can meet a zero).
JIT = {"cache": True, "fastmath": True, "nogil": True, "error_model": "numpy"}
# Helpers of the batched kernels' inner loops are inlined in numba's IR: a call left in a loop
# over voices keeps the compiler from turning that loop into SIMD lanes.
INLINE = {**JIT, "inline": "always"}
TWO_PI = 2.0 * math.pi


@njit(**JIT)
def fast_tanh(x: float) -> float:
    """Rational tanh approximation, exact at 0 and saturating at +-1 (error < 2.5 %)."""
    if x > 3.0:
        return 1.0
    if x < -3.0:
        return -1.0
    x2 = x * x
    return x * (27.0 + x2) / (27.0 + 9.0 * x2)


@njit(**INLINE)
def cubic_clip(x: float) -> float:
    """Cubic soft clipper: smooth, no division, saturates at +-1 beyond |x| = 1.5."""
    if x >= 1.5:
        return 1.0
    if x <= -1.5:
        return -1.0
    return x - (4.0 / 27.0) * x * x * x


@njit(**JIT)
def soft_clip(x: float) -> float:
    """Linear below 0.8, then a tanh knee that never reaches 1: output stays inside (-1, 1)."""
    a = abs(x)
    if a <= 0.8:
        return x
    y = 0.8 + 0.199 * fast_tanh((a - 0.8) / 0.2)
    return y if x > 0.0 else -y


@njit(**JIT)
def note_to_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


@njit(**INLINE)
def fast_sin_cycle(t: float) -> float:
    """sin(2 pi t) for t in [0, 1): odd polynomial on a quarter wave (error < 1e-4)."""
    x = t - 0.5 if t < 0.75 else t - 1.0  # fold to [-0.5, 0.5)... then to a quarter wave
    x = -x if t < 0.75 else x
    if x > 0.25:
        x = 0.5 - x
    elif x < -0.25:
        x = -0.5 - x
    z = 2.0 * math.pi * x
    z2 = z * z
    return z * (1.0 + z2 * (-1.0 / 6.0 + z2 * (1.0 / 120.0 + z2 * (-1.0 / 5040.0))))


@njit(**JIT)
def poly_blep(t: float, dt: float) -> float:
    """Band-limited step residual at a phase wrap, for a step of -2 (subtract it).

    Four samples wide (the integrated cubic B-spline) while a period spans more than eight
    samples: about 10 dB less aliasing than the common two-sample polyBLEP; two samples wide
    for the highest pitches, where four would overlap the next wrap.
    """
    if dt < 0.25:
        if t < 2.0 * dt:
            x = t / dt
            if x < 1.0:
                x2 = x * x
                return -1.0 + x * (4.0 / 3.0) - x2 * x * (2.0 / 3.0) + x2 * x2 * 0.25
            y = 2.0 - x
            y2 = y * y
            return -y2 * y2 / 12.0
        if t > 1.0 - 2.0 * dt:
            x = (t - 1.0) / dt
            if x < -1.0:
                y = x + 2.0
                y2 = y * y
                return y2 * y2 / 12.0
            x2 = x * x
            return 1.0 + x * (4.0 / 3.0) - x2 * x * (2.0 / 3.0) - x2 * x2 * 0.25
        return 0.0
    if t < dt:
        x = t / dt
        return x + x - x * x - 1.0
    if t > 1.0 - dt:
        x = (t - 1.0) / dt
        return x * x + x + x + 1.0
    return 0.0


@njit(**JIT)
def poly_blamp(t: float, dt: float) -> float:
    """Band-limited ramp residual, for the slope changes at a triangle's corners."""
    if t < dt:
        x = t / dt - 1.0
        return -x * x * x / 3.0
    if t > 1.0 - dt:
        x = (t - 1.0) / dt + 1.0
        return x * x * x / 3.0
    return 0.0


@njit(**JIT)
def _triangle(t: float, dt: float) -> float:
    half = t + 0.5
    if half >= 1.0:
        half -= 1.0
    naive = 4.0 * abs(t - 0.5) - 1.0  # +1 at t = 0, -1 at t = 0.5: corners at both
    return naive + 4.0 * dt * (poly_blamp(half, dt) - poly_blamp(t, dt))


@njit(**JIT)
def _saw(t: float, dt: float) -> float:
    return 2.0 * t - 1.0 - poly_blep(t, dt)


@njit(**JIT)
def _pulse(t: float, dt: float, width: float) -> float:
    naive = 1.0 if t < width else -1.0
    fall = t - width
    if fall < 0.0:
        fall += 1.0
    # Subtract the duty cycle's DC so that the pulse end of the morph stays centred.
    return naive + poly_blep(t, dt) - poly_blep(fall, dt) - (2.0 * width - 1.0)


@njit(**JIT)
def morph_wave(t: float, dt: float, shape: float, width: float) -> float:
    """Continuous wave shape in [0, 3]: sine -> triangle -> saw -> pulse, band-limited."""
    segment = int(shape)
    if segment > 2:
        segment = 2
    blend = shape - segment
    if segment == 0:
        a = fast_sin_cycle(t)
        b = _triangle(t, dt) if blend > 0.0 else 0.0
    elif segment == 1:
        a = _triangle(t, dt)
        b = _saw(t, dt) if blend > 0.0 else 0.0
    else:
        a = _saw(t, dt)
        b = _pulse(t, dt, width) if blend > 0.0 else 0.0
    return a + blend * (b - a)


@njit(**INLINE)
def next_noise(x: np.uint64) -> tuple[np.uint64, float]:
    """xorshift64* step: (new generator state, white noise in [-1, 1)); state never 0."""
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    y = (x * np.uint64(2685821657736338717)) >> np.uint64(11)
    return x, float(y) * (2.0 / 9007199254740992.0) - 1.0


@njit(**INLINE)
def fast_exp2(x: float) -> float:
    """2**x for |x| <= 8 via (2**(x/16))**16: a short series, then four squarings (rel. err
    < 1e-6); used per sample where math's pow is too slow."""
    y = x * (0.6931471805599453 / 16.0)
    e = 1.0 + y * (1.0 + y * (0.5 + y * (1.0 / 6.0 + y * (1.0 / 24.0 + y * (1.0 / 120.0)))))
    e *= e
    e *= e
    e *= e
    return e * e


@njit(**JIT)
def ms_to_coef(time_s: float, sample_rate: float) -> float:
    """One-pole smoothing coefficient for a time constant (0 means no smoothing)."""
    if time_s <= 0.0:
        return 0.0
    return math.exp(-1.0 / (time_s * sample_rate))


# The same waves without branches, for the loops over voices (``voice_batch``): every candidate
# is computed and a select keeps the one a voice's phase and shape call for, so all voices take
# one path. The residuals are ``poly_blep``'s and ``poly_blamp``'s polynomials, written once for
# the distance to the nearest wrap (they are odd, resp. even, about it).


@njit(**INLINE)
def wrap_distance(t: float, inverse_dt: float) -> float:
    """Signed distance in samples from phase ``t`` to the nearest wrap (at 0 = 1)."""
    return t * inverse_dt if t < 0.5 else (t - 1.0) * inverse_dt


@njit(**INLINE)
def blep_at(distance: float, narrow: bool) -> float:
    """``poly_blep`` at a signed distance from the wrap; ``narrow`` is its dt >= 0.25 form."""
    a = abs(distance)
    a2 = a * a
    b = 2.0 - a
    b2 = b * b
    wide = (-1.0 + a * (4.0 / 3.0) - a2 * a * (2.0 / 3.0) + a2 * a2 * 0.25 if a < 1.0 else
            -b2 * b2 / 12.0 if a < 2.0 else 0.0)
    c = 1.0 - a
    thin = -c * c if a < 1.0 else 0.0
    residual = thin if narrow else wide
    return -residual if distance < 0.0 else residual


@njit(**INLINE)
def blamp_at(distance: float) -> float:
    """``poly_blamp`` at a signed distance from the wrap."""
    c = 1.0 - abs(distance)
    return c * c * c / 3.0 if c > 0.0 else 0.0


@njit(**INLINE)
def triangle_lanes(t: float, dt: float, inverse_dt: float) -> float:
    """The band-limited triangle of ``morph_wave_lanes``."""
    half = t + 0.5
    half = half - 1.0 if half >= 1.0 else half
    return 4.0 * abs(t - 0.5) - 1.0 + 4.0 * dt * (blamp_at(wrap_distance(half, inverse_dt))
                                                  - blamp_at(wrap_distance(t, inverse_dt)))


@njit(**INLINE)
def saw_and_pulse_lanes(t: float, inverse_dt: float, width: float,
                        narrow: bool) -> tuple[float, float]:
    """The band-limited saw and pulse of ``morph_wave_lanes`` (they share the rising wrap)."""
    rise = blep_at(wrap_distance(t, inverse_dt), narrow)
    saw = 2.0 * t - 1.0 - rise
    fall = t - width
    fall = fall + 1.0 if fall < 0.0 else fall
    pulse = ((1.0 if t < width else -1.0) + rise - blep_at(wrap_distance(fall, inverse_dt), narrow)
             - (2.0 * width - 1.0))
    return saw, pulse


@njit(**INLINE)
def morph_wave_lanes(t: float, dt: float, shape: float, width: float) -> float:
    """``morph_wave`` as selects: all four waves, then the two the shape blends."""
    inverse_dt = 1.0 / dt
    segment = 0.0 if shape < 1.0 else 1.0 if shape < 2.0 else 2.0
    blend = shape - segment
    triangle = triangle_lanes(t, dt, inverse_dt)
    saw, pulse = saw_and_pulse_lanes(t, inverse_dt, width, dt >= 0.25)
    sine = fast_sin_cycle(t)
    a = sine if segment == 0.0 else triangle if segment == 1.0 else saw
    b = triangle if segment == 0.0 else saw if segment == 1.0 else pulse
    return a + blend * (b - a)
