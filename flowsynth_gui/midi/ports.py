"""MIDI port listing and opening through mido, with errors a user can act on.

The backend is mido's rtmidi. Its API is the ``api`` argument, else ``FLOWSYNTH_MIDI_API`` (e.g.
``UNIX_JACK``), else the first that answers now (:func:`detect_api`, in the platform's order:
the ALSA sequencer before JACK on Linux, so a JACK-only box gets JACK without being told).
A machine without any MIDI system (no ALSA sequencer, no JACK server) is an ordinary situation,
not a crash: every call raises :class:`NoMidiSystemError` ("no MIDI system: ...") instead.

>>> system = MidiSystem(api="UNIX_JACK")
>>> system.description
'rtmidi (UNIX_JACK)'
"""

from __future__ import annotations

import os
import sys
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import mido

__all__ = [
    "API_ENV",
    "API_LABELS",
    "DEFAULT_BACKEND",
    "InputPort",
    "MidiPortError",
    "MidiSystem",
    "NoMidiSystemError",
    "OutputPort",
    "answering_apis",
    "compiled_apis",
    "detect_api",
    "resolve_port_name",
]

API_ENV = "FLOWSYNTH_MIDI_API"
DEFAULT_BACKEND = "mido.backends.rtmidi"
DEFAULT_CLIENT_NAME = "FlowSynth"
# rtmidi APIs that cannot create virtual ports (Windows MME: use loopMIDI or similar instead).
_NO_VIRTUAL_APIS = ("WINDOWS_MM",)
# mido's names of rtmidi's APIs, and what a user knows them as.
API_LABELS = {"LINUX_ALSA": "ALSA sequencer", "UNIX_JACK": "JACK", "MACOSX_CORE": "CoreMIDI",
              "WINDOWS_MM": "Windows MM"}


def compiled_apis() -> list[str]:
    """The rtmidi APIs this build has (mido names), in the platform's order of preference."""
    try:
        import rtmidi
    except ImportError:
        return []
    ids = {getattr(rtmidi, f"API_{name}", None): name for name in API_LABELS}
    return [ids[api] for api in rtmidi.get_compiled_api() if api in ids]


def answering_apis() -> list[str]:
    """The compiled APIs whose MIDI system answers now (a client can be made)."""
    import rtmidi

    found = []
    for name in compiled_apis():
        try:
            probe = rtmidi.MidiOut(rtapi=getattr(rtmidi, f"API_{name}"),
                                   name=f"{DEFAULT_CLIENT_NAME} probe")
        except Exception:  # noqa: BLE001 - SystemError without a server; others elsewhere
            continue
        probe.delete()
        found.append(name)
    return found


def detect_api() -> str | None:
    """The first API that answers (None: none does; the platform default is then used)."""
    answering = answering_apis()
    return answering[0] if answering else None


class MidiPortError(RuntimeError):
    """A MIDI port that cannot be listed or opened; the message says which and what exists."""


class NoMidiSystemError(MidiPortError):
    """No MIDI system answers at all (no ALSA sequencer, no JACK server, backend missing)."""


class OutputPort(Protocol):
    """What the services need of an output port (a mido port, or a test double)."""

    def send(self, msg: mido.Message) -> None: ...

    def close(self) -> None: ...


class InputPort(Protocol):
    def close(self) -> None: ...


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names) if names else "none"


def _delete_listers(listers: dict[str, Any], lock: threading.Lock) -> None:
    with lock:
        kept = list(listers.values())
        listers.clear()
    for lister in kept:
        lister.delete()


def resolve_port_name(wanted: str, available: Sequence[str]) -> str | None:
    """The available port that ``wanted`` names: exact, else the only one starting with it.

    The prefix rule keeps a saved ALSA name working when its client number changes
    ('Midi Through:Midi Through Port-0' finds 'Midi Through:Midi Through Port-0 14:0').
    """
    if wanted in available:
        return wanted
    candidates = [name for name in available if name.startswith(wanted)]
    return candidates[0] if len(candidates) == 1 else None


class MidiSystem:
    """Port listing and opening on one mido backend (default: rtmidi, platform API).

    ``backend`` is a mido backend module name ('mido.backends.rtmidi') or a ready object with
    mido.Backend's methods (tests pass a double). ``client_name`` names the client of virtual
    ports (JACK shows it as 'FlowSynth:<port>').
    """

    def __init__(self, backend: str | Any = DEFAULT_BACKEND, api: str | None = None,
                 client_name: str = DEFAULT_CLIENT_NAME) -> None:
        if api is None:
            api = os.environ.get(API_ENV) or None
        # Automatic: the API that answers now, e.g. JACK where no ALSA sequencer runs.
        self.automatic = api is None and backend == DEFAULT_BACKEND
        if self.automatic:
            api = detect_api()
        self.api = api
        self.client_name = client_name
        self._listers: dict[str, Any] = {}  # kind -> kept rtmidi client, see _keeps_listers
        self._lister_lock = threading.Lock()
        # A JACK client still open when Python exits makes the server report xruns: close
        # the kept clients at exit (or when collected) even if nobody called close().
        self._finalizer = weakref.finalize(self, _delete_listers, self._listers,
                                           self._lister_lock)
        if isinstance(backend, str):
            self.backend_name = backend
            # use_environ=False: MIDO_* variables must not redirect FlowSynth's ports silently.
            self._backend: Any = mido.Backend(backend, api=api, load=False, use_environ=False)
        else:
            self.backend_name = getattr(backend, "name", type(backend).__name__)
            self._backend = backend

    @property
    def description(self) -> str:
        """e.g. 'rtmidi (UNIX_JACK)' or 'rtmidi (default API)', for status lines."""
        short = self.backend_name.rsplit(".", 1)[-1]
        return f"{short} ({self.api or 'default API'})"

    @property
    def supports_virtual(self) -> bool:
        """Whether this backend can create virtual ports that other programs connect to."""
        if self.backend_name != DEFAULT_BACKEND:
            return True  # other backends say so when opening fails
        api = self.api or ("WINDOWS_MM" if sys.platform == "win32" else None)
        return api not in _NO_VIRTUAL_APIS

    # -- listing ----------------------------------------------------------------------------
    def output_names(self) -> list[str]:
        """Names of the ports we can send to; NoMidiSystemError when no MIDI system answers."""
        return self._list("output", self._backend.get_output_names)

    def input_names(self) -> list[str]:
        """Names of the ports we can receive from; NoMidiSystemError when none answers."""
        return self._list("input", self._backend.get_input_names)

    def _no_system_hint(self, err: Exception) -> str:
        others = [a for a in (answering_apis() if self.backend_name == DEFAULT_BACKEND else [])
                  if a != self.api]
        if others:
            labels = " or ".join(API_LABELS.get(a, a) for a in others)
            return (f"no MIDI system answers on {self.description}, but {labels} does: choose "
                    f"it (or Automatic) as the MIDI API in Settings. Details: {err}")
        return (f"no MIDI system answers ({self.description}). On Linux, load the ALSA "
                "sequencer (sudo modprobe snd-seq) or start a JACK server, then press Refresh "
                f"in the MIDI tab. Details: {err}")

    def _list(self, kind: str, lister: Callable[[], list[str]]) -> list[str]:
        try:
            if self._keeps_listers:
                return self._list_with_kept_lister(kind)
            return list(lister())
        except ValueError as err:  # mido: 'unknown API X' / 'API X not compiled in'
            raise MidiPortError(self._api_hint(err)) from None
        except Exception as err:  # each backend raises its own types
            # rtmidi raises SystemError (an OSError) without an ALSA sequencer or JACK server;
            # an ImportError means the backend library is missing. Same meaning to the user.
            raise NoMidiSystemError(self._no_system_hint(err)) from None

    @property
    def _keeps_listers(self) -> bool:
        # mido lists by creating and deleting an rtmidi client per call: on JACK that is about
        # 100 ms, most of it holding the GIL (a poll would stall every Python thread, the
        # synth's render thread included). One kept client per direction lists in 0.1 ms.
        # Linux only: CoreMIDI is known to show a kept client a stale port list. Known limit:
        # if the JACK server itself stops, a kept client shows its last list until it returns.
        return self.backend_name == DEFAULT_BACKEND and sys.platform.startswith("linux")

    def _list_with_kept_lister(self, kind: str) -> list[str]:
        import rtmidi  # mido's rtmidi backend needs it anyway

        with self._lister_lock:
            lister = self._listers.get(kind)
            if lister is None:
                if self.api is not None and self.api not in self._backend.module.get_api_names():
                    raise ValueError(f"unknown or not compiled-in API {self.api}")
                rtapi = getattr(rtmidi, f"API_{self.api}") if self.api else rtmidi.API_UNSPECIFIED
                cls = rtmidi.MidiOut if kind == "output" else rtmidi.MidiIn
                lister = cls(rtapi=rtapi, name=f"{self.client_name} ports")
                self._listers[kind] = lister
            try:
                return list(lister.get_ports())
            except Exception:
                del self._listers[kind]  # start afresh next time
                raise

    def close(self) -> None:
        """Let go of the kept listing clients (listing again makes new ones)."""
        _delete_listers(self._listers, self._lister_lock)

    def _api_hint(self, err: Exception) -> str:
        try:
            apis = self._backend.module.get_api_names()
        except Exception:  # only for the hint
            apis = []
        return (f"MIDI API {self.api!r} cannot be used ({err}); set {API_ENV} to one of "
                f"{_quoted(apis)} or unset it for the platform default")

    # -- opening ----------------------------------------------------------------------------
    def open_output(self, name: str) -> OutputPort:
        """Open the output port ``name``; MidiPortError listing the ports when it is missing."""
        return self._open(name, "output", self.output_names(), self._backend.open_output)

    def open_input(self, name: str, callback: Callable[[mido.Message], None]) -> InputPort:
        """Open the input port ``name``; ``callback`` runs on the backend's MIDI thread."""
        return self._open(name, "input", self.input_names(), self._backend.open_input,
                          callback=callback)

    def open_virtual_output(self, name: str) -> OutputPort:
        """Create an output port other programs can connect to (not on Windows MME)."""
        return self._open_virtual(name, "output", self._backend.open_output)

    def open_virtual_input(self, name: str,
                           callback: Callable[[mido.Message], None]) -> InputPort:
        """Create an input port other programs can send to (not on Windows MME)."""
        return self._open_virtual(name, "input", self._backend.open_input, callback=callback)

    def _open(self, name: str, kind: str, available: list[str],
              opener: Callable[..., Any], **kwargs: Any) -> Any:
        resolved = resolve_port_name(name, available)
        if resolved is None:
            raise MidiPortError(
                f"MIDI {kind} {name!r} is not available; available: {_quoted(available)}")
        try:
            return opener(resolved, **kwargs)
        except Exception as err:  # backend-specific types
            raise MidiPortError(f"cannot open MIDI {kind} {resolved!r}: {err}") from None

    def _open_virtual(self, name: str, kind: str, opener: Callable[..., Any],
                      **kwargs: Any) -> Any:
        if not self.supports_virtual:
            raise MidiPortError(
                f"this MIDI system ({self.description}) cannot create a virtual {kind} port; "
                "install a loopback driver (e.g. loopMIDI) and choose its port instead")
        try:
            return opener(name, virtual=True, client_name=self.client_name, **kwargs)
        except (OSError, ImportError) as err:  # rtmidi's SystemError is an OSError
            raise NoMidiSystemError(
                f"no MIDI system ({self.description}): cannot create virtual MIDI {kind} "
                f"{name!r}: {err}") from None
        except Exception as err:  # backend-specific types
            raise MidiPortError(f"cannot create virtual MIDI {kind} {name!r}: {err}") from None
