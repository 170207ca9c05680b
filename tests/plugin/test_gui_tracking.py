"""The Track cells tab as a user drives it: seeds from a Labels layer, Track cells, the
Labels and Tracks layers it fills, the track table (a row shows its cell), a lineage edit
with undo, saving a CTC folder. The tracker's follower and detector are the ground-truth
oracles of tests/cells, so the assertions are about the GUI's plumbing."""

from __future__ import annotations

import numpy as np
import pytest

from sam2_cells import ctc_validate, read_ctc_results
from sam2_synthetic import microscopy_timelapse
from tests.plugin.qt_events import open_dock, ready
from tests.plugin.test_cell_tracking import use_oracles

pytestmark = [pytest.mark.gui, pytest.mark.usefixtures("plugins_discovered")]


@pytest.fixture(scope="module")
def movie():
    return microscopy_timelapse(10, (96, 96), seed=8, modality="nuclear", n_cells=6)


@pytest.fixture
def tab(make_napari_viewer, qtbot, movie, tiny_model, monkeypatch):
    use_oracles(monkeypatch, movie)
    viewer = make_napari_viewer(show=True)
    viewer.add_image(movie.movie, name="cells")
    seeds = viewer.add_labels(movie.labels[0], name="first frame")
    dock = open_dock(viewer, "track")
    ready(qtbot, dock, tiny_model)
    tool = dock.tool("track")
    tool.seeds_combo.reset_choices()
    tool.seeds_combo.value = seeds
    return viewer, dock, tool


def test_tracking_from_the_tab_fills_layers_and_the_table(tab, qtbot, movie, tmp_path, monkeypatch):
    viewer, dock, tool = tab
    c = dock.controller
    assert dock.current_tool == "track"
    assert tool.feature.settings.textured is False
    tool.detector_combo.value = "model"
    assert not tool.textured_box.enabled, "the box is the classical detector's"
    tool.detector_combo.value = "auto"
    assert tool.textured_box.enabled
    tool.textured_box.value = True
    import dataclasses

    # an earlier run detected with the model: the new run's source comes with the box
    tool.feature.settings = dataclasses.replace(tool.feature.settings, detection="model")
    tool.track_btn.clicked.emit()
    qtbot.waitUntil(lambda: not c.is_running("track"), timeout=60000)
    run = tool.feature.run_state
    assert run.frames_done == len(movie.movie)
    assert tool.feature.settings.textured is True, "the box reaches the tracker's settings"
    assert tool.feature.settings.detection == "auto"
    assert run.labels_layer in viewer.layers
    tracks_layer = dock.bridge.lineage.tracks_layer
    assert tracks_layer in viewer.layers and tracks_layer.graph, "divisions drawn"
    assert tool.table.rowCount() == len(run.tracks)
    assert "tracks" in tool.summary.value

    daughter = next(t for t in run.tracks if t.parent)
    tool.select_track(daughter.label)
    assert tool.selected_track() == daughter.label
    assert tool.current_frame() == daughter.begin, "the row shows the cell's first frame"
    assert run.labels_layer.selected_label == daughter.label
    assert tool.mother_spin.value == daughter.parent

    before, n_tracks = np.asarray(run.labels_layer.data).copy(), len(run.tracks)
    long = max(run.tracks, key=lambda t: t.end - t.begin)
    tool.select_track(long.label)
    viewer.dims.set_point(0, long.begin + 2)
    tool.split_btn.clicked.emit()
    assert not (np.asarray(run.labels_layer.data)[long.begin + 2 :] == long.label).any()
    assert tool.table.rowCount() == len(run.tracks) == n_tracks + 1, "the table follows"
    run.labels_layer.undo()
    np.testing.assert_array_equal(np.asarray(run.labels_layer.data), before)

    from qtpy.QtWidgets import QFileDialog

    out = tmp_path / "01_RES"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(out))
    tool.save_ctc_btn.clicked.emit()
    qtbot.waitUntil(lambda: not c.is_running("export") and out.exists(), timeout=30000)
    assert ctc_validate(out) == []
    labels, _ = read_ctc_results(out)
    assert np.asarray(labels).shape == movie.labels.shape


def test_the_tab_says_what_is_missing(make_napari_viewer, qtbot, movie, tiny_model):
    viewer = make_napari_viewer(show=True)
    viewer.add_image(movie.movie[0], name="one frame")
    dock = open_dock(viewer, "track")
    ready(qtbot, dock, tiny_model)
    tool = dock.tool("track")
    tool.refresh()
    assert "time" in tool.summary.value
    assert not tool.continue_btn.enabled and not tool.save_ctc_btn.enabled
