"""What `make setup` promises: the real window's Qt platform plugin finds every library."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import PySide6
import pytest


@pytest.mark.skipif(shutil.which("ldd") is None, reason="needs ldd (Linux)")
def test_the_xcb_platform_plugin_links() -> None:
    qt = Path(PySide6.__file__).parent / "Qt"
    plugin = qt / "plugins" / "platforms" / "libqxcb.so"
    assert plugin.is_file(), f"PySide6 has no xcb plugin at {plugin}"
    missing = [line.split()[0] for lib in (plugin, qt / "lib" / "libQt6XcbQpa.so.6")
               for line in subprocess.run(["ldd", str(lib)], capture_output=True, text=True,
                                          check=True).stdout.splitlines()
               if "not found" in line]
    assert not missing, (f"the real window cannot open: {', '.join(missing)} missing; "
                         "`make setup` installs them (SYSTEM_PACKAGES in the Makefile)")
