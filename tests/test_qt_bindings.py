"""Both Qt bindings are installable extras, and the test script runs the GUI tests under
each (napari deprecates PyQt5; the plugin must keep working on PyQt6)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_pyqt5_and_pyqt6_are_extras():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert any(req.startswith("PyQt5") for req in extras["pyqt5"])
    assert any(req.startswith("PyQt6") for req in extras["pyqt6"])


def test_the_test_script_runs_the_gui_tests_under_pyqt6():
    script = (ROOT / "scripts" / "test.sh").read_text()
    assert "QT_API=pyqt5" in script and "QT_API=pyqt6" in script
    qt6 = next(line for line in script.splitlines() if "QT_API=pyqt6" in line)
    assert "-m gui" in qt6
    setup = (ROOT / "scripts" / "setup_env.sh").read_text()
    assert "pyqt6" in setup


def test_qtpy_picks_pyqt6_when_asked():
    pytest.importorskip("PyQt6")
    out = subprocess.run(
        [sys.executable, "-c", "import qtpy; print(qtpy.API_NAME)"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "QT_API": "pyqt6"},
    )
    assert out.stdout.strip() == "PyQt6"
