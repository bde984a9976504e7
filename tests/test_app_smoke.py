"""The real app in a subprocess on the shipped model: it starts, shows a sound, closes cleanly.

Everything the app could write (settings, caches, the library) goes to a temporary home.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "checkpoints" / "flowsynth_flow_dis_32.pt"


def _env(home: Path) -> dict[str, str]:
    env = {**os.environ, "HOME": str(home), "QT_QPA_PLATFORM": "offscreen",
           "FLOWSYNTH_CONFIG_DIR": str(home / "flowsynth-config")}
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        env[name] = str(home / name.lower())
    return env


def test_main_help_lists_the_options() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for option in ("--model PATH", "--no-audio", "--no-midi", "--settings FILE",
                   "--cache DIR", "--quit-after-ms MS"):
        assert option in done.stdout


@pytest.mark.skipif(not SHIPPED.is_file(), reason="the shipped model is not in this checkout")
def test_the_app_starts_on_the_shipped_model_and_closes_cleanly(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--settings", str(tmp_path / "settings.ini"),
         "--cache", str(tmp_path / "cache"), "--library", str(tmp_path / "library"),
         "--sketches", "24", "--quit-when-ready", "--quit-after-ms", "90000",
         "--report-startup"],
        cwd=ROOT, env=_env(tmp_path), capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "startup window_usable" in done.stdout
    assert "startup model_ready" in done.stdout, done.stderr[-3000:]
    assert "startup sound_ready" in done.stdout
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert (tmp_path / "settings.ini").is_file()  # settings went where we said
