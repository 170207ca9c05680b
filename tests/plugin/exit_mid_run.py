"""A napari session that is closed while cells are tracked, then exits as napari does
after its last window (run by ``test_gui_exit.py`` in a process of its own).

Each tracking step sleeps ``STEP_S`` seconds (default 4: longer than closing the window
takes), so the job's worker is inside a step when the window closes. The process prints
whether the worker still runs after the close; at exit Python deletes every Qt object
it wrapped, and a worker still running then emits into them (issue 17: 9).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import torchvision.ops  # noqa: F401  (triton before the GL driver: see tests/plugin/conftest.py)


def main() -> None:
    import napari
    from qtpy.QtCore import Qt
    from qtpy.QtTest import QTest
    from qtpy.QtWidgets import QApplication

    import sam2_engine as se
    from napari_sam2._widgets.dock import open_dock
    from sam2_cells import CellTracker
    from sam2_engine.weights import local as local_weights
    from sam2_synthetic import microscopy_timelapse

    local_weights.BUNDLED_DIR = Path(tempfile.mkdtemp())  # no bundled model to load
    os.environ["NAPARI_SAM2_AUTOSAVE_DIR"] = tempfile.mkdtemp()
    steps, step_s = CellTracker.steps, float(os.environ.get("STEP_S", "4"))

    def slow(self, *args, **kwargs):
        for done in steps(self, *args, **kwargs):
            time.sleep(step_s)
            yield done

    CellTracker.steps = slow

    def wait(cond, timeout: float = 120.0) -> None:
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                sys.exit("timed out")
            QApplication.processEvents()
            time.sleep(0.02)

    movie = microscopy_timelapse(6, (96, 96), seed=8, modality="nuclear", n_cells=6)
    viewer = napari.Viewer(show=True)
    viewer.add_image(movie.movie, name="cells")
    dock = open_dock(viewer, "track")
    c = dock.controller
    c.set_model(se.build_model("test_tiny", device="cpu"), "test_tiny")
    wait(lambda: c.has_embedding() and not c.is_running())
    tool = dock.tool("track")
    QTest.mouseClick(tool.track_btn.native, Qt.LeftButton)
    wait(lambda: tool.feature.run_state is not None and tool.feature.run_state.frames_done >= 1)
    workers = [w for w, _ in c.ws.jobs.runner._workers.values()]
    viewer.close()
    print(f"closed; workers running: {sum(w.is_running for w in workers)}", flush=True)


if __name__ == "__main__":
    main()
