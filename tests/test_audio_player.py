"""The live player without a device: it constructs, says why, and its callback only copies."""

from __future__ import annotations

import ast
import inspect
import textwrap

import numpy as np
import pytest

from flowsynth_gui.audio.device import AudioSettings, AudioUnavailable
from flowsynth_gui.audio.player import LivePlayer

NO_DEVICE = AudioSettings(device="no such output device", sample_rate=44100, blocksize=128)


def test_a_player_without_a_device_reports_unavailable_and_keeps_working() -> None:
    player = LivePlayer(NO_DEVICE)
    assert player.available is False
    assert "output device" in player.unavailable_reason  # none at all, or not that one
    assert player.sample_rate == 44100 and player.device_label is None
    player.set_params({"VCF1: Frequency": 0.2})
    player.note_on(60)
    player.note_off(60)
    player.play_preview(np.zeros(1000, dtype=np.float32), 44100)
    player.stop_preview()
    with pytest.raises(AudioUnavailable, match="output device"):
        player.start()
    assert not player.running and player.underruns == 0 and player.cpu_load == 0.0
    player.stop()
    with player:
        pass


def _callback_body() -> list[ast.stmt]:
    """The statements of LivePlayer._callback (its code, without signature or comments)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(LivePlayer._callback)))
    function = tree.body[0]
    assert isinstance(function, ast.FunctionDef)
    return function.body


def test_the_audio_callback_only_copies_from_the_ring_and_counts() -> None:
    """By inspection: one call (the ring copy); no synth, no lock, no logging, no allocation."""
    body = _callback_body()
    calls = [ast.unparse(node.func) for stmt in body for node in ast.walk(stmt)
             if isinstance(node, ast.Call)]
    assert calls == ["self._ring.read_into"]
    code = "\n".join(ast.unparse(stmt) for stmt in body)
    for forbidden in ("synth", "render", "lock", "print", "log", "np.", "Event", "sleep",
                      "_preview", "["):
        assert forbidden not in code, f"the audio callback mentions {forbidden!r}:\n{code}"


class _Untouchable:
    """Stands in for the synth where nothing may use it."""

    def __getattr__(self, name: str) -> None:
        raise AssertionError(f"the audio callback used synth.{name}")


def test_the_callback_plays_what_was_rendered_then_silence_with_an_underrun() -> None:
    player = LivePlayer(NO_DEVICE, latency_blocks=2)
    player.play_preview(np.full(200, 0.25, dtype=np.float32), 44100)
    player._render_one_block()  # what the render thread does
    player.synth = _Untouchable()  # the callback must not even look at the synth
    out = np.full((128, 2), 9.0, dtype=np.float32)
    player._callback(out, 128, None, None)
    np.testing.assert_allclose(out, 0.25, atol=1e-6)  # the preview over a silent synth
    player._callback(out, 128, None, None)  # nothing rendered since: silence, counted
    assert not out.any()
    assert player.underruns == 1 and player.frames_played == 256
    assert player.preview_playing  # 72 frames of the preview are still to come


def test_previews_are_checked_resampled_and_replace_each_other() -> None:
    player = LivePlayer(NO_DEVICE)
    stereo = np.stack([np.full(22050, 0.1), np.full(22050, -0.1)], axis=1)
    player.play_preview(stereo, 22050)
    assert player._preview.frames.shape == (44100, 2)  # resampled to the output rate
    player.play_preview(np.full(10, 0.5), 44100)
    assert player._preview.frames.shape == (10, 2)  # the new one replaces the old
    for bad in (np.zeros((10, 3)), np.zeros(0), np.array([0.0, np.nan])):
        with pytest.raises(ValueError, match="preview"):
            player.play_preview(bad, 44100)
    with pytest.raises(ValueError, match="latency_blocks"):
        LivePlayer(NO_DEVICE, latency_blocks=1)
