"""Live audio services: device choice, live playback with previews, recording.

- :mod:`.device` — PortAudio devices, settings and streams (the only sounddevice user, lazily).
- :mod:`.ring` — the lock-free frame ring between the render thread and the audio callback.
- :mod:`.player` — :class:`LivePlayer`: the polyphonic synth and previews on one output.
- :mod:`.recorder` — :class:`Recorder`: level meter and trimmed mono takes.

No Qt here; without PortAudio or a device everything constructs and reports
``available=False`` with the reason.
"""

from flowsynth_gui.audio.device import (
    AudioDevice,
    AudioSettings,
    AudioSettingsError,
    AudioUnavailable,
    host_api_names,
    list_devices,
    refresh_devices,
    select_device,
)
from flowsynth_gui.audio.player import LivePlayer
from flowsynth_gui.audio.recorder import Levels, NoSignalError, Recorder, trim_silence
from flowsynth_gui.audio.ring import FrameRing

__all__ = [
    "AudioDevice",
    "AudioSettings",
    "AudioSettingsError",
    "AudioUnavailable",
    "FrameRing",
    "Levels",
    "LivePlayer",
    "NoSignalError",
    "Recorder",
    "host_api_names",
    "list_devices",
    "refresh_devices",
    "select_device",
    "trim_silence",
]
