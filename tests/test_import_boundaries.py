"""The dependency direction: the GUI-free core never imports Qt or the GUI package."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "flowsynth_gui"
GUI_ONLY = ("PySide6", "pyqtgraph", "flowsynth_gui.gui", "flowsynth_gui.app")


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_the_core_never_imports_the_gui() -> None:
    core = [p for p in PACKAGE.rglob("*.py")
            if "gui" not in p.relative_to(PACKAGE).parts[:1] and p.name != "app.py"]
    assert len(core) > 50  # the walk found the package
    offenders = {str(p.relative_to(PACKAGE)): sorted(m for m in _imports(p)
                                                     if m.startswith(GUI_ONLY))
                 for p in core}
    assert {k: v for k, v in offenders.items() if v} == {}


# Each package may import only from the packages below it: the app on top, then the explorer,
# then training, matching and evaluation, then the latent space and everything under it.
ABOVE = {
    "training": ("flowsynth_gui.explorer", "flowsynth_gui.gui"),
    "latent": ("flowsynth_gui.explorer", "flowsynth_gui.training", "flowsynth_gui.matching",
               "flowsynth_gui.gui"),
    "synth": ("flowsynth_gui.models", "flowsynth_gui.latent", "flowsynth_gui.explorer",
              "flowsynth_gui.training", "flowsynth_gui.matching", "flowsynth_gui.gui"),
}


def test_packages_import_only_downwards() -> None:
    offenders = {}
    for package, forbidden in ABOVE.items():
        files = list((PACKAGE / package).rglob("*.py"))
        assert files, package
        for path in files:
            bad = sorted(m for m in _imports(path) if m.startswith(forbidden))
            if bad:
                offenders[str(path.relative_to(PACKAGE))] = bad
    assert offenders == {}


def test_the_gui_reaches_the_core_through_the_explorer() -> None:
    """Models, the synth, the features and the analysis come to the GUI via the explorer."""
    below = ("flowsynth_gui.models", "flowsynth_gui.synth", "flowsynth_gui.features",
             "flowsynth_gui.inference", "flowsynth_gui.matching", "flowsynth_gui.latent")
    files = list((PACKAGE / "gui").rglob("*.py"))
    assert len(files) > 20
    offenders = {str(p.relative_to(PACKAGE)): bad for p in files
                 if (bad := sorted(m for m in _imports(p) if m.startswith(below)))}
    assert offenders == {}
