"""Many offline voices at once: the voice kernel's recurrence with the loop over voices innermost.

Every search renders batches of notes that share a pitch, a gate and a sample rate and differ
only in their parameters. Here LANES such voices advance together, sample by sample, each state
variable held in an array over the voices: the inner loop over voices is independent work that
the compiler turns into SIMD lanes, and the ladder's long per-sample feedback chain of one voice
overlaps with the other voices' chains instead of stalling the core.

The arithmetic is ``voice_kernel``'s, step for step. The per-voice helpers (static coefficients,
control ticks, tick constants) are the same functions, called once per voice; the per-sample
passes compute what ``oscillator_pass`` and ``filter_pass`` compute, with selects where a voice's
path differs. A silent oscillator, sub or noise source is computed and multiplied by its zero
gain, which adds exactly nothing; an envelope computes every stage's step and keeps its own.
Offline only: parameters are fixed for the note (no smoothing), so a level that is zero stays
zero, which is what makes the branch-free forms exact.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from flowsynth_gui.synth.dsp import (
    INLINE,
    JIT,
    blep_at,
    cubic_clip,
    fast_exp2,
    morph_wave_lanes,
    next_noise,
    soft_clip,
    wrap_distance,
)
from flowsynth_gui.synth.voice_kernel import (
    CONTROL_PERIOD,
    INTERPOLATED,
    LADDER_DRIVE,
    LADDER_MAKEUP,
    R_D_HP,
    R_D_LP,
    R_DT1,
    R_DT2,
    R_DT3,
    R_G_HP,
    R_G_LP,
    R_G_RAW,
    R_GAIN_L,
    R_GAIN_R,
    R_K,
    S_COUNTDOWN,
    S_DIRTY,
    S_ENV1,
    S_ENV1_STAGE,
    S_ENV2,
    S_ENV2_STAGE,
    S_HP1,
    S_HP2,
    S_LAD1,
    S_LAD2,
    S_LAD3,
    S_LAD4,
    S_LADY,
    S_PH1,
    S_PH2,
    S_PH3,
    S_PHSUB,
    S_RAMPS,
    S_TIME,
    SILENCE_LEVEL,
    STAGE_ATTACK,
    STAGE_DECAY,
    STAGE_IDLE,
    STAGE_RELEASE,
    VOICE_STATE_SIZE,
    control_tick,
    derive_static,
    high_pass_on,
    tick_constants,
    velocity_scale,
    voice_release,
    voice_start,
)

__all__ = ["LANES", "lanes_start", "lanes_process", "lanes_release", "fold_lanes_to_mono"]

# Voices per call. A fixed count lets the compiler see every row of the state as a constant
# offset, so it proves the rows independent and vectorises; 16 keeps four 4-wide vector chains
# of the ladder in flight (random 32-parameter presets, one core: 2.25 ms per sound at 16 lanes,
# 2.91 at 32; the run at 8 was disturbed by other load and is not quoted).
LANES = 16

# Rows of the per-voice constants (see ``fill_constants``): what holds for one control period.
(C_E1_ATTACK, C_E1_DECAY, C_E1_SUSTAIN, C_E1_RELEASE,
 C_E2_ATTACK, C_E2_DECAY, C_E2_SUSTAIN, C_E2_RELEASE,
 C_GAIN1, C_GAIN2, C_GAIN3, C_SHAPE1, C_SHAPE2, C_SHAPE3,
 C_FM, C_RING, C_SUB, C_NOISE, C_FILTER_FM, C_FEEDBACK, C_HP_DAMPING, C_WIDTH,
 C_E1_SCALE, C_HP_ON) = range(24)
N_CONSTANTS = 24
RAMP = S_RAMPS  # row of the first interpolated value; its per-sample step is INTERPOLATED on
STEP = S_RAMPS + INTERPOLATED


@njit(**JIT)
def lane_state(states: np.ndarray, lane: int) -> np.ndarray:
    """One voice's state (a strided view), for the per-voice helpers of ``voice_kernel``."""
    return states.reshape((VOICE_STATE_SIZE, LANES))[:, lane]


@njit(**JIT)
def lanes_start(params: np.ndarray, states: np.ndarray, note: float, velocity: float) -> None:
    """Reset every voice for a new note; ``params`` is (LANES, N_PARAMS) native values."""
    for lane in range(LANES):
        voice_start(params[lane], lane_state(states, lane), note, velocity)


@njit(**JIT)
def lanes_release(states: np.ndarray) -> None:
    for lane in range(LANES):
        voice_release(lane_state(states, lane))


@njit(**JIT)
def fill_constants(params: np.ndarray, states: np.ndarray, consts: np.ndarray,
                   sr: float) -> None:
    """``tick_constants`` of every voice, as rows over the voices."""
    rows = consts.reshape((N_CONSTANTS, LANES))
    for lane in range(LANES):
        p = params[lane]
        s = lane_state(states, lane)
        c = tick_constants(p, s, sr)
        rows[C_E1_ATTACK:C_E1_RELEASE + 1, lane] = c.env1
        rows[C_E2_ATTACK:C_E2_RELEASE + 1, lane] = c.env2
        rows[C_GAIN1:C_GAIN3 + 1, lane] = c.gains
        rows[C_SHAPE1:C_SHAPE3 + 1, lane] = c.shapes
        rows[C_FM:C_NOISE + 1, lane] = c.levels
        rows[C_FILTER_FM, lane] = c.filter_fm
        rows[C_FEEDBACK, lane] = c.feedback
        rows[C_HP_DAMPING, lane] = c.hp_damping
        rows[C_WIDTH, lane] = c.width
        rows[C_E1_SCALE, lane] = velocity_scale(p, s)
        rows[C_HP_ON, lane] = 1.0 if high_pass_on(p) else 0.0


@njit(**INLINE)
def wrapped(phase: float) -> float:
    return phase - 1.0 if phase >= 1.0 else phase


@njit(**INLINE)
def at(row: int, v: int) -> int:
    """Flat index of voice ``v`` in ``row``: a constant offset plus the voice."""
    return row * LANES + v


@njit(**INLINE)
def osc1_and_osc3(st: np.ndarray, c: np.ndarray, v: int) -> tuple[float, float, float]:
    """Voice ``v``'s pitch ramps one sample on; osc 1 (its wave and its step) and osc 3's
    contribution, their phases advanced."""
    d1 = st[at(RAMP + R_DT1, v)] + st[at(STEP + R_DT1, v)]
    d2_base = st[at(RAMP + R_DT2, v)] + st[at(STEP + R_DT2, v)]
    d3 = st[at(RAMP + R_DT3, v)] + st[at(STEP + R_DT3, v)]
    st[at(RAMP + R_DT1, v)] = d1
    st[at(RAMP + R_DT2, v)] = d2_base
    st[at(RAMP + R_DT3, v)] = d3
    p1, p3 = st[at(S_PH1, v)], st[at(S_PH3, v)]
    width = c[at(C_WIDTH, v)]
    o1 = morph_wave_lanes(p1, d1, c[at(C_SHAPE1, v)], width)
    osc3 = c[at(C_GAIN3, v)] * morph_wave_lanes(p3, d3, c[at(C_SHAPE3, v)], width)
    st[at(S_PH1, v)] = wrapped(p1 + d1)
    st[at(S_PH3, v)] = wrapped(p3 + d3)
    return o1, d1, osc3


@njit(**INLINE)
def osc2(st: np.ndarray, c: np.ndarray, v: int, o1: float) -> float:
    """Osc 2's contribution, frequency- and ring-modulated by osc 1; its phase advanced."""
    # FM at index 0 leaves dt2 as it is (it lies inside the clamp's range)
    d2 = min(0.45, max(1e-7, st[at(RAMP + R_DT2, v)] * (1.0 + c[at(C_FM, v)] * o1)))
    p2 = st[at(S_PH2, v)]
    o2 = morph_wave_lanes(p2, d2, c[at(C_SHAPE2, v)], c[at(C_WIDTH, v)])
    st[at(S_PH2, v)] = wrapped(p2 + d2)
    return c[at(C_GAIN2, v)] * (o2 + c[at(C_RING, v)] * (o1 * o2 - o2))


@njit(**INLINE)
def sub(st: np.ndarray, c: np.ndarray, v: int, d1: float) -> float:
    """The square sub-oscillator an octave below osc 1; its phase advanced."""
    d_sub = 0.5 * d1
    inverse = 1.0 / d_sub
    narrow = d_sub >= 0.25
    phase = st[at(S_PHSUB, v)]
    fall = phase + 0.5 if phase < 0.5 else phase - 0.5
    st[at(S_PHSUB, v)] = wrapped(phase + d_sub)
    return c[at(C_SUB, v)] * (blep_at(wrap_distance(phase, inverse), narrow)
                              - blep_at(wrap_distance(fall, inverse), narrow)
                              + (1.0 if phase < 0.5 else -1.0))


@njit(**INLINE)
def noise_sample(c: np.ndarray, noise: np.ndarray, v: int) -> float:
    state, white = next_noise(noise[v])
    noise[v] = state
    return c[at(C_NOISE, v)] * white


@njit(**JIT)
def oscillators(st: np.ndarray, c: np.ndarray, noise: np.ndarray, mix: np.ndarray,
                osc1: np.ndarray, count: int) -> None:
    """``oscillator_pass`` of every voice: ``count`` samples into ``mix`` and ``osc1``.

    Every source of every voice is computed: a level of zero adds exactly nothing, and offline
    a level is fixed for the note, so a silent source's phase never reaches the output.
    """
    for n in range(count):
        for v in range(LANES):
            o1, d1, osc3 = osc1_and_osc3(st, c, v)
            x = c[at(C_GAIN1, v)] * o1 + osc2(st, c, v, o1) + osc3
            x += sub(st, c, v, d1)
            x += noise_sample(c, noise, v)
            mix[n * LANES + v] = x
            osc1[n * LANES + v] = o1


@njit(**JIT)
def oscillators_without_osc2_and_sub(st: np.ndarray, c: np.ndarray, noise: np.ndarray,
                                     mix: np.ndarray, osc1: np.ndarray, count: int) -> None:
    """:func:`oscillators` for a group in which no voice hears osc 2 or the sub (the 16- and
    32-parameter sets have neither OscMix nor the sub): a quarter less work, the same sound."""
    for n in range(count):
        for v in range(LANES):
            o1, _, osc3 = osc1_and_osc3(st, c, v)
            x = c[at(C_GAIN1, v)] * o1 + 0.0 + osc3  # the full loop's sums, osc 2 at zero
            x += noise_sample(c, noise, v)
            mix[n * LANES + v] = x
            osc1[n * LANES + v] = o1


@njit(**INLINE)
def envelope_step(level: float, stage: float, attack_step: float, decay_coef: float,
                  sustain: float, release_coef: float) -> tuple[float, float]:
    """``advance_envelope`` without branches: every stage's step, then the voice's own."""
    attacked = level + attack_step
    attack_done = attacked >= 1.0
    released = level * release_coef
    release_done = released < SILENCE_LEVEL
    new_level = ((1.0 if attack_done else attacked) if stage == STAGE_ATTACK else
                 sustain + (level - sustain) * decay_coef if stage == STAGE_DECAY else
                 (0.0 if release_done else released) if stage == STAGE_RELEASE else 0.0)
    new_stage = ((STAGE_DECAY if attack_done else STAGE_ATTACK) if stage == STAGE_ATTACK else
                 (STAGE_IDLE if release_done else STAGE_RELEASE) if stage == STAGE_RELEASE
                 else stage)
    return new_level, new_stage


@njit(**INLINE)
def high_pass(st: np.ndarray, c: np.ndarray, v: int, x: float) -> float:
    """The TPT state-variable high-pass of voice ``v``, kept only by the voices that use it."""
    g = st[at(RAMP + R_G_HP, v)]
    h1, h2 = st[at(S_HP1, v)], st[at(S_HP2, v)]
    hp = (x - (2.0 * c[at(C_HP_DAMPING, v)] + g) * h1 - h2) * st[at(RAMP + R_D_HP, v)]
    v1 = g * hp
    bp = v1 + h1
    use_hp = c[at(C_HP_ON, v)] != 0.0
    st[at(S_HP1, v)] = bp + v1 if use_hp else h1
    st[at(S_HP2, v)] = h2 + 2.0 * g * bp if use_hp else h2
    return hp if use_hp else x


@njit(**INLINE)
def ladder(st: np.ndarray, c: np.ndarray, v: int, x: float, o1: float) -> float:
    """The ladder of voice ``v``, with the audio-rate cutoff of filter FM where it has it."""
    k, denominator = st[at(RAMP + R_K, v)], st[at(RAMP + R_D_LP, v)]
    depth = c[at(C_FILTER_FM, v)]
    g_fm = min(st[at(RAMP + R_G_RAW, v)] * fast_exp2(depth * o1), 6.3)
    big_g = g_fm / (1.0 + g_fm) if depth > 0.0 else st[at(RAMP + R_G_LP, v)]
    s1, s2 = st[at(S_LAD1, v)], st[at(S_LAD2, v)]
    s3, s4, y = st[at(S_LAD3, v)], st[at(S_LAD4, v)], st[at(S_LADY, v)]
    sigma = (((big_g * s1 + s2) * big_g + s3) * big_g + s4) * (1.0 - big_g)
    x_in = (LADDER_DRIVE * x * (1.0 + 0.5 * k)
            + c[at(C_FEEDBACK, v)] * 1.5 * cubic_clip(2.0 * y))
    u = cubic_clip((x_in - k * sigma) * denominator)
    step = (u - s1) * big_g
    y1 = step + s1
    st[at(S_LAD1, v)] = y1 + step
    step = (y1 - s2) * big_g
    y2 = step + s2
    st[at(S_LAD2, v)] = y2 + step
    step = (y2 - s3) * big_g
    y3 = step + s3
    st[at(S_LAD3, v)] = y3 + step
    step = (y3 - s4) * big_g
    y = step + s4
    st[at(S_LADY, v)] = y
    st[at(S_LAD4, v)] = y + step
    return y


@njit(**INLINE)
def envelopes_and_vca(st: np.ndarray, c: np.ndarray, v: int, y: float, out_l: np.ndarray,
                      out_r: np.ndarray, frame: int) -> None:
    """Both envelopes one sample on; the amp envelope's gain on ``y``, panned into the buses."""
    e1, e1_stage = envelope_step(
        st[at(S_ENV1, v)], st[at(S_ENV1_STAGE, v)], c[at(C_E1_ATTACK, v)],
        c[at(C_E1_DECAY, v)], c[at(C_E1_SUSTAIN, v)], c[at(C_E1_RELEASE, v)])
    e2, e2_stage = envelope_step(
        st[at(S_ENV2, v)], st[at(S_ENV2_STAGE, v)], c[at(C_E2_ATTACK, v)],
        c[at(C_E2_DECAY, v)], c[at(C_E2_SUSTAIN, v)], c[at(C_E2_RELEASE, v)])
    st[at(S_ENV1, v)], st[at(S_ENV1_STAGE, v)] = e1, e1_stage
    st[at(S_ENV2, v)], st[at(S_ENV2_STAGE, v)] = e2, e2_stage
    amp = e1 * c[at(C_E1_SCALE, v)] * y * LADDER_MAKEUP
    out_l[frame * LANES + v] = amp * st[at(RAMP + R_GAIN_L, v)]
    out_r[frame * LANES + v] = amp * st[at(RAMP + R_GAIN_R, v)]


@njit(**INLINE)
def ramps_step(st: np.ndarray) -> None:
    """The filter's interpolated coefficients one sample on, for every voice."""
    for i in range(R_G_LP, INTERPOLATED):
        for v in range(LANES):
            st[at(RAMP + i, v)] += st[at(STEP + i, v)]


@njit(**JIT)
def filters(st: np.ndarray, c: np.ndarray, mix: np.ndarray, osc1: np.ndarray,
            out_l: np.ndarray, out_r: np.ndarray, count: int) -> None:
    """``filter_pass`` of every voice: HPF, ladder, envelopes and VCA, written into the first
    ``count`` frames of ``out_l``/``out_r`` (a block view, so every index is non-negative).
    The voices are the bus's only source, so their samples are written, not added: the buses
    need no clearing."""
    for n in range(count):
        ramps_step(st)
        for v in range(LANES):
            x = high_pass(st, c, v, mix[n * LANES + v])
            y = ladder(st, c, v, x, osc1[n * LANES + v])
            envelopes_and_vca(st, c, v, y, out_l, out_r, n)


@njit(**JIT)
def filters_without_high_pass(st: np.ndarray, c: np.ndarray, mix: np.ndarray,
                              osc1: np.ndarray, out_l: np.ndarray, out_r: np.ndarray,
                              count: int) -> None:
    """:func:`filters` for a group in which no voice uses the HPF (none does in the 16- and
    32-parameter sets, whose HPF sits off): its state stays as it is, the sound the same."""
    for n in range(count):
        ramps_step(st)
        for v in range(LANES):
            y = ladder(st, c, v, mix[n * LANES + v], osc1[n * LANES + v])
            envelopes_and_vca(st, c, v, y, out_l, out_r, n)


@njit(**JIT)
def any_positive(consts: np.ndarray, row: int) -> bool:
    """Whether any voice has a positive value in constants row ``row``."""
    for v in range(LANES):
        if consts[at(row, v)] > 0.0:
            return True
    return False


@njit(**JIT)
def any_sounding(states: np.ndarray) -> bool:
    for v in range(LANES):
        if states[S_ENV1_STAGE * LANES + v] != STAGE_IDLE:
            return True
    return False


@njit(**JIT)
def lanes_process(params: np.ndarray, states: np.ndarray, noise: np.ndarray,
                  out_l: np.ndarray, out_r: np.ndarray, start: int, stop: int,
                  sr: float) -> None:
    """Write frames ``start:stop`` of every voice into ``out_l``/``out_r``, (frames x LANES) flat;
    frames after the last voice has fallen silent are zeros.

    ``params`` is (LANES, N_PARAMS) native values in engine order, ``states`` the voices' state
    rows (VOICE_STATE_SIZE x LANES, flat), ``noise`` their generator states. The voices share one
    clock, so they tick together; this mirrors ``voice_process`` call for call.
    """
    for v in range(LANES):
        if states[S_DIRTY * LANES + v] != 0.0:
            derive_static(params[v], lane_state(states, v), sr)
    consts = np.empty(N_CONSTANTS * LANES)
    fill_constants(params, states, consts, sr)
    # levels are fixed for the note: what one tick's constants say holds for all of them
    full_oscillators = any_positive(consts, C_GAIN2) or any_positive(consts, C_SUB)
    high_pass_used = any_positive(consts, C_HP_ON)
    mix = np.empty(CONTROL_PERIOD * LANES)
    osc1 = np.empty(CONTROL_PERIOD * LANES)
    n = start
    while n < stop and any_sounding(states):
        if states[S_COUNTDOWN * LANES] <= 0.0:
            for v in range(LANES):
                control_tick(params[v], lane_state(states, v), sr, CONTROL_PERIOD)
                states[S_COUNTDOWN * LANES + v] = CONTROL_PERIOD
            fill_constants(params, states, consts, sr)
        count = min(int(states[S_COUNTDOWN * LANES]), stop - n)
        if full_oscillators:
            oscillators(states, consts, noise, mix, osc1, count)
        else:
            oscillators_without_osc2_and_sub(states, consts, noise, mix, osc1, count)
        block_l = out_l[n * LANES:(n + count) * LANES]
        block_r = out_r[n * LANES:(n + count) * LANES]
        if high_pass_used:
            filters(states, consts, mix, osc1, block_l, block_r, count)
        else:
            filters_without_high_pass(states, consts, mix, osc1, block_l, block_r, count)
        for v in range(LANES):
            states[S_COUNTDOWN * LANES + v] -= count
            states[S_TIME * LANES + v] += count
        n += count
    out_l[n * LANES:stop * LANES] = 0.0
    out_r[n * LANES:stop * LANES] = 0.0


@njit(**JIT)
def fold_lanes_to_mono(left: np.ndarray, right: np.ndarray, out: np.ndarray) -> None:
    """``render.fold_to_mono`` of the first ``len(out)`` voices of (frames x LANES) buses, in one
    sequential pass over the buses."""
    for i in range(out.shape[1]):
        for lane in range(out.shape[0]):
            out[lane, i] = soft_clip((left[i * LANES + lane] + right[i * LANES + lane])
                                     * 0.7071067811865476)
