"""napari (row, col) -> engine (x, y): converted once, in napari_sam2.core.coords."""

import numpy as np
from napari.layers import Image

from napari_sam2.core.coords import (
    box_rc_to_xyxy,
    points_from_rc,
    prompts_to_engine,
    rc_to_xy,
    xy_to_rc,
)
from napari_sam2.core.state import PlanePrompts, PointPrompt


def test_rc_xy_round_trip():
    rc = np.array([[10.0, 20.0], [3.5, 7.25]])
    xy = rc_to_xy(rc)
    np.testing.assert_array_equal(xy, [[20.0, 10.0], [7.25, 3.5]])
    np.testing.assert_array_equal(xy_to_rc(xy), rc)


def test_box_corners_any_order():
    assert box_rc_to_xyxy((30, 5, 10, 25)).tolist() == [5.0, 10.0, 25.0, 30.0]
    assert box_rc_to_xyxy((10, 25, 30, 5)).tolist() == [5.0, 10.0, 25.0, 30.0]


def test_prompts_to_engine_labels_and_box():
    prompts = PlanePrompts([PointPrompt(1, 2, True), PointPrompt(3, 4, False)], box=(0, 0, 8, 9))
    points, labels, box = prompts_to_engine(prompts)
    assert points.tolist() == [[2.0, 1.0], [4.0, 3.0]]
    assert labels.tolist() == [1, 0]
    assert box.tolist() == [0.0, 0.0, 9.0, 8.0]
    assert prompts_to_engine(PlanePrompts()) == (None, None, None)


def test_points_from_rc():
    pts = points_from_rc([[1, 2], [3, 4]], [True, False])
    assert pts == [PointPrompt(1.0, 2.0, True), PointPrompt(3.0, 4.0, False)]


def test_click_reaches_engine_as_x_col_y_row(make_controller, tiny_model, monkeypatch):
    """A click on (row=10, col=40) is the engine point (x=40, y=10)."""
    from sam2_engine.image import ImagePredictor

    seen = {}
    original = ImagePredictor.predict

    def spy(self, points=None, labels=None, box=None, **kw):
        seen["points"], seen["box"] = np.asarray(points), box
        return original(self, points, labels, box=box, **kw)

    monkeypatch.setattr(ImagePredictor, "predict", spy)
    c = make_controller(tiny_model)
    c.set_image(Image(np.zeros((50, 80), np.uint16)))
    c.add_point((10, 40))
    assert seen["points"].tolist() == [[40.0, 10.0]]
    c.set_box((5, 30), (20, 60))
    assert seen["box"].tolist() == [30.0, 5.0, 60.0, 20.0]
