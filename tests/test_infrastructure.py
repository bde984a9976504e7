"""The audio/MIDI plumbing the app relies on, checked against a real JACK server.

Needs the dummy JACK server that .ci/run starts; without one these tests skip
(or fail, with FLOWSYNTH_REQUIRE_JACK=1).
"""

import os
import subprocess
import time

import numpy as np
import pytest

pytestmark = pytest.mark.jack

JACK_API = "JACK Audio Connection Kit"


def _jack(*args: str) -> str:
    """Run a JACK command-line client (jack_lsp, jack_connect, ...); its stdout."""
    env = {**os.environ, "JACK_NO_START_SERVER": "1"}
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=10)
    assert done.returncode == 0, f"{' '.join(args)} failed: {done.stderr.strip()}"
    return done.stdout


def _jack_port(suffix: str) -> str:
    """The full JACK name of the one port whose name ends with `suffix`."""
    matches = [p for p in _jack("jack_lsp").splitlines() if p.endswith(suffix)]
    assert len(matches) == 1, f"JACK ports ending in {suffix!r}: {matches}"
    return matches[0]


def _jack_connections() -> dict[str, list[str]]:
    """`jack_lsp -c` as {port: [ports it is connected to]}."""
    connections: dict[str, list[str]] = {}
    port = None
    for line in _jack("jack_lsp", "-c").splitlines():
        if line.startswith((" ", "\t")):
            connections[port].append(line.strip())
        else:
            port = line.strip()
            connections[port] = []
    return connections


def test_portaudio_plays_through_jack(jack_server):
    # PortAudio scans its host APIs once, when initialised: import sounddevice
    # only now that the server runs, and rescan if it was initialised earlier.
    import sounddevice as sd

    if not any(api["name"] == JACK_API for api in sd.query_hostapis()):
        sd._terminate()
        sd._initialize()
    apis = {api["name"]: api for api in sd.query_hostapis()}
    assert JACK_API in apis, f"PortAudio has no JACK host API, only {sorted(apis)}"
    outputs = [
        sd.query_devices(d)
        for d in apis[JACK_API]["devices"]
        if sd.query_devices(d)["max_output_channels"] > 0
    ]
    assert outputs, "PortAudio's JACK host API lists no output device"

    device = outputs[0]
    channels = min(2, device["max_output_channels"])
    rate = device["default_samplerate"]
    assert rate == 48000, "the dummy server runs at 48 kHz (.ci/run)"
    block = np.zeros((int(rate * 0.05), channels), dtype=np.float32)
    with sd.OutputStream(
        device=device["index"], channels=channels, samplerate=rate, dtype="float32"
    ) as stream:
        # Our stream is a JACK client whose outputs feed the server's playback ports.
        fed = {
            port: peers
            for port, peers in _jack_connections().items()
            if any(peer.startswith("system:playback") for peer in peers)
        }
        assert len(fed) >= channels, f"no stream ports connected to playback: {fed}"
        started = stream.time
        stream.write(block)  # blocks until the server's clock has taken it
        stream.write(block)
        assert stream.time > started, "the JACK server's clock did not advance"


def test_midi_loopback_over_jack(jack_server):
    import mido

    backend = mido.Backend("mido.backends.rtmidi/UNIX_JACK", load=True)
    client = f"flowsynth-test-{os.getpid()}"
    with (
        backend.open_output("midi-out", virtual=True, client_name=client + "-out") as out,
        backend.open_input("midi-in", virtual=True, client_name=client + "-in") as inp,
    ):
        source = _jack_port(f"{client}-out:midi-out")
        sink = _jack_port(f"{client}-in:midi-in")
        _jack("jack_connect", source, sink)
        assert sink in _jack_connections()[source]

        sent = mido.Message("control_change", channel=3, control=74, value=99)
        out.send(sent)
        received = None
        deadline = time.monotonic() + 3.0
        while received is None and time.monotonic() < deadline:
            received = inp.poll()
            if received is None:
                time.sleep(0.005)
        assert received is not None, "the control change did not arrive within 3 s"
        assert received.bytes() == sent.bytes()
