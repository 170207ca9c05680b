"""The console API: segment / track / segment everything without clicking."""

import numpy as np
import pytest
from napari.components import ViewerModel
from napari.layers import Image, Labels, Points

from napari_sam2 import api
from tests.plugin.helpers import centre_of


def test_segment_from_points_one_object_per_point(present_model, nuclei_2d):
    image = Image(nuclei_2d.image)
    seeds = [centre_of(nuclei_2d.labels, i) for i in (1, 2)]
    points = Points(np.array(seeds))
    labels = api.segment_from_points(image, points, model=present_model, overlap="overwrite")
    assert isinstance(labels, Labels) and labels.data.shape == (96, 96)
    assert set(np.unique(labels.data)) == {0, 1, 2}
    labels.undo()
    assert set(np.unique(labels.data)) == {0, 1}


def test_points_with_polarity_and_groups(present_model, nuclei_2d):
    image = Image(nuclei_2d.image)
    r, c = centre_of(nuclei_2d.labels, 1)
    points = Points(
        np.array([[r, c], [5, 5], [r + 2, c]]),
        features={"positive": [True, False, True], "object": [1, 1, 1]},
    )
    labels = api.segment_from_points(image, points, model=present_model)
    assert set(np.unique(labels.data)) == {0, 1}


def test_points_outside_are_an_error(present_model, nuclei_2d):
    with pytest.raises(ValueError, match="outside the image"):
        api.segment_from_points(
            Image(nuclei_2d.image), np.array([[500.0, 3.0]]), model=present_model
        )
    with pytest.raises(ValueError, match="no points"):
        api.segment_from_points(
            Image(nuclei_2d.image), Points(np.zeros((0, 2))), model=present_model
        )


def test_propagate_from_points(present_model, timelapse):
    movie = Image(timelapse.movie)
    seeds = Points(np.array([[0, 20.0, 20.0], [0, 50.0, 50.0]]))
    labels = api.propagate_from_points(movie, seeds, time_axis=0, model=present_model)
    data = np.asarray(labels.data)
    assert all({1, 2} <= set(np.unique(data[t])) for t in range(6))
    with pytest.raises(ValueError, match="not a stack"):
        api.propagate_from_points(
            Image(timelapse.movie[0]), np.array([[10.0, 10.0]]), model=present_model
        )


def test_viewer_argument_and_controller_for(present_model, timelapse):
    viewer = ViewerModel()
    layer = viewer.add_image(timelapse.movie, name="movie")
    viewer.layers.selection.active = layer
    c = api.controller_for(viewer)
    assert c is api.controller_for(viewer)
    labels = api.segment_from_points(viewer, np.array([[1, 20.0, 20.0]]), model=present_model)
    assert np.asarray(labels.data)[1].any() and not np.asarray(labels.data)[0].any()


def test_segment_everything(tiny_model, nuclei_2d):
    pytest.importorskip("sam2_engine.automatic.generator")
    labels = api.segment_everything(
        Image(nuclei_2d.image),
        model=tiny_model,
        points_per_side=4,
        pred_iou_thresh=0,
        stability_score_thresh=0,
    )
    assert labels.data.shape == (96, 96) and labels.data.max() >= 1


def test_track_from_points_is_a_deprecated_alias(present_model, timelapse):
    movie = Image(timelapse.movie)
    seeds = Points(np.array([[0, 20.0, 20.0]]))
    with pytest.warns(DeprecationWarning, match="propagate_from_points"):
        labels = api.track_from_points(movie, seeds, time_axis=0, model=present_model, max_frames=1)
    assert np.asarray(labels.data).max() == 1
