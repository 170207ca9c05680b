"""Segment everything on a slide larger than a whole-image model's input (issue 19): the
Everything tab runs tile by tile (the Segment tab's tiling rule), merges objects cut by
tile borders, shows progress per tile, keeps the GUI responsive, and Cancel keeps the
objects of the tiles done. A stand-in for the generator (the bright blobs of each tile)
makes the outcome depend only on the tiling."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy import ndimage

from tests.plugin.qt_events import open_dock, ready

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("plugins_discovered")]

HW = (2100, 200)  # longer side > 2,048 px: tiled for the 128 px test model (44 tiles)
TILES = 44


def _slide() -> tuple[np.ndarray, list[np.ndarray]]:
    rows, cols = np.ogrid[: HW[0], : HW[1]]
    # blobs inside tiles, across tile borders (tiles start every ~92 rows) and at a corner
    centres = [(60, 60), (112, 100), (500, 150), (1003, 40), (1500, 100), (2050, 150)]
    discs = [(rows - r) ** 2 + (cols - c) ** 2 <= 14**2 for r, c in centres]
    image = np.full(HW, 200, np.uint16)
    for d in discs:
        image[d] = 3000
    return image, discs


def _blobs(delay: float):
    """Stand-in for ``generator_tile_masks``: the bright connected blobs of a tile."""

    def make(gen, cancel=None):
        def run(rgb):
            time.sleep(delay)  # an official model's tile takes seconds on a CPU
            labels, n = ndimage.label(rgb[..., 0] > 0.5)
            return [(labels == i, 0.9) for i in range(1, n + 1)]

        return run

    return make


@pytest.fixture
def everything(make_napari_viewer, qtbot, tiny_model, monkeypatch):
    import sam2_engine as se

    def make(delay: float):
        monkeypatch.setattr(se, "generator_tile_masks", _blobs(delay))
        image, discs = _slide()
        viewer = make_napari_viewer(show=True)
        viewer.add_image(image, name="slide")
        dock = open_dock(viewer, "automatic")
        c = ready(qtbot, dock, tiny_model)
        qtbot.waitUntil(lambda: not c.is_running(), timeout=60000)  # background tiles
        tool = dock.tool("automatic")
        tool.method.value = "grid"
        progress: list[tuple[int, int]] = []
        c.events.progress_changed.connect(
            lambda kind, done, total: (
                progress.append((done, total)) if kind == "automatic" else None
            )
        )
        return dock, tool, c, discs, progress

    return make


def test_everything_on_a_big_slide_runs_in_tiles_and_merges_across_borders(
    everything, qtbot, shown
):
    from qtpy.QtCore import QTimer

    import sam2_engine as se

    _, tool, c, discs, progress = everything(0.05)
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    with qtbot.waitSignal(c.events.automatic_finished, timeout=60000):
        tool.run_btn.native.click()
        assert c.is_running("automatic"), "the run is in a worker"
    timer.stop()
    labels = np.asarray(c.labels_layer.data)
    assert labels.shape == HW, "full resolution, not the model input"
    for disc in discs:
        ids = np.unique(labels[disc])
        assert len(ids) == 1 and ids[0] > 0, "each object whole, once, without seams"
        np.testing.assert_array_equal(labels == ids[0], disc)
    assert len(np.unique(labels)) == len(discs) + 1, "no duplicates"
    assert progress and progress[-1] == (TILES, TILES), "progress counts tiles"
    assert len(se.TileGrid(HW, 128, 16)) == TILES
    assert "6 object(s) written" in tool.report_label.value
    gaps = np.diff(ticks)
    assert len(gaps) > 20 and gaps.max() < 0.5, f"the GUI never froze ({gaps.max():.2f} s)"
    assert not shown["error"], shown


def test_cancel_keeps_the_objects_of_the_tiles_done(everything, qtbot, shown):
    dock, tool, c, discs, progress = everything(0.25)
    tool.run_btn.native.click()
    qtbot.waitUntil(lambda: len(progress) >= 3, timeout=30000)
    dock.progress_row.cancel.native.click()
    qtbot.waitUntil(lambda: not c.is_running("automatic"), timeout=30000)
    done = progress[-1][0]
    assert 3 <= done < TILES, "stopped before the last tile"
    labels = np.asarray(c.labels_layer.data)
    assert labels[discs[0]].all(), "the first tile's object is kept"
    assert not labels[discs[-1]].any(), "the last tile was never run"
    assert "cancelled" in c.status
    assert not shown["error"], shown
    assert tool.run_btn.enabled, "ready to run again"


def test_an_error_in_a_tile_reaches_the_user(everything, qtbot, shown, monkeypatch):
    import sam2_engine as se

    _, tool, c, _, _ = everything(0.0)

    def broken(gen, cancel=None):
        def run(rgb):
            raise RuntimeError("out of memory in tile")

        return run

    monkeypatch.setattr(se, "generator_tile_masks", broken)
    tool.run_btn.native.click()
    qtbot.waitUntil(lambda: not c.is_running("automatic"), timeout=30000)
    assert any("out of memory in tile" in m for m in shown["error"]), shown
    assert c.labels_layer is None or not np.asarray(c.labels_layer.data).any()
