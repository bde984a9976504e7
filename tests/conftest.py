"""Shared pytest set-up: Qt runs offscreen; `jack_server` guards tests that need JACK."""

import os
import shutil
import subprocess

# Before anything imports Qt: no display here, nor in CI.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from index_support import built_index  # noqa: E402

JACK_HINT = "start `jackd --no-realtime -d dummy -r 48000 -p 256` (as .ci/run does)"


def _jack_ports(timeout: float = 5.0) -> list[str] | None:
    """The JACK server's port names, or None when no server answers."""
    jack_lsp = shutil.which("jack_lsp")
    if jack_lsp is None:
        return None
    # Ask only: never let this client start a server of its own.
    env = {**os.environ, "JACK_NO_START_SERVER": "1"}
    try:
        done = subprocess.run([jack_lsp], env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        return None
    return done.stdout.splitlines()


@pytest.fixture(scope="session")
def jack_server() -> list[str]:
    """A running JACK server (its port names at session start).

    Skips the test when none answers, or fails it when FLOWSYNTH_REQUIRE_JACK=1
    (as in CI, where .ci/run starts the server).
    """
    ports = _jack_ports()
    if ports is None:
        why = "JACK server not running: " + JACK_HINT
        if shutil.which("jack_lsp") is None:
            why += " (jack_lsp not found: install Debian's jackd2)"
        if os.environ.get("FLOWSYNTH_REQUIRE_JACK") == "1":
            pytest.fail(why + "; FLOWSYNTH_REQUIRE_JACK=1 forbids skipping", pytrace=False)
        pytest.skip(why)
    return ports


@pytest.fixture
def one_torch_thread():
    """Tiny models run 10x faster on one thread than on two when other processes share the
    cores (OpenMP threads spin-wait for each other); restored afterwards for other tests."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """An untrained tiny Flow_dis checkpoint (16 parameters) for the GUI tests."""
    from test_gui_support import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("model") / "tiny.pt")


@pytest.fixture
def window(qtbot, tmp_path, tiny_model):  # noqa: ANN001, ANN201
    """The app's window on the tiny model, in a temporary world (settings, library, cache)."""
    from test_gui_support import make_options, open_window

    from flowsynth_gui.gui.settings import Settings

    win = open_window(qtbot, Settings.from_file(tmp_path / "settings.ini"),
                      make_options(tmp_path, tiny_model))
    yield win
    win.close()


def _index_fixture(name: str, n_params: int, with_shapes: bool):
    """A session fixture ``name``: the tiny index of ``n_params`` (``index_support``)."""
    @pytest.fixture(scope="session", name=name)
    def fixture(tmp_path_factory):
        return built_index(tmp_path_factory, n_params, with_shapes)
    return fixture


# 16 parameters: the tiny model of the GUI tests; 32: the shipped model's set.
index_16 = _index_fixture("index_16", 16, with_shapes=False)
index_16_with_shapes = _index_fixture("index_16_with_shapes", 16, with_shapes=True)
index_32 = _index_fixture("index_32", 32, with_shapes=False)
index_32_with_shapes = _index_fixture("index_32_with_shapes", 32, with_shapes=True)
