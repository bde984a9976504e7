"""Live play, previews and recording for real, over the JACK dummy server (.ci/run).

The dummy driver runs in real time, so these tests take wall time: the long one plays 60 s.
Each test opens its streams, finds the JACK ports they registered by comparing ``jack_lsp``
before and after, and wires them with ``jack_connect``.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator

import numpy as np
import pytest
import scipy.signal

from flowsynth_gui.audio import device
from flowsynth_gui.audio.device import AudioDevice, AudioSettings
from flowsynth_gui.audio.player import LivePlayer
from flowsynth_gui.audio.recorder import Recorder
from flowsynth_gui.synth import render

pytestmark = pytest.mark.jack

RATE, BLOCK = 48000, 256  # the dummy server's rate and period (.ci/run)
PATCH = {"OSC: Shape1": 0.7, "VCF1: Frequency": 0.6, "VCF1: Resonance": 0.5,
         "VCF1: FreqModDepth": 0.7, "Chrs1: Wet": 0.4, "Plate1: Wet": 0.3, "VCA1: Volume": 0.3}


def _jack(*args: str) -> str:
    """Run a JACK command-line client against our server; its stdout."""
    env = {**os.environ, "JACK_NO_START_SERVER": "1"}
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, f"{' '.join(args)} failed: {done.stderr.strip()}"
    return done.stdout


def _ports() -> set[str]:
    return set(_jack("jack_lsp").splitlines())


def _connect_only(source: str, sink: str) -> None:
    """Feed ``sink`` from ``source`` alone (PortAudio wires it to system:capture first)."""
    for line in _jack("jack_lsp", "-c", sink).splitlines()[1:]:
        _jack("jack_disconnect", line.strip(), sink)
    _jack("jack_connect", source, sink)


@pytest.fixture(scope="module")
def jack_device(jack_server: list[str]) -> AudioDevice:
    """PortAudio's JACK device (rescanning when PortAudio started before the server)."""
    if device.JACK_HOST_API not in device.host_api_names():
        device.refresh_devices()
    jack = [d for d in device.list_devices() if d.host_api == device.JACK_HOST_API]
    assert jack, f"PortAudio has no JACK device; host APIs: {device.host_api_names()}"
    assert jack[0].default_sample_rate == RATE, "the dummy server runs at 48 kHz (.ci/run)"
    return jack[0]


@pytest.fixture
def settings(jack_device: AudioDevice) -> AudioSettings:
    return AudioSettings(device=jack_device.index, blocksize=BLOCK)


@pytest.fixture
def player(settings: AudioSettings) -> Iterator[tuple[LivePlayer, list[str]]]:
    """A started player and the JACK output ports it registered."""
    before = _ports()
    live = LivePlayer(settings, max_voices=8, params=PATCH)
    assert live.available, live.unavailable_reason
    live.start()
    try:
        yield live, sorted(_ports() - before)
    finally:
        live.close()


@pytest.fixture
def recorder(settings: AudioSettings) -> Iterator[tuple[Recorder, str]]:
    """An armed mono recorder and its one JACK input port."""
    before = _ports()
    rec = Recorder(settings, channels=1, max_seconds=5.0)
    assert rec.available, rec.unavailable_reason
    rec.arm()
    try:
        (port,) = sorted(_ports() - before)
        yield rec, port
    finally:
        rec.close()


def _normalised_xcorr_peak(recorded: np.ndarray, reference: np.ndarray) -> float:
    a, b = recorded.astype(np.float64), reference.astype(np.float64)
    corr = scipy.signal.correlate(a, b, mode="full", method="fft")
    return float(np.max(np.abs(corr)) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_a_preview_reaches_a_connected_input_as_rendered(player, recorder) -> None:
    live, outputs = player
    rec, input_port = recorder
    _connect_only(outputs[0], input_port)
    note = render(PATCH, note=57, duration=1.5, sample_rate=RATE, note_seconds=1.0)
    rec.record()
    live.play_preview(note, RATE)
    meter = -200.0
    deadline = time.monotonic() + 1.5 + 4 * live.latency_seconds + 0.2
    while time.monotonic() < deadline:
        meter = max(meter, rec.levels.peak_dbfs)
        time.sleep(0.005)
    recorded = rec.stop(sample_rate=RATE)
    assert not live.preview_playing
    # Bit-exact through JACK it is ~1.0; a dropout on a very busy machine would lower it.
    peak = _normalised_xcorr_peak(recorded, note)
    assert peak > 0.9, f"normalised cross-correlation peak {peak:.4f} ({live.underruns} underruns)"
    expected = 20 * np.log10(np.abs(note).max())
    assert abs(meter - expected) < 1.5, f"meter peaked at {meter:.1f} dBFS, note {expected:.1f}"


def test_recording_returns_what_another_jack_client_played(recorder) -> None:
    """jack_metro (a separate JACK client) beeps 1 kHz at -6 dBFS every 100 ms into our input."""
    rec, input_port = recorder
    name = f"flowsynth-metro-{os.getpid()}"
    env = {**os.environ, "JACK_NO_START_SERVER": "1"}
    metro = subprocess.Popen(["jack_metro", "-n", name, "-f", "1000", "-A", "0.5", "-D", "50",
                              "-b", "600"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while f"{name}:600_bpm" not in _ports():
            assert metro.poll() is None and time.monotonic() < deadline, "jack_metro did not start"
            time.sleep(0.05)
        _connect_only(f"{name}:600_bpm", input_port)
        rec.record()
        time.sleep(1.2)
        recorded = rec.stop(sample_rate=RATE)
    finally:
        metro.terminate()
        metro.wait(timeout=10)
    assert abs(20 * np.log10(np.abs(recorded).max()) - 20 * np.log10(0.5)) < 0.1
    spectrum = np.abs(np.fft.rfft(recorded * np.hanning(len(recorded))))
    assert abs(np.argmax(spectrum) * RATE / len(recorded) - 1000) < 2
    loud = np.flatnonzero(np.abs(recorded) > 0.01)
    onsets = loud[np.concatenate([[True], np.diff(loud) > RATE // 100])]
    assert len(onsets) >= 10
    # The take may begin inside a beat; from the first whole one on, they come every 100 ms,
    # to the sample, unless the server dropped a cycle of ours (then off by one period).
    gaps = np.diff(onsets[1:])
    assert np.mean(gaps == RATE // 10) >= 0.8, f"beats at {onsets.tolist()}"
    assert np.all(np.abs(gaps - RATE // 10) <= BLOCK), f"beats at {onsets.tolist()}"


@pytest.mark.slow
def test_eight_voices_with_changes_every_10ms_play_60s_without_underruns(player) -> None:
    """60 s of wall time (the dummy driver runs in real time), at a 256-frame buffer."""
    live, _ = player
    rng = np.random.default_rng(0)
    moving = ["VCF1: Frequency", "VCF1: Resonance", "OSC: Shape1", "OSC: Shape2",
              "VCF1: FreqModDepth", "Chrs1: Wet", "Plate1: Wet"]
    for note in (48, 52, 55, 59, 60, 64, 67, 71):
        live.note_on(note, 90)
    seconds, changes = 60.0, 0
    start = time.monotonic()
    next_change = start
    while next_change - start < seconds:
        live.set_params({**PATCH, **dict(zip(moving, rng.uniform(0.2, 0.8, len(moving)),
                                             strict=True))})
        changes += 1
        next_change += 0.010
        time.sleep(max(0.0, next_change - time.monotonic()))
    voices = live.synth.active_voices
    report = (f"underruns {live.underruns}, PortAudio xruns {live.xruns}, frames played "
              f"{live.frames_played}, cpu_load {live.cpu_load:.3f} (peak "
              f"{live.cpu_load_peak:.3f}), {changes} parameter changes")
    print(report)
    assert voices == 8, report
    assert live.frames_played >= 0.95 * seconds * RATE, report
    assert changes >= 0.95 * seconds * 100, report
    assert live.underruns == 0, report
    assert live.render_error is None, report
    assert live.cpu_load < 0.5, report
