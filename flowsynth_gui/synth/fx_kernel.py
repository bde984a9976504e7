"""The compiled stereo effects bus: drive -> chorus (with rotor) -> plate reverb -> delay.

Like the voice, the bus keeps all state in caller-owned arrays (``FxState``) and processes any
span of samples, so it serves offline rendering and live play alike. An effect whose wet level
is zero is skipped entirely, which keeps the 16- and 32-parameter renders fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from flowsynth_gui.synth.dsp import JIT, fast_tanh, ms_to_coef
from flowsynth_gui.synth.voice_kernel import (
    CONTROL_PERIOD,
    N_PARAMS,
    SMOOTHING_TIME_S,
    smooth_params,
)

(P_CHR_RATE, P_CHR_DEPTH, P_CHR_WET, P_DRIVE, P_ROTOR,
 P_PRE, P_PDECAY, P_PDIFF_IN, P_PWET, P_PDAMP, P_PDIFF_TANK, P_PSIZE,
 P_DTIME, P_DFB, P_DLP, P_DHP, P_DWOW, P_DWET) = range(55, N_PARAMS)

PLATE_REFERENCE_RATE = 29761.0  # Dattorro's plate was specified at this rate
# Line lengths at the reference rate: pre-delay (set at run time), 4 input diffusers, two tank
# halves of allpass, delay, allpass, delay.
PLATE_LENGTHS = np.array([0, 142, 107, 379, 277, 672, 4453, 1800, 3720, 908, 4217, 2656, 3163])
(L_PRE, L_IN1, L_IN2, L_IN3, L_IN4, L_AP_A1, L_D_A1, L_AP_A2, L_D_A2,
 L_AP_B1, L_D_B1, L_AP_B2, L_D_B2) = range(13)
N_LINES = 13
# Output taps: line, position at the reference rate, sign; left then right. Four of
# Dattorro's seven per side (one from each tank delay): the other three cost more time than
# they add density, since every tap is a scattered memory read.
LEFT_TAP_LINES = np.array([L_D_B1, L_D_B1, L_D_B2, L_D_A1])
LEFT_TAP_POSITIONS = np.array([266, 2974, 1996, 1990])
LEFT_TAP_SIGNS = np.array([1.0, 1.0, 1.0, -1.0])
RIGHT_TAP_LINES = np.array([L_D_A1, L_D_A1, L_D_A2, L_D_B1])
RIGHT_TAP_POSITIONS = np.array([353, 3627, 2673, 2111])
RIGHT_TAP_SIGNS = LEFT_TAP_SIGNS
N_TAPS = 4
MAX_PLATE_SIZE = 2.0
MAX_PREDELAY_S = 0.25
CHORUS_BASE_S, CHORUS_DEPTH_S, ROTOR_DOPPLER_S, ROTOR_AM = 0.008, 0.005, 0.0005, 0.2
MAX_DELAY_S = 8 * 0.125 * 1.05

# Bus state slots.
(F_COUNTER, F_COUNTDOWN, F_CHORUS_PH, F_ROTOR_PH, F_WOW_PH, F_BANDWIDTH, F_DAMP_A, F_DAMP_B,
 F_LP_L, F_LP_R, F_HP_L, F_HP_R,
 F_CD_L, F_CD_R, F_AM_L, F_AM_R, F_DEL_T,
 F_DCD_L, F_DCD_R, F_DAM_L, F_DAM_R, F_DDEL_T, F_READY) = range(23)
FX_STATE_SIZE = 23


def _pow2_at_least(n: float) -> int:
    return 1 << max(4, int(math.ceil(math.log2(max(n, 2.0)))))


@dataclass
class FxState:
    """Preallocated buffers and state of one effects bus at one sample rate."""

    sample_rate: float
    state: np.ndarray
    chorus: np.ndarray
    delay: np.ndarray
    plate: np.ndarray
    plate_lines: np.ndarray  # (13, 2) int64: base offset, mask
    plate_delays: np.ndarray  # 13 line delays, then the left and right tap positions
    scratch: np.ndarray  # (4, CONTROL_PERIOD) work rows of the block-wise plate

    @classmethod
    def allocate(cls, sample_rate: float) -> FxState:
        scale = sample_rate / PLATE_REFERENCE_RATE
        sizes = [_pow2_at_least(MAX_PREDELAY_S * sample_rate + 2)]
        sizes += [_pow2_at_least(n * scale * MAX_PLATE_SIZE + 2) for n in PLATE_LENGTHS[1:]]
        lines = np.zeros((len(sizes), 2), dtype=np.int64)
        lines[:, 0] = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        lines[:, 1] = np.array(sizes) - 1
        chorus_size = _pow2_at_least((CHORUS_BASE_S + CHORUS_DEPTH_S + ROTOR_DOPPLER_S)
                                     * sample_rate + 4)
        return cls(
            sample_rate=sample_rate,
            state=np.zeros(FX_STATE_SIZE),
            chorus=np.zeros((2, chorus_size)),
            delay=np.zeros((2, _pow2_at_least(MAX_DELAY_S * sample_rate + 4))),
            plate=np.zeros(int(sum(sizes)), dtype=np.float32),  # halves cache traffic
            plate_lines=lines,
            plate_delays=np.zeros(N_LINES + 2 * N_TAPS, dtype=np.int64),
            scratch=np.zeros((4, CONTROL_PERIOD)),
        )

    def reset(self) -> None:
        for buffer in (self.state, self.chorus, self.delay, self.plate):
            buffer[...] = 0.0


@njit(**JIT)
def read_frac(buf: np.ndarray, mask: int, write: int, delay: float) -> float:
    """Linear-interpolated read ``delay`` samples behind the write position."""
    whole = int(delay)
    frac = delay - whole
    a = buf[(write - whole) & mask]
    b = buf[(write - whole - 1) & mask]
    return a + frac * (b - a)


@njit(**JIT)
def line_read(plate: np.ndarray, lines: np.ndarray, line: int, write: int, delay: int) -> float:
    return plate[lines[line, 0] + ((write - delay) & lines[line, 1])]


@njit(**JIT)
def line_write(plate: np.ndarray, lines: np.ndarray, line: int, write: int, value: float) -> None:
    plate[lines[line, 0] + (write & lines[line, 1])] = value


@njit(**JIT)
def plate_settings(p: np.ndarray, sr: float, delays: np.ndarray) -> tuple:
    """Delay lengths and tap positions (into ``delays``) and the gains, from the parameters."""
    rate_scale = sr / PLATE_REFERENCE_RATE
    size = rate_scale * (0.2 + 1.8 * (p[P_PSIZE] - 1.0) / 199.0)
    delays[L_PRE] = max(1, int(p[P_PRE] * 0.001 * sr))
    for line in range(L_IN1, L_IN4 + 1):
        delays[line] = max(1, int(PLATE_LENGTHS[line] * rate_scale))
    for line in range(L_AP_A1, L_D_B2 + 1):
        delays[line] = max(1, int(PLATE_LENGTHS[line] * size))
    for i in range(LEFT_TAP_LINES.shape[0]):
        delays[N_LINES + i] = max(1, int(LEFT_TAP_POSITIONS[i] * size))
        delays[N_LINES + N_TAPS + i] = max(1, int(RIGHT_TAP_POSITIONS[i] * size))
    diffusion_in = 0.75 * p[P_PDIFF_IN] * 0.01
    return (diffusion_in, 0.833 * diffusion_in, 0.7 * p[P_PDIFF_TANK] * 0.01,
            0.2 + 0.77 * p[P_PDECAY] * 0.01, 0.9 * p[P_PDAMP] * 0.01)


@njit(**JIT)
def allpass_run(plate: np.ndarray, lines: np.ndarray, line: int, write: int, delay: int,
                gain: float, signal: np.ndarray, count: int) -> None:
    """A Schroeder allpass over ``count`` samples of ``signal``, in place."""
    base, mask = lines[line, 0], lines[line, 1]
    for j in range(count):
        delayed = plate[base + ((write + j - delay) & mask)]
        v = signal[j] + gain * delayed
        plate[base + ((write + j) & mask)] = v
        signal[j] = delayed - gain * v


@njit(**JIT)
def delay_run(plate: np.ndarray, lines: np.ndarray, line: int, write: int, delay: int,
              signal: np.ndarray, count: int) -> None:
    """Write ``signal`` into a delay line, then replace it with the line's delayed output."""
    base, mask = lines[line, 0], lines[line, 1]
    for j in range(count):
        plate[base + ((write + j) & mask)] = signal[j]
    for j in range(count):
        signal[j] = plate[base + ((write + j - delay) & mask)]


@njit(**JIT)
def tap_run(plate: np.ndarray, lines: np.ndarray, write: int, delays: np.ndarray, first: int,
            tap_lines: np.ndarray, tap_signs: np.ndarray, gain: float, out: np.ndarray,
            start: int, count: int) -> None:
    for i in range(tap_lines.shape[0]):
        base, mask = lines[tap_lines[i], 0], lines[tap_lines[i], 1]
        weight = gain * tap_signs[i]
        offset = write - delays[first + i]
        for j in range(count):
            out[start + j] += weight * plate[base + ((offset + j) & mask)]


@njit(**JIT)
def plate_block(f: np.ndarray, plate: np.ndarray, lines: np.ndarray, delays: np.ndarray,
                settings: tuple, scratch: np.ndarray, write: int, out_l: np.ndarray,
                out_r: np.ndarray, start: int, count: int, wet: float) -> None:
    """Dattorro's plate (unmodulated tank) over a block, adding ``wet`` x reverb to the outputs.

    Line by line rather than sample by sample: each inner loop is short and regular. This is
    exact because inside a block every line only feeds later lines, except the cross-feedback
    between the tank halves, whose delays are longer than any block (``CONTROL_PERIOD``).
    """
    diffusion_in, diffusion_in2, diffusion_tank, decay, damp = settings
    signal, end_a, end_b, tank = scratch[0], scratch[1], scratch[2], scratch[3]
    for j in range(count):
        signal[j] = 0.5 * (out_l[start + j] + out_r[start + j])
    delay_run(plate, lines, L_PRE, write, delays[L_PRE], signal, count)
    bandwidth = f[F_BANDWIDTH]
    for j in range(count):
        bandwidth += 0.9995 * (signal[j] - bandwidth)
        signal[j] = bandwidth
    f[F_BANDWIDTH] = bandwidth
    for line, gain in ((L_IN1, diffusion_in), (L_IN2, diffusion_in), (L_IN3, diffusion_in2),
                       (L_IN4, diffusion_in2)):
        allpass_run(plate, lines, line, write, delays[line], gain, signal, count)
    for j in range(count):
        end_a[j] = line_read(plate, lines, L_D_A2, write + j, delays[L_D_A2])
        end_b[j] = line_read(plate, lines, L_D_B2, write + j, delays[L_D_B2])
    for half in range(2):
        first = L_AP_A1 if half == 0 else L_AP_B1
        damp_slot = F_DAMP_A if half == 0 else F_DAMP_B
        other_end = end_b if half == 0 else end_a
        for j in range(count):
            tank[j] = signal[j] + decay * other_end[j]
        allpass_run(plate, lines, first, write, delays[first], -diffusion_tank, tank, count)
        delay_run(plate, lines, first + 1, write, delays[first + 1], tank, count)
        state = f[damp_slot]
        for j in range(count):
            state = tank[j] * (1.0 - damp) + state * damp
            tank[j] = state * decay
        f[damp_slot] = state
        allpass_run(plate, lines, first + 2, write, delays[first + 2], diffusion_tank * 0.714,
                    tank, count)
        base, mask = lines[first + 3, 0], lines[first + 3, 1]
        for j in range(count):
            plate[base + ((write + j) & mask)] = tank[j]
    tap_run(plate, lines, write, delays, N_LINES, LEFT_TAP_LINES, LEFT_TAP_SIGNS,
            0.8 * wet, out_l, start, count)
    tap_run(plate, lines, write, delays, N_LINES + N_TAPS, RIGHT_TAP_LINES,
            RIGHT_TAP_SIGNS, 0.8 * wet, out_r, start, count)


@njit(**JIT)
def fx_control_tick(p: np.ndarray, f: np.ndarray, sr: float, period: int) -> None:
    """Chorus delays and rotor amplitude, and the delay time, at the end of the next period."""
    dt = period / sr
    f[F_CHORUS_PH] = (f[F_CHORUS_PH] + 0.05 * 100.0 ** (p[P_CHR_RATE] * 0.01) * dt) % 1.0
    f[F_ROTOR_PH] = (f[F_ROTOR_PH] + 10.0 ** (p[P_ROTOR] * 0.01) * dt) % 1.0
    f[F_WOW_PH] = (f[F_WOW_PH] + 0.6 * dt) % 1.0
    chorus = 2.0 * math.pi * f[F_CHORUS_PH]
    rotor = 2.0 * math.pi * f[F_ROTOR_PH]
    depth = CHORUS_DEPTH_S * p[P_CHR_DEPTH] * 0.01
    targets = (
        sr * (CHORUS_BASE_S + depth * math.sin(chorus) + ROTOR_DOPPLER_S * math.sin(rotor)),
        sr * (CHORUS_BASE_S + depth * math.cos(chorus) - ROTOR_DOPPLER_S * math.sin(rotor)),
        1.0 - ROTOR_AM * 0.5 * (1.0 + math.cos(rotor)),
        1.0 - ROTOR_AM * 0.5 * (1.0 - math.cos(rotor)),
        sr * p[P_DTIME] * 0.125 * (1.0 + 0.04 * p[P_DWOW] * 0.01
                                   * math.sin(2.0 * math.pi * f[F_WOW_PH])),
    )
    for i in range(5):
        if f[F_READY] == 0.0:
            f[F_CD_L + i] = targets[i]
        f[F_DCD_L + i] = (targets[i] - f[F_CD_L + i]) / period
    f[F_READY] = 1.0


@njit(**JIT)
def fx_tick_constants(p: np.ndarray, sr: float):  # noqa: ANN201 (numba tuple)
    """Drive gain, wet levels, delay feedback and loop-filter coefficients."""
    lp_hz = 200.0 * 50.0 ** (p[P_DLP] * 0.01)
    hp_hz = 20.0 * 100.0 ** (p[P_DHP] * 0.01)
    return (1.0 + 15.0 * p[P_DRIVE] * 0.01, p[P_CHR_WET] * 0.01, p[P_PWET] * 0.01,
            p[P_DWET] * 0.01, 0.9 * p[P_DFB] * 0.01,
            1.0 - ms_to_coef(1.0 / (2.0 * math.pi * lp_hz), sr),
            1.0 - ms_to_coef(1.0 / (2.0 * math.pi * hp_hz), sr))


@njit(**JIT)
def fx_process(target: np.ndarray, smoothed: np.ndarray, f: np.ndarray, chorus: np.ndarray,
               delay: np.ndarray, plate: np.ndarray, lines: np.ndarray, delays: np.ndarray,
               scratch: np.ndarray, out_l: np.ndarray, out_r: np.ndarray, start: int,
               stop: int, sr: float, smoothing: bool) -> None:
    """Run the bus in place over ``out_l``/``out_r`` samples ``start:stop``."""
    smooth_coef = ms_to_coef(SMOOTHING_TIME_S, sr / CONTROL_PERIOD) if smoothing else 0.0
    p = smoothed
    write = int(f[F_COUNTER])
    consts = fx_tick_constants(p, sr)
    reverb = plate_settings(p, sr, delays)
    n = start
    while n < stop:
        if f[F_COUNTDOWN] <= 0.0:
            if smoothing:
                smooth_params(target, smoothed, smooth_coef)
            fx_control_tick(p, f, sr, CONTROL_PERIOD)
            f[F_COUNTDOWN] = CONTROL_PERIOD
            consts = fx_tick_constants(p, sr)
            reverb = plate_settings(p, sr, delays)
        drive, chorus_wet, plate_wet, delay_wet, feedback, lp_coef, hp_coef = consts
        count = min(int(f[F_COUNTDOWN]), stop - n)
        if drive > 1.0001 or chorus_wet > 1e-4:
            drive_and_chorus(f, chorus, write, out_l, out_r, n, count, drive, chorus_wet)
        if plate_wet > 1e-4:
            plate_block(f, plate, lines, delays, reverb, scratch, write, out_l, out_r, n, count,
                        plate_wet)
        if delay_wet > 1e-4:
            echo_run(f, delay, write, out_l, out_r, n, count, delay_wet, feedback, lp_coef,
                     hp_coef)
        else:
            f[F_DEL_T] += count * f[F_DDEL_T]
        f[F_COUNTDOWN] -= count
        write += count
        n += count
    f[F_COUNTER] = write


@njit(**JIT)
def drive_and_chorus(f: np.ndarray, chorus: np.ndarray, write: int, out_l: np.ndarray,
                     out_r: np.ndarray, start: int, count: int, drive: float,
                     chorus_wet: float) -> None:
    """Saturation, then the chorus with its rotor, in place over ``count`` samples."""
    mask = chorus.shape[1] - 1
    norm = 1.0 / math.sqrt(drive)
    for j in range(count):
        n = start + j
        for i in range(4):
            f[F_CD_L + i] += f[F_DCD_L + i]
        left, right = out_l[n], out_r[n]
        if drive > 1.0001:
            left = fast_tanh(drive * left) * norm
            right = fast_tanh(drive * right) * norm
        if chorus_wet > 1e-4:
            chorus[0, (write + j) & mask] = left
            chorus[1, (write + j) & mask] = right
            wet_l = read_frac(chorus[0], mask, write + j, f[F_CD_L]) * f[F_AM_L]
            wet_r = read_frac(chorus[1], mask, write + j, f[F_CD_R]) * f[F_AM_R]
            left = left * (1.0 - 0.5 * chorus_wet) + 0.7 * chorus_wet * wet_l
            right = right * (1.0 - 0.5 * chorus_wet) + 0.7 * chorus_wet * wet_r
        out_l[n], out_r[n] = left, right


@njit(**JIT)
def echo_run(f: np.ndarray, delay: np.ndarray, write: int, out_l: np.ndarray,
             out_r: np.ndarray, start: int, count: int, wet: float, feedback: float,
             lp_coef: float, hp_coef: float) -> None:
    """The ping-pong delay with filters in its loop, in place over ``count`` samples."""
    mask = delay.shape[1] - 1
    for j in range(count):
        n = start + j
        f[F_DEL_T] += f[F_DDEL_T]
        echo_l = read_frac(delay[0], mask, write + j, f[F_DEL_T])
        echo_r = read_frac(delay[1], mask, write + j, f[F_DEL_T] * 1.05)
        f[F_LP_L] += lp_coef * (echo_r - f[F_LP_L])  # ping-pong: each side feeds the other
        f[F_LP_R] += lp_coef * (echo_l - f[F_LP_R])
        f[F_HP_L] += hp_coef * (f[F_LP_L] - f[F_HP_L])
        f[F_HP_R] += hp_coef * (f[F_LP_R] - f[F_HP_R])
        delay[0, (write + j) & mask] = out_l[n] + feedback * (f[F_LP_L] - f[F_HP_L])
        delay[1, (write + j) & mask] = out_r[n] + feedback * (f[F_LP_R] - f[F_HP_R])
        out_l[n] += wet * echo_l
        out_r[n] += wet * echo_r
