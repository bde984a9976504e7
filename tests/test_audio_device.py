"""Device settings and selection, and life without PortAudio (no device needed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from flowsynth_gui.audio.device import (
    AudioDevice,
    AudioSettings,
    AudioSettingsError,
    AudioUnavailable,
    select_device,
)

REPO = Path(__file__).resolve().parents[1]

DEVICES = [
    AudioDevice(0, "HDA Intel PCH: ALC3246 Analog (hw:0,0)", "ALSA", 2, 2, 44100),
    AudioDevice(1, "HDA Intel PCH: HDMI 0 (hw:0,3)", "ALSA", 0, 8, 48000),
    AudioDevice(2, "USB Mic", "ALSA", 1, 0, 48000),
    AudioDevice(3, "system", "JACK Audio Connection Kit", 2, 2, 48000),
]


@pytest.mark.parametrize(("wanted", "kind", "index"), [
    (None, "output", 3),  # the default index given below
    (1, "output", 1),
    ("system", "output", 3),  # exact name
    ("system (JACK Audio Connection Kit)", "input", 3),  # exact label
    ("usb mic", "input", 2),  # case-insensitive part of a name
    ("jack", "output", 3),  # part of the host API
])
def test_devices_are_picked_by_index_name_label_or_default(wanted, kind, index) -> None:
    assert select_device(DEVICES, wanted, kind, default_index=3).index == index


def test_without_a_usable_default_the_first_device_of_the_kind_is_picked() -> None:
    assert select_device(DEVICES, None, "input", default_index=1).index == 0  # 1 has no input
    assert select_device(DEVICES, None, "output").index == 0


@pytest.mark.parametrize(("devices", "wanted", "kind", "message"), [
    ([], None, "output", "no audio output device found"),
    (DEVICES, 2, "output", "no output device 2; the output devices are: 0: HDA"),
    (DEVICES, "HDMI", "input", "no input device 'HDMI'"),
    (DEVICES, "HDA Intel", "output", "ambiguous"),
])
def test_missing_or_ambiguous_devices_say_what_there_is(devices, wanted, kind, message) -> None:
    with pytest.raises(AudioUnavailable, match=message):
        select_device(devices, wanted, kind)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"blocksize": 8}, "buffer size 8 is outside 16-8192"),
    ({"blocksize": 100_000}, "outside"),
    ({"blocksize": 256.0}, "whole number"),
    ({"blocksize": True}, "whole number"),
    ({"sample_rate": 1000}, "1000 Hz is outside 8000-192000"),
    ({"sample_rate": 44100.5}, "whole number"),
    ({"device": -1}, "negative"),
    ({"device": "  "}, "empty"),
    ({"device": 1.5}, "index, a name or None"),
])
def test_bad_settings_are_refused_with_a_message(kwargs, message) -> None:
    with pytest.raises(AudioSettingsError, match=message):
        AudioSettings(**kwargs)


def test_good_settings_are_kept() -> None:
    settings = AudioSettings(device="system", sample_rate=44100, blocksize=128)
    assert (settings.device, settings.sample_rate, settings.blocksize) == ("system", 44100, 128)
    assert issubclass(AudioSettingsError, ValueError)


_WITHOUT_PORTAUDIO = textwrap.dedent("""
    import json, sys
    import flowsynth_gui.audio as audio
    lazy = "sounddevice" not in sys.modules
    player = audio.LivePlayer()
    recorder = audio.Recorder()
    player.set_params({"VCF1: Frequency": 0.3})
    player.note_on(60)
    try:
        player.start()
        started = "started"
    except audio.AudioUnavailable as err:
        started = str(err)
    try:
        audio.list_devices()
        listed = "listed"
    except audio.AudioUnavailable as err:
        listed = str(err)
    print(json.dumps({"lazy": lazy, "player": [player.available, player.unavailable_reason],
                      "recorder": [recorder.available, recorder.unavailable_reason],
                      "started": started, "listed": listed}))
""")


def test_without_portaudio_everything_constructs_and_says_why(tmp_path: Path) -> None:
    """A stand-in sounddevice fails to load as the real one does without libportaudio."""
    (tmp_path / "sounddevice.py").write_text(
        "raise OSError('PortAudio library not found')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    done = subprocess.run([sys.executable, "-c", _WITHOUT_PORTAUDIO], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["lazy"], "importing flowsynth_gui.audio must not load sounddevice"
    for available, reason in (report["player"], report["recorder"]):
        assert available is False
        assert "PortAudio is not available" in reason and "libportaudio2" in reason
    assert "PortAudio is not available" in report["started"]
    assert "PortAudio is not available" in report["listed"]
