"""Cheap imports, the package layout and the manifest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "module", ["sam2_engine", "napari_sam2", "sam2_training", "sam2_cells", "sam2_synthetic"]
)
def test_importing_a_package_does_not_import_torch_or_qt(module):
    code = (
        f"import sys, {module}; "
        "heavy = [m for m in ('torch', 'napari', 'qtpy', 'PyQt5') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_package_directory_is_declared_in_pyproject():
    """The package list in pyproject.toml is explicit (training/ is mapped to
    sam2_training); a new sub-package must be added there or wheels would miss it."""
    import tomllib

    declared = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = set()
    for base, prefix in ((ROOT / "src", ""), (ROOT / "training", "sam2_training")):
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base).parts
            name = ".".join(((prefix,) if prefix else ()) + rel)
            if name:
                found.add(name)
    assert found == declared


def test_engine_lazy_exports_resolve():
    import sam2_engine

    for name in sam2_engine.__all__:
        assert getattr(sam2_engine, name) is not None, name


def test_training_hooks_are_kept_off_the_users_surface():
    """The track step and its types are for the training loop, not the top level."""
    import sam2_engine
    from sam2_engine import training_hooks

    for name in training_hooks.__all__:
        assert getattr(training_hooks, name) is not None, name
        assert name not in sam2_engine.__all__, name
