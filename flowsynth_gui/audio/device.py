"""Audio devices: discovery, selection, settings, and opening PortAudio streams.

This is the only module that touches ``sounddevice``, and it imports it lazily: importing
FlowSynth never loads PortAudio, and a machine without PortAudio (or without any device) gets an
:class:`AudioUnavailable` with a message to show, never a crash at import time.

>>> settings = AudioSettings(device="system", sample_rate=48000, blocksize=256)
>>> settings.blocksize
256
>>> try:
...     AudioSettings(blocksize=3)
... except AudioSettingsError as err:
...     print(err)
buffer size 3 is outside 16-8192 frames; pick e.g. 256 (about 5 ms at 48 kHz)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal, Protocol

__all__ = [
    "BLOCKSIZE_RANGE",
    "JACK_HOST_API",
    "SAMPLE_RATE_RANGE",
    "AudioDevice",
    "AudioSettings",
    "AudioSettingsError",
    "AudioUnavailable",
    "Stream",
    "StreamConfig",
    "Kind",
    "close_stream",
    "host_api_names",
    "list_devices",
    "open_stream",
    "refresh_devices",
    "resolve",
    "select_device",
]

Kind = Literal["output", "input"]
JACK_HOST_API = "JACK Audio Connection Kit"
BLOCKSIZE_RANGE = (16, 8192)  # 8192 is the live synth's largest block
SAMPLE_RATE_RANGE = (8000, 192000)


class AudioUnavailable(RuntimeError):
    """No audio: PortAudio is missing, no device fits, or a stream cannot open.

    The message says why and what to do; the app keeps working without sound.
    """


class AudioSettingsError(ValueError):
    """A device setting (sample rate, buffer size, device) that cannot be used as given."""


class Stream(Protocol):
    """The part of a sounddevice stream the players use."""

    active: bool

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class AudioDevice:
    """One PortAudio device as the user sees it."""

    index: int
    name: str
    host_api: str
    max_input_channels: int
    max_output_channels: int
    default_sample_rate: int

    @property
    def label(self) -> str:
        """``name (host API)``, unique enough to show in a device menu."""
        return f"{self.name} ({self.host_api})"

    def channels(self, kind: Kind) -> int:
        """How many channels this device offers for ``kind``."""
        return self.max_output_channels if kind == "output" else self.max_input_channels


@dataclass(frozen=True)
class AudioSettings:
    """What the user chose: device (index, name, or None for the default), rate, buffer size.

    ``sample_rate=None`` takes the device's own rate (JACK allows no other). Values are checked
    here, so a bad settings file fails with a message instead of deep inside PortAudio.
    """

    device: int | str | None = None
    sample_rate: int | None = None
    blocksize: int = 256

    def __post_init__(self) -> None:
        _check_device_choice(self.device)
        if self.sample_rate is not None:
            _check_whole("sample rate", self.sample_rate)
            low, high = SAMPLE_RATE_RANGE
            if not low <= self.sample_rate <= high:
                raise AudioSettingsError(f"sample rate {self.sample_rate} Hz is outside "
                                         f"{low}-{high} Hz; pick e.g. 48000 or 44100")
        _check_whole("buffer size", self.blocksize)
        low, high = BLOCKSIZE_RANGE
        if not low <= self.blocksize <= high:
            raise AudioSettingsError(f"buffer size {self.blocksize} is outside {low}-{high} "
                                     "frames; pick e.g. 256 (about 5 ms at 48 kHz)")


def _check_whole(what: str, value: object) -> None:
    # bool is an int subclass; True as a buffer size is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise AudioSettingsError(f"{what} must be a whole number, got {value!r}")


def _check_device_choice(device: object) -> None:
    if device is None:
        return
    if isinstance(device, bool) or not isinstance(device, int | str):
        raise AudioSettingsError(f"device must be an index, a name or None, got {device!r}")
    if isinstance(device, int) and device < 0:
        raise AudioSettingsError(f"device index {device} is negative; use None for the default")
    if isinstance(device, str) and not device.strip():
        raise AudioSettingsError("device name is empty; use None for the default device")


@dataclass(frozen=True)
class StreamConfig:
    """A device and format that PortAudio accepted for one direction."""

    kind: Kind
    device: AudioDevice
    sample_rate: int
    blocksize: int
    channels: int


# -- PortAudio access ---------------------------------------------------------------------------


def _sounddevice() -> ModuleType:
    """Import sounddevice on first use; its absence becomes AudioUnavailable."""
    try:
        import sounddevice
    except OSError as err:  # sounddevice raises OSError when libportaudio is missing
        raise AudioUnavailable(f"PortAudio is not available ({err}); install it (Debian: "
                               "apt install libportaudio2) to play and record sound") from err
    except ImportError as err:
        raise AudioUnavailable("the sounddevice package is not installed; reinstall FlowSynth "
                               "(pip install -e .) to play and record sound") from err
    return sounddevice


def host_api_names() -> list[str]:
    """The host APIs PortAudio found (ALSA, JACK, ...), in PortAudio's order."""
    sd = _sounddevice()
    return [str(api["name"]) for api in sd.query_hostapis()]


def refresh_devices() -> None:
    """Rescan devices and host APIs (PortAudio scans once, when first loaded).

    Needed after a JACK server starts or a device is plugged in. Call it only while no stream
    of this process is open: PortAudio is shut down and started again. sounddevice has no
    public rescan, so this uses its ``_terminate``/``_initialize`` pair.
    """
    sd = _sounddevice()
    sd._terminate()
    sd._initialize()


def list_devices(kind: Kind | None = None) -> list[AudioDevice]:
    """Every device PortAudio lists, or only those with ``kind`` (output/input) channels."""
    sd = _sounddevice()
    apis = [str(api["name"]) for api in sd.query_hostapis()]
    devices = [
        AudioDevice(
            index=int(info["index"]),
            name=str(info["name"]),
            host_api=apis[int(info["hostapi"])],
            max_input_channels=int(info["max_input_channels"]),
            max_output_channels=int(info["max_output_channels"]),
            default_sample_rate=int(round(float(info["default_samplerate"]))),
        )
        for info in sd.query_devices()
    ]
    return [d for d in devices if kind is None or d.channels(kind) > 0]


def _default_index(kind: Kind) -> int | None:
    sd = _sounddevice()
    index = int(sd.default.device[1 if kind == "output" else 0])
    return index if index >= 0 else None  # -1: PortAudio has no default


# -- selection (pure: testable with made-up device lists) ---------------------------------------


def select_device(devices: Sequence[AudioDevice], wanted: int | str | None, kind: Kind,
                  default_index: int | None = None) -> AudioDevice:
    """Pick the ``kind`` device the user asked for.

    ``wanted`` is an index, a name (exact, then the label ``name (host API)``, then a unique
    case-insensitive part of either), or None for ``default_index`` (or the first device).
    Raises :class:`AudioUnavailable` naming the choices when nothing, or more than one, fits.
    """
    candidates = [d for d in devices if d.channels(kind) > 0]
    if not candidates:
        raise AudioUnavailable(f"no audio {kind} device found; connect one, or start a JACK "
                               "server, then choose it in the audio settings")
    if wanted is None:
        by_index = [d for d in candidates if d.index == default_index]
        return by_index[0] if by_index else candidates[0]
    if isinstance(wanted, int):
        matches = [d for d in candidates if d.index == wanted]
    else:
        matches = _match_name(candidates, wanted)
    if len(matches) == 1:
        return matches[0]
    choices = "; ".join(f"{d.index}: {d.label}" for d in candidates)
    if not matches:
        raise AudioUnavailable(f"no {kind} device {wanted!r}; the {kind} devices are: {choices}")
    raise AudioUnavailable(f"{kind} device {wanted!r} is ambiguous; give one of: {choices}")


def _match_name(candidates: Sequence[AudioDevice], wanted: str) -> list[AudioDevice]:
    """Exact name, then exact label, then a unique case-insensitive substring."""
    for key in (lambda d: d.name, lambda d: d.label):
        exact = [d for d in candidates if key(d) == wanted]
        if exact:
            return exact
    folded = wanted.strip().casefold()
    return [d for d in candidates if folded in d.label.casefold()]


def resolve(settings: AudioSettings, kind: Kind, channels: int = 2) -> StreamConfig:
    """Find the device for ``settings`` and check PortAudio accepts the format.

    ``channels`` is the most channels wanted; fewer are used when the device has fewer.
    Raises :class:`AudioUnavailable` with PortAudio's reason when it refuses.
    """
    if not isinstance(channels, int) or channels < 1:
        raise AudioSettingsError(f"channels must be a positive whole number, got {channels!r}")
    sd = _sounddevice()
    device = select_device(list_devices(), settings.device, kind, _default_index(kind))
    rate = settings.sample_rate or device.default_sample_rate
    used = min(channels, device.channels(kind))
    check = sd.check_output_settings if kind == "output" else sd.check_input_settings
    try:
        check(device=device.index, channels=used, dtype="float32", samplerate=rate)
    except (sd.PortAudioError, ValueError) as err:
        raise AudioUnavailable(f"{device.label} refuses {used} channel(s) at {rate} Hz "
                               f"({err}); choose another sample rate or device") from err
    return StreamConfig(kind, device, int(rate), settings.blocksize, used)


def open_stream(config: StreamConfig, callback: Callable[..., None]) -> Stream:
    """Open (not start) a float32 callback stream for ``config``.

    The callback gets ``(data, frames, time, status)`` as sounddevice defines it. Opening
    failures become :class:`AudioUnavailable`.
    """
    sd = _sounddevice()
    stream_type: Any = sd.OutputStream if config.kind == "output" else sd.InputStream
    try:
        return stream_type(device=config.device.index, channels=config.channels,
                           samplerate=config.sample_rate, blocksize=config.blocksize,
                           dtype="float32", latency="low", callback=callback)
    except (sd.PortAudioError, ValueError) as err:
        raise AudioUnavailable(f"cannot open the {config.kind} stream on "
                               f"{config.device.label} ({err}); check that the device is "
                               "connected and not used exclusively by another program") from err


def close_stream(stream: Stream) -> str | None:
    """Stop and close ``stream``; returns PortAudio's complaint instead of raising it.

    Closing must always succeed from the app's point of view (a device unplugged mid-play
    still has to let the player shut down), so an error is handed back for logging.
    """
    sd = _sounddevice()
    problem = None
    for step in (stream.stop, stream.close):
        try:
            step()
        except sd.PortAudioError as err:
            problem = f"{problem}; {err}" if problem else str(err)
    return problem
