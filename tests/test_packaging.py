"""FlowSynth as an installed package: its data travels in the wheel, user folders match Qt's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from flowsynth_gui import paths

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_a_non_editable_install_renders_from_its_own_package_data(tmp_path: Path) -> None:
    """A wheel installed elsewhere runs ``flowsynth render`` without the source checkout."""
    source, wheels = tmp_path / "source", tmp_path / "wheels"
    site, work = tmp_path / "site", tmp_path / "work"
    work.mkdir()
    # a copy of what the wheel is built from, so the build leaves nothing in the checkout
    shutil.copytree(ROOT / "flowsynth_gui", source / "flowsynth_gui",
                    ignore=shutil.ignore_patterns("__pycache__"))  # the resources link followed
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels),
                    str(source)], check=True, cwd=tmp_path, timeout=300)
    (wheel,) = wheels.glob("flowsynth_gui-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": str(site)}  # ahead of the checkout's editable install
    where = subprocess.run(
        [sys.executable, "-c", "import flowsynth_gui.paths as p; print(p.RESOURCES_DIR)"],
        check=True, cwd=work, env=env, capture_output=True, text=True).stdout.strip()
    assert Path(where).is_relative_to(site), where
    subprocess.run([sys.executable, "-m", "flowsynth_gui.cli", "render", "--duration", "0.5",
                    "--out", "note.wav"], check=True, cwd=work, env=env, timeout=300)
    audio, rate = sf.read(work / "note.wav")
    assert rate == 22050 and len(audio) == 11025 and abs(audio).max() > 0.01


def test_the_checkout_reads_its_top_level_resources_through_the_package() -> None:
    assert (paths.RESOURCES_DIR / "synth_params.json").resolve() == \
        (ROOT / "resources" / "synth_params.json").resolve()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Qt's Linux folders")
def test_user_folders_are_the_ones_qt_gives_the_app(qapp, monkeypatch, tmp_path) -> None:
    from PySide6.QtCore import QStandardPaths

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    names = qapp.organizationName(), qapp.applicationName()
    qapp.setOrganizationName("FlowSynth")
    qapp.setApplicationName("FlowSynth")
    try:
        location = QStandardPaths.writableLocation
        assert Path(location(QStandardPaths.StandardLocation.AppDataLocation)) == paths.data_dir()
        assert Path(location(QStandardPaths.StandardLocation.CacheLocation)) == paths.cache_dir()
    finally:
        qapp.setOrganizationName(names[0])
        qapp.setApplicationName(names[1])


def test_the_config_folder_can_be_moved_for_portable_installs(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(paths.CONFIG_DIR_ENV, str(tmp_path / "portable"))
    from flowsynth_gui.midi.paths import learn_file_path
    assert learn_file_path() == tmp_path / "portable" / "midi_learn.json"
