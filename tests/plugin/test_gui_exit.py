"""Closing the viewer while cells are tracked (issue 17): no worker outlives the window
(one that did emitted into deleted Qt objects at exit: "wrapped C/C++ object of type
GeneratorWorkerSignals has been deleted"), and the closing itself warns of nothing."""

from __future__ import annotations

import time

import pytest

from sam2_cells import CellTracker
from tests.plugin.qt_events import open_dock, ready
from tests.plugin.test_gui_tracking import movie  # noqa: F401  (fixture)

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("plugins_discovered")]


def test_closing_the_viewer_during_a_run_stops_its_worker(
    make_napari_viewer, qtbot, movie, tiny_model, monkeypatch, shown  # noqa: F811
):
    frames = CellTracker.frames

    def slow(self, *args, **kwargs):
        for done in frames(self, *args, **kwargs):
            time.sleep(0.3)
            yield done

    monkeypatch.setattr(CellTracker, "frames", slow)
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
