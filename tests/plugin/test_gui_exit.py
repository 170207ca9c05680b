"""Closing the viewer while cells are tracked (issue 17): no worker outlives the window
(one that did emitted into deleted Qt objects at exit: "wrapped C/C++ object of type
GeneratorWorkerSignals has been deleted"), and the closing itself warns of nothing.

The first test closes a whole napari process in the middle of a tracking step (only a
process exit deletes the Qt objects a still-running worker emits into); the second
checks, in this process, that closing warns of nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sam2_cells import CellTracker
from tests.plugin.qt_events import open_dock, ready
from tests.plugin.test_gui_tracking import movie  # noqa: F401  (fixture)

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("plugins_discovered")]
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_napari_process_closed_mid_step_exits_without_qt_errors():
    env = {**os.environ, "STEP_S": "4", "OMP_NUM_THREADS": "1"}
    script = Path(__file__).with_name("exit_mid_run.py")
    done = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "has been deleted" not in done.stderr, done.stderr[-3000:]
    assert "closed; workers running: 0" in done.stdout, (done.stdout, done.stderr[-3000:])


def test_closing_the_viewer_during_a_run_stops_its_worker(
    make_napari_viewer, qtbot, movie, tiny_model, monkeypatch, shown  # noqa: F811
):
    steps = CellTracker.steps

    def slow(self, *args, **kwargs):
        for done in steps(self, *args, **kwargs):
            time.sleep(0.3)
            yield done

    monkeypatch.setattr(CellTracker, "steps", slow)
    viewer = make_napari_viewer(show=True)
    viewer.add_image(movie.movie, name="cells")
    dock = open_dock(viewer, "track")
    ready(qtbot, dock, tiny_model)
    tool, runner = dock.tool("track"), dock.controller.ws.jobs.runner
    tool.track_btn.clicked.emit()
    qtbot.waitUntil(lambda: tool.feature.run_state.frames_done >= 1, timeout=30000)
    workers = [w for w, _ in runner._workers.values()]
    viewer.close()
    assert workers and not any(w.is_running for w in workers), "a worker outlived the window"
    qtbot.wait(100)
    assert not shown["warning"] and not shown["error"], shown
