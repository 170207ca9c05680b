"""The "Track cells" feature: runs the tracker in a job, fills a Labels layer frame by
frame with its Tracks data, continues after a cancel, edits the lineage undoably.
The tracker's detections are the movie's ground truth (a label stack), so that the
assertions are about the plugin's plumbing, not a model's quality."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from napari.layers import Image, Labels

from napari_sam2.controller import Sam2Controller
from napari_sam2.core.jobs import SyncRunner
from napari_sam2.features.cell_tracking import CellTracking
from sam2_cells import CellTracker, LabelStackDetector, check_lineage
from sam2_synthetic import microscopy_timelapse


def use_oracles(monkeypatch, movie) -> None:
    """The tracker detects the movie's ground truth (no model quality)."""
    init = CellTracker.__init__

    def given(self, model=None, settings=None, **kw):
        init(self, model, settings, **{**kw, "detector": LabelStackDetector(movie.labels)})

    monkeypatch.setattr(CellTracker, "__init__", given)


@pytest.fixture(scope="module")
def movie():
    return microscopy_timelapse(10, (96, 96), seed=8, modality="nuclear", n_cells=6)


@pytest.fixture()
def feature(movie, tiny_model, monkeypatch):
    use_oracles(monkeypatch, movie)
    c = Sam2Controller(runner=SyncRunner(raise_errors=True), notify_fn=lambda *a: None)
    c.set_model(tiny_model, "tiny")
    c.set_image(Image(movie.movie), stack_axis=0, stack_kind="time")
    f = CellTracking(c.ws)
    added = []
    f.events.layers_ready.connect(added.append)
    return c, f, added


def test_tracking_fills_a_labels_layer_and_the_lineage(feature, movie):
    _, f, added = feature
    assert f.run(seeds=Labels(movie.labels[0]))
    run = f.run_state
    assert added == [run.labels_layer] and run.frames_done == 10
    labels = np.asarray(run.labels_layer.data)
    check_lineage(run.tracks, labels)
    assert (labels > 0).sum() == pytest.approx((movie.labels > 0).sum(), rel=0.05)
    data, graph = run.tracks_data()
    assert data.shape[1] == 4 and set(np.unique(data[:, 0]).astype(int)) <= {
        t.label for t in run.tracks
    }
    assert graph and all(len(p) == 1 for p in graph.values()), "divisions in the graph"
    first = run.tracks[0]
    assert f.where(first.label)[0] == first.begin


def test_the_status_says_which_cell_size_the_run_used(movie, tiny_model):
    c = Sam2Controller(runner=SyncRunner(raise_errors=True), notify_fn=lambda *a: None)
    c.set_model(tiny_model, "tiny")
    c.set_image(Image(movie.movie), stack_axis=0, stack_kind="time")
    f = CellTracking(c.ws)
    assert f.run(detections="classical")
    assert "Cell tracking done" in c.ws.status.text
    assert "Cell size" in c.ws.status.text and "px (estimated" in c.ws.status.text
    f.settings = dataclasses.replace(f.settings, diameter=11.0)
    assert f.run(detections="classical")
    assert "Cell size 11 px (given)." in c.ws.status.text


def test_a_cancelled_run_continues_where_it_stopped(feature, movie):
    c, f, _ = feature
    seen = []

    def stop_after_four(kind, done, total):
        seen.append(done)
        if done == 4:
            c.cancel("track")

    c.events.progress_changed.connect(stop_after_four)
    f.run(seeds=Labels(movie.labels[0]))
    run = f.run_state
    assert run.frames_done == 4 and not np.asarray(run.labels_layer.data)[4:].any()
    c.events.progress_changed.disconnect(stop_after_four)
    assert f.run(resume=True)
    assert run.frames_done == 10 and np.asarray(run.labels_layer.data)[9].any()
    check_lineage(run.tracks, np.asarray(run.labels_layer.data))


def test_lineage_edits_relabel_undoably(feature, movie):
    _, f, _ = feature
    f.run(seeds=Labels(movie.labels[0]))
    run = f.run_state
    layer = run.labels_layer
    before = np.asarray(layer.data).copy()
    long = max(run.tracks, key=lambda t: t.end - t.begin)
    f.split(long.label, long.begin + 2)
    check_lineage(run.tracks, np.asarray(layer.data))
    assert not (np.asarray(layer.data)[long.begin + 2 :] == long.label).any()
    layer.undo()
    np.testing.assert_array_equal(np.asarray(layer.data), before)
    daughter = next(t for t in run.tracks if t.parent)
    f.unlink(daughter.label)
    assert next(t for t in run.tracks if t.label == daughter.label).parent == 0


def test_tracking_needs_a_time_lapse_and_says_so(tiny_model, movie):
    messages = []
    c = Sam2Controller(runner=SyncRunner(), notify_fn=lambda lvl, msg: messages.append(msg))
    c.set_model(tiny_model, "tiny")
    c.set_image(Image(movie.movie[0]))
    assert not CellTracking(c.ws).run() and "time" in messages[-1]


def test_the_console_api_tracks_cells(movie, tiny_model, monkeypatch):
    from napari_sam2 import api

    use_oracles(monkeypatch, movie)
    run = api.track_cells(movie.movie, movie.labels[0], model=tiny_model)
    labels = np.asarray(run.labels_layer.data)
    assert labels.shape == movie.labels.shape and run.frames_done == len(movie.movie)
    check_lineage(run.tracks, labels)
    with pytest.raises(ValueError, match="stack axis 0"):
        api.track_cells(movie.movie[0], model=tiny_model)
    with pytest.raises(ValueError, match="nothing to continue"):
        api.track_cells(movie.movie, model=tiny_model, resume=run)


def test_the_console_api_links_your_own_labels_or_detects_classically(movie, tiny_model):
    from napari_sam2 import api

    run = api.track_cells(movie.movie, model=tiny_model, detections=movie.labels)
    labels = np.asarray(run.labels_layer.data)
    check_lineage(run.tracks, labels)
    assert (labels > 0).sum() == (movie.labels > 0).sum(), "your labels, only linked"
    assert any(t.parent for t in run.tracks), "divisions found"
    run = api.track_cells(movie.movie, model=tiny_model, detections="classical")
    check_lineage(run.tracks, np.asarray(run.labels_layer.data))
    assert run.tracks
    with pytest.raises(ValueError, match="has 3 frames but the movie has 10"):
        api.track_cells(movie.movie, model=tiny_model, detections=movie.labels[:3])
