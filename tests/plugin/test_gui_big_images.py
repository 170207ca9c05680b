"""Big images and the on-disk embedding cache in the dock (issue 19), with real clicks:
an image far larger than a whole-image model's input is tiled (it failed to encode
before), and "Embeddings on disk" (off by default) makes opening an image again skip
the encoder."""

from __future__ import annotations

import time

import numpy as np
import pytest
from qtpy.QtCore import Qt

from tests.plugin.qt_events import click, open_dock, ready

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("plugins_discovered")]


def test_a_click_on_a_slide_bigger_than_the_model_input_segments_in_tiles(
    make_viewer_with_dock, qtbot, tiny_model, nuclei_2d, shown
):
    image = np.tile(nuclei_2d.image, (24, 24))[:2100, :2100]  # > 2,048 px: tiled
    viewer, dock = make_viewer_with_dock(image)
    c = ready(qtbot, dock, tiny_model)
    predictor = c.ws.embeddings.get(c.plane).predictor
    assert predictor is not None and predictor.tiled, "the slide is cut into tiles"
    assert not predictor._tiled._features, "no tile is encoded before a click needs it"
    viewer.layers.selection.active = dock.bridge.helper("prompts")
    click(qtbot, viewer, (1500.0, 700.0))
    qtbot.waitUntil(lambda: c.preview_is_current, timeout=30000)
    encoded, tiles = len(predictor._tiled._features), len(predictor._tiled.grid)
    assert 1 <= encoded <= predictor._tiled.max_tiles + 1 < tiles, "only the click's tiles"
    assert not shown["error"], shown


def test_embeddings_on_disk_are_off_by_default_and_reused_when_on(
    make_viewer_with_dock, qtbot, tiny_model, nuclei_2d, tmp_path, monkeypatch
):
    monkeypatch.delenv("NAPARI_SAM2_EMBEDDINGS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    viewer, dock = make_viewer_with_dock(nuclei_2d.image)
    box, c = dock.setup.disk_cache_box, dock.controller
    assert not box.value and c.ws.embeddings.disk is None
    qtbot.mouseClick(box.native, Qt.LeftButton)
    disk = c.ws.embeddings.disk
    assert box.value and disk is not None
    ready(qtbot, dock, tiny_model)
    assert len(list((tmp_path / "napari-sam2" / "embeddings").rglob("*.zarr"))) == 1
    assert (disk.hits, disk.misses) == (0, 1)

    viewer.add_image(nuclei_2d.image.copy(), name="the same image again")
    dock.setup.image_combo.value = viewer.layers["the same image again"]
    qtbot.waitUntil(lambda: c.has_embedding() and not c.is_running(), timeout=30000)
    assert (disk.hits, disk.misses) == (1, 1), "read from disk, not encoded again"

    qtbot.mouseClick(box.native, Qt.LeftButton)
    assert c.ws.embeddings.disk is None


def test_embeddings_on_disk_are_on_when_the_environment_names_a_folder(
    make_viewer_with_dock, nuclei_2d, tmp_path, monkeypatch
):
    monkeypatch.setenv("NAPARI_SAM2_EMBEDDINGS", str(tmp_path / "emb"))
    _, dock = make_viewer_with_dock(nuclei_2d.image)
    disk = dock.controller.ws.embeddings.disk
    assert dock.setup.disk_cache_box.value and disk.root == tmp_path / "emb"


def test_tiles_are_embedded_in_the_background_with_progress_and_clicks_work_meanwhile(
    make_viewer_with_dock, qtbot, tiny_model, nuclei_2d, shown, monkeypatch
):
    from qtpy.QtCore import QTimer

    from sam2_engine.tiled.prompts import TiledPrompts

    encode = TiledPrompts._encode

    def slow_encode(self, index):  # an official model's tile takes seconds on a CPU
        time.sleep(0.15)
        return encode(self, index)

    monkeypatch.setattr(TiledPrompts, "_encode", slow_encode)
    image = np.tile(nuclei_2d.image, (24, 2))[:2100, :128]  # 22 tiles: all kept in memory
    viewer, dock = make_viewer_with_dock(image)
    c = dock.controller
    progress: list[tuple[int, int]] = []
    c.events.progress_changed.connect(
        lambda kind, done, total: progress.append((done, total)) if kind == "tiles" else None
    )
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    c.settings.click_selects_object = False
    c.set_model(tiny_model, "test_tiny")
    qtbot.waitUntil(lambda: c.has_embedding() and c.is_running("tiles"), timeout=30000)
    predictor = c.ws.embeddings.get(c.plane).predictor
    total = predictor.tile_count
    assert total == 22 and dock.progress_row.bar.visible, "a progress bar for the tiles"

    viewer.layers.selection.active = dock.bridge.helper("prompts")
    click(qtbot, viewer, (1500.0, 64.0))
    qtbot.waitUntil(lambda: c.preview_is_current, timeout=30000)
    assert c.is_running("tiles"), "the click was answered before the whole image was done"
    assert len(progress) < total

    qtbot.waitUntil(lambda: not c.is_running(), timeout=60000)
    timer.stop()
    assert progress[-1] == (total, total) and [d for d, _ in progress] == sorted(
        d for d, _ in progress
    ), "progress only grows, to every tile"
    assert all(predictor._tiled.is_encoded(i) for i in range(total))
    assert f"All {total} tiles" in c.status
    gaps = np.diff(ticks)
    assert len(gaps) > 50 and gaps.max() < 0.5, f"the GUI never froze (longest {gaps.max():.2f} s)"
    assert not shown["error"], shown


def test_a_slide_too_big_for_memory_is_embedded_ahead_only_with_the_disk_cache(
    make_viewer_with_dock, qtbot, tiny_model, nuclei_2d, tmp_path, monkeypatch
):
    monkeypatch.delenv("NAPARI_SAM2_EMBEDDINGS", raising=False)
    image = np.tile(nuclei_2d.image, (24, 4))[:2100, :300]  # 66 tiles > 32 kept in memory
    _, dock = make_viewer_with_dock(image)
    c = ready(qtbot, dock, tiny_model)
    predictor = c.ws.embeddings.get(c.plane).predictor
    assert predictor.tile_count > 32 and not predictor._tiled._features, "on demand only"
    c.ws.embeddings.use_disk(True, str(tmp_path))
    c.ws.embeddings.clear()
    c.ensure_embedding()
    qtbot.waitUntil(lambda: c.has_embedding() and not c.is_running(), timeout=60000)
    disk = c.ws.embeddings.disk
    assert disk.misses == predictor.tile_count, "every tile embedded ahead, onto disk"


@pytest.fixture
def make_viewer_with_dock(make_napari_viewer):
    def make(image):
        viewer = make_napari_viewer(show=True)
        viewer.add_image(image, name="image")
        return viewer, open_dock(viewer)

    return make
