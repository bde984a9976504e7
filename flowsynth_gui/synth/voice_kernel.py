"""The compiled per-voice signal path: oscillators -> HPF -> ladder -> VCA, with envelopes and LFOs.

One kernel serves offline rendering (the whole note in one call) and live play (one block per
call): all state lives in arrays the caller owns, so a voice can be paused and resumed at any
sample. Modulation runs at a control rate of ``CONTROL_PERIOD`` samples and is interpolated
linearly inside each period, so cutoff, pitch and gain never step (no zipper noise).

Parameter values arrive in native (Diva) units in engine order, ``P_*`` below; the ``dsp`` field
of each spec in ``resources/synth_params.json`` documents how they are read here.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit

from flowsynth_gui.synth.dsp import (
    INLINE,
    JIT,
    cubic_clip,
    fast_exp2,
    morph_wave,
    ms_to_coef,
    next_noise,
    note_to_hz,
    poly_blep,
)

CONTROL_PERIOD = 64
SMOOTHING_TIME_S = 0.01  # live parameter changes glide over ~10 ms

# Engine order of the parameters: the Python side builds native vectors in this order.
ENGINE_ORDER = (
    "ENV1: Attack", "ENV1: Decay", "ENV1: Sustain", "ENV1: Release", "ENV1: Velocity",
    "ENV1: KeyFollow",
    "ENV2: Attack", "ENV2: Decay", "ENV2: Sustain", "ENV2: Release", "ENV2: Velocity",
    "ENV2: KeyFollow",
    "LFO1: Rate", "LFO1: Delay", "LFO1: Phase", "LFO1: DepthModDpt",
    "LFO2: Rate", "LFO2: Delay", "LFO2: Phase", "LFO2: DepthModDpt", "LFO2: FreqModDpt",
    "MOD: SlewRate",
    "OSC: Tune1", "OSC: Tune2", "OSC: Tune3", "OSC: Shape1", "OSC: Shape2", "OSC: Shape3",
    "OSC: Volume1", "OSC: Volume2", "OSC: Volume3", "OSC: OscMix", "OSC: FM", "OSC: NoiseVol",
    "OSC: Vibrato", "OSC: PulseWidth", "OSC: PWModDepth", "OSC: Tune1ModDepth",
    "OSC: DigitalShape2", "OSC: DigitalShape4",
    "HPF: Frequency", "HPF: Resonance",
    "VCF1: Frequency", "VCF1: Resonance", "VCF1: KeyFollow", "VCF1: Feedback",
    "VCF1: FreqModDepth", "VCF1: FreqMod2Depth", "VCF1: FilterFM", "VCF1: FilterFMModDepth",
    "VCF1: ResonanceModDepth",
    "VCA1: Volume", "VCA1: Pan", "VCA1: ModDepth", "VCA1: PanModDepth",
    "Chrs1: Rate", "Chrs1: Depth", "Chrs1: Wet", "Rtary1: Drive", "Rtary1: Fast",
    "Plate1: Predelay", "Plate1: Decay", "Plate1: Diffusion", "Plate1: Wet",
    "Plate2: Damp", "Plate2: Diffusion", "Plate2: Size",
    "Delay1: Time", "Delay1: Feedback", "Delay1: LowPass", "Delay1: HighPass", "Delay1: Wow",
    "Delay1: Wet",
)
N_PARAMS = len(ENGINE_ORDER)

(P_E1A, P_E1D, P_E1S, P_E1R, P_E1VEL, P_E1KF,
 P_E2A, P_E2D, P_E2S, P_E2R, P_E2VEL, P_E2KF,
 P_L1RATE, P_L1DLY, P_L1PH, P_L1DMD,
 P_L2RATE, P_L2DLY, P_L2PH, P_L2DMD, P_L2FMD,
 P_SLEW,
 P_TUNE1, P_TUNE2, P_TUNE3, P_SHAPE1, P_SHAPE2, P_SHAPE3,
 P_VOL1, P_VOL2, P_VOL3, P_OSCMIX, P_FM, P_NOISE,
 P_VIB, P_PW, P_PWM, P_TM1,
 P_RING, P_SUB,
 P_HPF, P_HPRES,
 P_CUT, P_RES, P_KEYSCL, P_FBACK,
 P_FMDPT, P_FM2DPT, P_FFM, P_FFMDPT,
 P_RESDPT,
 P_VOL, P_PAN, P_TREM, P_PANMOD) = range(55)

# Voice state slots (float64 array of VOICE_STATE_SIZE).
(S_PH1, S_PH2, S_PH3, S_PHSUB,
 S_LAD1, S_LAD2, S_LAD3, S_LAD4, S_LADY,
 S_HP1, S_HP2,
 S_ENV1, S_ENV1_STAGE, S_ENV2, S_ENV2_STAGE,
 S_LFO1_PH, S_LFO2_PH, S_LFO2_LAG,
 S_TIME, S_NOTE, S_VELOCITY, S_GATE, S_SMOOTH_READY, S_COUNTDOWN,
 S_RELEASE_TIME, S_DIRTY,
 S_E1_ATTACK, S_E1_DECAY, S_E1_RELEASE, S_E2_ATTACK, S_E2_DECAY, S_E2_RELEASE,
 S_LAG_COEF, S_HP_G, S_HP_D,
 S_RAMPS) = range(36)
# Values interpolated across each control period, from slot S_RAMPS on, followed by their
# per-sample steps. The filters' divisions are done here, once per period, not per sample.
(R_DT1, R_DT2, R_DT3, R_G_LP, R_K, R_D_LP, R_G_HP, R_D_HP, R_GAIN_L, R_GAIN_R,
 R_G_RAW) = range(11)
INTERPOLATED = 11
VOICE_STATE_SIZE = S_RAMPS + 2 * INTERPOLATED

STAGE_ATTACK, STAGE_DECAY, STAGE_RELEASE, STAGE_IDLE = 0.0, 1.0, 2.0, 3.0
SILENCE_LEVEL = 1e-5

# What holds for one control period (see ``tick_constants``): envelope segments
# (attack step, decay coefficient, sustain, release coefficient), oscillator gains and shapes,
# (FM index, ring, sub, noise) levels, filter FM depth, ladder feedback, HPF damping, pulse width.
TickConstants = namedtuple("TickConstants", ["env1", "env2", "gains", "shapes", "levels",
                                             "filter_fm", "feedback", "hp_damping", "width"])
# Key follow pivots at C2, not at the rendering note 60, so that key-follow amounts are audible
# (and learnable) in a dataset rendered at note 60.
KEY_PIVOT = 36.0
MIN_TIME_CONSTANT = 0.0015
# The ladder's input stage saturates; a single oscillator at full level enters at 0.3, where
# the clipper is nearly linear (its harmonics would alias at high notes), and the make-up gain
# restores the level. Several oscillators, noise and feedback still drive it into saturation.
LADDER_DRIVE, LADDER_MAKEUP = 0.6, 2.0
HPF_OFF_BELOW = 30.001  # HPF: Frequency at its minimum (with no resonance) bypasses the filter



@njit(**JIT)
def envelope_time(value: float, note: float, key_follow: float) -> float:
    """Diva-style 0..100 time knob -> seconds (2 ms .. 10 s), shortened above the pivot note."""
    seconds = 0.002 * 5000.0 ** (value * 0.01)
    return seconds * 2.0 ** (-key_follow * 0.01 * (note - KEY_PIVOT) / 24.0)


@njit(**JIT)
def advance_envelope(level: float, stage: float, shape: tuple) -> tuple[float, float]:
    """One sample of an ADSR: linear attack, exponential decay and release.

    ``shape`` is (attack step, decay coefficient, sustain level, release coefficient).
    """
    attack_step, decay_coef, sustain, release_coef = shape
    if stage == STAGE_ATTACK:
        level += attack_step
        if level >= 1.0:
            return 1.0, STAGE_DECAY
        return level, stage
    if stage == STAGE_DECAY:
        return sustain + (level - sustain) * decay_coef, stage
    if stage == STAGE_RELEASE:
        level *= release_coef
        if level < SILENCE_LEVEL:
            return 0.0, STAGE_IDLE
        return level, stage
    return 0.0, stage


@njit(**JIT)
def lfo_rate_hz(rate: float) -> float:
    return 5.0 * 2.0 ** (rate / 1.5)


@njit(**JIT)
def lfo_fade(time_s: float, delay_knob: float) -> float:
    fade_s = 5.0 * (delay_knob * 0.01) ** 2
    if fade_s <= 1e-4:
        return 1.0
    return min(1.0, time_s / fade_s)


@njit(**JIT)
def cutoff_coef(note: float, sample_rate: float) -> float:
    """Pre-warped one-pole coefficient for a cutoff given as a MIDI note, kept below 0.45 fs."""
    hz = min(note_to_hz(note), 0.45 * sample_rate)
    return math.tan(math.pi * hz / sample_rate)


@njit(**JIT)
def smooth_params(target: np.ndarray, smoothed: np.ndarray, coef: float) -> bool:
    """Glide ``smoothed`` towards ``target``; snap when close. True if anything moved."""
    moved = False
    for i in range(target.shape[0]):
        difference = smoothed[i] - target[i]
        if difference != 0.0:
            moved = True
            smoothed[i] = target[i] + difference * coef if abs(difference) > 1e-6 else target[i]
    return moved


@njit(**JIT)
def derive_static(p: np.ndarray, s: np.ndarray, sr: float) -> None:
    """Coefficients that change only with the parameters, not with modulation: computed when
    the parameters move (``S_DIRTY``), not on every control tick."""
    note = s[S_NOTE]
    s[S_E1_ATTACK], s[S_E1_DECAY], s[S_E1_RELEASE] = env_sample_coefs(p, P_E1A, note, sr)
    s[S_E2_ATTACK], s[S_E2_DECAY], s[S_E2_RELEASE] = env_sample_coefs(p, P_E2A, note, sr)
    s[S_LAG_COEF] = ms_to_coef(0.25 * (p[P_SLEW] * 0.01) ** 2, sr / CONTROL_PERIOD)
    g_hp = cutoff_coef(p[P_HPF], sr)
    s[S_HP_G] = g_hp
    s[S_HP_D] = 1.0 / (1.0 + 2.0 * hp_damping_of(p[P_HPRES]) * g_hp + g_hp * g_hp)
    s[S_DIRTY] = 0.0


@njit(**JIT)
def env_sample_coefs(p: np.ndarray, base: int, note: float,
                     sr: float) -> tuple[float, float, float]:
    """Per-sample attack step and decay/release coefficients of the envelope at ``base``."""
    key_follow = p[base + 5]
    attack = envelope_time(p[base], note, key_follow)
    # Exponential segments reach -26 dB in the knob's time; never faster than a 1.5 ms time
    # constant, which would click.
    decay = max(envelope_time(p[base + 1], note, key_follow) / 3.0, MIN_TIME_CONSTANT)
    release = max(envelope_time(p[base + 3], note, key_follow) / 3.0, MIN_TIME_CONSTANT)
    return 1.0 / (attack * sr), ms_to_coef(decay, sr), ms_to_coef(release, sr)


@njit(**JIT)
def control_tick(p: np.ndarray, s: np.ndarray, sr: float, period: int) -> None:
    """Compute modulation at the end of the next control period and set the interpolators."""
    note = s[S_NOTE]
    time_s = s[S_TIME] / sr
    env2 = s[S_ENV2] * (1.0 - p[P_E2VEL] * 0.01 * (1.0 - s[S_VELOCITY] / 127.0))
    dt_period = period / sr

    # LFO1: sine, LFO2: triangle then lag (MOD: SlewRate); both restart at note on.
    l1_depth = lfo_fade(time_s, p[P_L1DLY]) * (1.0 - p[P_L1DMD] * 0.01 * (1.0 - env2))
    s[S_LFO1_PH] = (s[S_LFO1_PH] + lfo_rate_hz(p[P_L1RATE]) * dt_period) % 1.0
    lfo1 = l1_depth * math.sin(2.0 * math.pi * s[S_LFO1_PH])
    l2_rate = lfo_rate_hz(p[P_L2RATE]) * 2.0 ** (4.0 * p[P_L2FMD] * 0.01 * env2)
    s[S_LFO2_PH] = (s[S_LFO2_PH] + l2_rate * dt_period) % 1.0
    l2_depth = lfo_fade(time_s, p[P_L2DLY]) * (1.0 - p[P_L2DMD] * 0.01 * (1.0 - env2))
    lfo2_raw = l2_depth * (4.0 * abs(s[S_LFO2_PH] - 0.5) - 1.0)
    s[S_LFO2_LAG] = lfo2_raw + (s[S_LFO2_LAG] - lfo2_raw) * s[S_LAG_COEF]
    lfo2 = s[S_LFO2_LAG]

    vibrato = p[P_VIB] * 0.01 * lfo1
    pitch1 = note + p[P_TUNE1] + vibrato + 24.0 * p[P_TM1] * 0.01 * env2
    cutoff = (p[P_CUT] + p[P_KEYSCL] * 0.01 * (note - KEY_PIVOT) + p[P_FMDPT] * env2
              + p[P_FM2DPT] * lfo2)
    resonance = min(1.0, max(0.0, p[P_RES] * 0.01 + p[P_RESDPT] * 0.01 * env2))

    tremolo = 1.0 - p[P_TREM] * 0.01 * 0.5 * (1.0 + lfo2)
    gain = (p[P_VOL] * 0.01) ** 2 * tremolo
    pan = min(1.0, max(-1.0, p[P_PAN] * 0.01 + p[P_PANMOD] * 0.01 * lfo1))
    angle = (pan + 1.0) * 0.25 * math.pi

    g_lp = cutoff_coef(cutoff, sr)
    big_g = g_lp / (1.0 + g_lp)
    k = 4.1 * resonance

    ramp_to(s, R_DT1, min(note_to_hz(pitch1) / sr, 0.45), period)
    ramp_to(s, R_DT2, min(note_to_hz(note + p[P_TUNE2] + vibrato) / sr, 0.45), period)
    ramp_to(s, R_DT3, min(note_to_hz(note + p[P_TUNE3] + vibrato) / sr, 0.45), period)
    ramp_to(s, R_G_LP, big_g, period)
    ramp_to(s, R_G_RAW, g_lp, period)
    ramp_to(s, R_K, k, period)
    ramp_to(s, R_D_LP, 1.0 / (1.0 + k * big_g ** 4), period)
    ramp_to(s, R_G_HP, s[S_HP_G], period)
    ramp_to(s, R_D_HP, s[S_HP_D], period)
    ramp_to(s, R_GAIN_L, gain * math.cos(angle), period)
    ramp_to(s, R_GAIN_R, gain * math.sin(angle), period)
    s[S_SMOOTH_READY] = 1.0


@njit(**JIT)
def hp_damping_of(resonance: float) -> float:
    """SVF damping R = 1 / (2 Q) for Q from 0.5 (no resonance) to 5."""
    return 1.0 / (2.0 * (0.5 + 4.5 * resonance * 0.01))


@njit(**JIT)
def ramp_to(s: np.ndarray, which: int, target: float, period: int) -> None:
    """Interpolate ramp ``which`` to ``target`` over the next ``period`` samples."""
    slot = S_RAMPS + which
    if s[S_SMOOTH_READY] == 0.0:  # first tick of a note: start at the target, no glide in
        s[slot] = target
    s[slot + INTERPOLATED] = (target - s[slot]) / period


@njit(**JIT)
def tick_constants(p: np.ndarray, s: np.ndarray, sr: float):  # noqa: ANN201 (numba tuple)
    """Values that hold for one control period: envelope rates, mix gains, filter settings."""
    mix2 = p[P_OSCMIX] * 0.01
    gains = ((1.0 - mix2) * p[P_VOL1] * 0.01, mix2 * p[P_VOL2] * 0.01, p[P_VOL3] * 0.01)
    shapes = (p[P_SHAPE1] * 0.3, p[P_SHAPE2] * 0.3, p[P_SHAPE3] * 0.3)
    env2 = s[S_ENV2]
    ffm = min(1.0, max(0.0, p[P_FFM] * 0.01 + p[P_FFMDPT] * 0.01 * env2)) * 4.0
    hp_damping = hp_damping_of(p[P_HPRES])
    width = 0.05 + 0.009 * p[P_PW] + 0.45 * p[P_PWM] * 0.01 * s[S_LFO2_LAG]
    width = min(0.95, max(0.05, width))
    levels = (4.0 * p[P_FM] * 0.01, p[P_RING] * 0.01, p[P_SUB] * 0.01, p[P_NOISE] * 0.01)
    return TickConstants((s[S_E1_ATTACK], s[S_E1_DECAY], p[P_E1S] * 0.01, s[S_E1_RELEASE]),
                         (s[S_E2_ATTACK], s[S_E2_DECAY], p[P_E2S] * 0.01, s[S_E2_RELEASE]),
                         gains, shapes, levels, ffm, p[P_FBACK] * 0.01, hp_damping, width)


@njit(**JIT)
def oscillator_pass(s: np.ndarray, ramps: np.ndarray, steps: np.ndarray, consts: tuple,
                    noise_state: np.uint64, mix: np.ndarray, osc1: np.ndarray,
                    count: int) -> np.uint64:
    """Oscillators, sub and noise for ``count`` samples into ``mix`` (and osc 1 alone into
    ``osc1``, for filter FM). Apart from the phases, samples are independent: this loop has
    plenty of parallelism, unlike the filters, which is why the two run as separate passes."""
    gains, shapes, levels, width = consts.gains, consts.shapes, consts.levels, consts.width
    g1, g2, g3 = gains
    shape1, shape2, shape3 = shapes
    fm_index, ring, sub, noise = levels
    ph1, ph2, ph3, phsub = s[S_PH1], s[S_PH2], s[S_PH3], s[S_PHSUB]
    dt1, dt2_base, dt3 = ramps[R_DT1], ramps[R_DT2], ramps[R_DT3]
    for n in range(count):
        dt1 += steps[R_DT1]
        dt2_base += steps[R_DT2]
        dt3 += steps[R_DT3]
        # osc1 frequency-modulates osc2 (linear FM); ring and sub derive from osc1.
        o1 = morph_wave(ph1, dt1, shape1, width)
        x = g1 * o1
        dt2 = dt2_base
        if g2 > 0.0:  # silent oscillators cost nothing
            if fm_index > 0.0:
                dt2 = min(0.45, max(1e-7, dt2 * (1.0 + fm_index * o1)))
            o2 = morph_wave(ph2, dt2, shape2, width)
            x += g2 * (o2 + ring * (o1 * o2 - o2))
        if g3 > 0.0:
            x += g3 * morph_wave(ph3, dt3, shape3, width)
        if sub > 0.0:
            sub_fall = phsub + 0.5 if phsub < 0.5 else phsub - 0.5
            x += sub * (poly_blep(phsub, 0.5 * dt1) - poly_blep(sub_fall, 0.5 * dt1)
                        + (1.0 if phsub < 0.5 else -1.0))
        if noise > 0.0:
            noise_state, white = next_noise(noise_state)
            x += noise * white
        mix[n] = x
        osc1[n] = o1
        ph1 += dt1
        if ph1 >= 1.0:
            ph1 -= 1.0
        ph2 += dt2
        if ph2 >= 1.0:
            ph2 -= 1.0
        ph3 += dt3
        if ph3 >= 1.0:
            ph3 -= 1.0
        phsub += 0.5 * dt1
        if phsub >= 1.0:
            phsub -= 1.0
    s[S_PH1], s[S_PH2], s[S_PH3], s[S_PHSUB] = ph1, ph2, ph3, phsub
    ramps[R_DT1], ramps[R_DT2], ramps[R_DT3] = dt1, dt2_base, dt3
    return noise_state


@njit(**JIT)
def filter_pass(s: np.ndarray, ramps: np.ndarray, steps: np.ndarray, consts: tuple,
                e1_scale: float, hp_on: bool, mix: np.ndarray, osc1: np.ndarray,
                out_l: np.ndarray, out_r: np.ndarray, offset: int, count: int) -> None:
    """High-pass, ladder, envelopes and VCA over ``count`` samples, added into the outputs."""
    env1_shape, env2_shape, ffm = consts.env1, consts.env2, consts.filter_fm
    feedback, hp_r = consts.feedback, consts.hp_damping
    lad1, lad2, lad3, lad4, lady = s[S_LAD1], s[S_LAD2], s[S_LAD3], s[S_LAD4], s[S_LADY]
    hp1, hp2 = s[S_HP1], s[S_HP2]
    env1, env1_stage, env2, env2_stage = s[S_ENV1], s[S_ENV1_STAGE], s[S_ENV2], s[S_ENV2_STAGE]
    for n in range(count):
        for i in range(R_G_LP, INTERPOLATED):
            ramps[i] += steps[i]
        x = mix[n]
        # High-pass: TPT state-variable filter, off at its lowest setting (as in Diva).
        if hp_on:
            g = ramps[R_G_HP]
            hp = (x - (2.0 * hp_r + g) * hp1 - hp2) * ramps[R_D_HP]
            v1 = g * hp
            bp = v1 + hp1
            hp1 = bp + v1
            hp2 = hp2 + 2.0 * g * bp
            x = hp

        # Ladder: zero-delay-feedback 4-pole with a saturating input stage (bounded at any k).
        big_g, k, denominator = ramps[R_G_LP], ramps[R_K], ramps[R_D_LP]
        if ffm > 0.0:
            # Audio-rate cutoff modulation: G follows every sample; the solve's normaliser
            # stays at its control-rate value (u is clipped, so the ladder stays bounded).
            g = min(ramps[R_G_RAW] * fast_exp2(ffm * osc1[n]), 6.3)
            big_g = g / (1.0 + g)
        sigma = (((big_g * lad1 + lad2) * big_g + lad3) * big_g + lad4) * (1.0 - big_g)
        x_in = LADDER_DRIVE * x * (1.0 + 0.5 * k)
        if feedback > 0.0:
            x_in += feedback * 1.5 * cubic_clip(2.0 * lady)
        u = cubic_clip((x_in - k * sigma) * denominator)
        v = (u - lad1) * big_g
        y1 = v + lad1
        lad1 = y1 + v
        v = (y1 - lad2) * big_g
        y2 = v + lad2
        lad2 = y2 + v
        v = (y2 - lad3) * big_g
        y3 = v + lad3
        lad3 = y3 + v
        v = (y3 - lad4) * big_g
        lady = v + lad4
        lad4 = lady + v

        env1, env1_stage = advance_envelope(env1, env1_stage, env1_shape)
        env2, env2_stage = advance_envelope(env2, env2_stage, env2_shape)
        amp = env1 * e1_scale * lady * LADDER_MAKEUP
        out_l[offset + n] += amp * ramps[R_GAIN_L]
        out_r[offset + n] += amp * ramps[R_GAIN_R]
    s[S_LAD1], s[S_LAD2], s[S_LAD3], s[S_LAD4], s[S_LADY] = lad1, lad2, lad3, lad4, lady
    s[S_HP1], s[S_HP2] = hp1, hp2
    s[S_ENV1], s[S_ENV1_STAGE], s[S_ENV2], s[S_ENV2_STAGE] = env1, env1_stage, env2, env2_stage


@njit(**INLINE)
def velocity_scale(p: np.ndarray, s: np.ndarray) -> float:
    """The amp envelope's scale for the note's velocity (ENV1: Velocity)."""
    return 1.0 - p[P_E1VEL] * 0.01 * (1.0 - s[S_VELOCITY] / 127.0)


@njit(**INLINE)
def high_pass_on(p: np.ndarray) -> bool:
    """The HPF runs unless it sits at its lowest setting with no resonance (as in Diva)."""
    return p[P_HPF] > HPF_OFF_BELOW or p[P_HPRES] > 0.0


@njit(**JIT)
def voice_process(target: np.ndarray, smoothed: np.ndarray, s: np.ndarray, rng: np.ndarray,
                  out_l: np.ndarray, out_r: np.ndarray, start: int, stop: int,
                  sr: float, smoothing: bool) -> bool:
    """Add the voice's samples ``start:stop`` into ``out_l``/``out_r``; False once it is silent.

    ``target`` holds native parameter values in engine order. With ``smoothing`` the voice
    glides ``smoothed`` towards it (live play); offline rendering passes the same array twice.
    Work proceeds one control period at a time: modulation tick, oscillator pass, filter pass.
    """
    smooth_coef = ms_to_coef(SMOOTHING_TIME_S, sr / CONTROL_PERIOD) if smoothing else 0.0
    p = smoothed
    e1_scale = velocity_scale(p, s)
    if s[S_DIRTY] != 0.0:
        derive_static(p, s, sr)
    consts = tick_constants(p, s, sr)
    hp_on = high_pass_on(p)
    noise_state = rng[0]
    # Local copies of the interpolated values and their per-sample steps.
    ramps = s[S_RAMPS:S_RAMPS + INTERPOLATED].copy()
    steps = s[S_RAMPS + INTERPOLATED:S_RAMPS + 2 * INTERPOLATED].copy()
    mix = np.empty(CONTROL_PERIOD)
    osc1 = np.empty(CONTROL_PERIOD)
    n = start
    while n < stop and s[S_ENV1_STAGE] != STAGE_IDLE:  # a finished voice adds nothing
        if s[S_COUNTDOWN] <= 0.0:
            if smoothing and smooth_params(target, smoothed, smooth_coef):
                s[S_DIRTY] = 1.0
            if s[S_DIRTY] != 0.0:
                derive_static(p, s, sr)
            s[S_RAMPS:S_RAMPS + INTERPOLATED] = ramps
            control_tick(p, s, sr, CONTROL_PERIOD)
            ramps[:] = s[S_RAMPS:S_RAMPS + INTERPOLATED]
            steps[:] = s[S_RAMPS + INTERPOLATED:S_RAMPS + 2 * INTERPOLATED]
            s[S_COUNTDOWN] = CONTROL_PERIOD
            consts = tick_constants(p, s, sr)
            hp_on = high_pass_on(p)
        count = min(int(s[S_COUNTDOWN]), stop - n)
        noise_state = oscillator_pass(s, ramps, steps, consts, noise_state, mix, osc1, count)
        filter_pass(s, ramps, steps, consts, e1_scale, hp_on, mix, osc1, out_l, out_r, n, count)
        s[S_COUNTDOWN] -= count
        s[S_TIME] += count
        n += count
    rng[0] = noise_state
    s[S_RAMPS:S_RAMPS + INTERPOLATED] = ramps
    return s[S_ENV1_STAGE] != STAGE_IDLE


@njit(**JIT)
def voice_start(p: np.ndarray, s: np.ndarray, note: float, velocity: float) -> None:
    """Reset a voice for a new note (phases, filters, envelopes, LFO start phases)."""
    s[:] = 0.0
    s[S_NOTE] = note
    s[S_VELOCITY] = velocity
    s[S_GATE] = 1.0
    s[S_DIRTY] = 1.0
    s[S_ENV1_STAGE] = STAGE_ATTACK
    s[S_ENV2_STAGE] = STAGE_ATTACK
    s[S_LFO1_PH] = p[P_L1PH] * 0.01
    s[S_LFO2_PH] = p[P_L2PH] * 0.01
    # Osc 2 and 3 start a third and two thirds of a cycle later, as free-running analogue
    # oscillators would not be in phase: keeps equal-pitch oscillators from summing coherently.
    s[S_PH2] = 1.0 / 3.0
    s[S_PH3] = 2.0 / 3.0


@njit(**JIT)
def voice_release(s: np.ndarray) -> None:
    s[S_GATE] = 0.0
    s[S_RELEASE_TIME] = s[S_TIME]
    if s[S_ENV1_STAGE] != STAGE_IDLE:
        s[S_ENV1_STAGE] = STAGE_RELEASE
    if s[S_ENV2_STAGE] != STAGE_IDLE:
        s[S_ENV2_STAGE] = STAGE_RELEASE
