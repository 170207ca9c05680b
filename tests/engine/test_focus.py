"""Prompt-centred windows: geometry, crops, pasting, policies and the window mode of the
image predictor."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sam2_engine as se
from sam2_engine import Window, WindowPolicy


def test_a_centred_window_stays_inside_a_larger_frame():
    w = Window.centred(5, 5, 40, (100, 200))
    assert (w.top, w.left, w.side) == (0, 0, 40)
    w = Window.centred(98, 190, 40, (100, 200))
    assert (w.top, w.left) == (60, 160)
    w = Window.centred(50, 100, 40, (100, 200))
    assert w.centre == (50.0, 100.0)


def test_a_window_larger_than_the_frame_is_centred_on_the_frame():
    w = Window.centred(3, 3, 64, (32, 48))
    assert (w.top, w.left) == (-16, -8)


def test_windows_snap_to_a_lattice():
    w = Window.centred(50.2, 70.9, 32, (500, 500), step=8)
    assert w.top % 8 == 0 and w.left % 8 == 0
    assert abs(w.centre[0] - 50.2) <= 4 and abs(w.centre[1] - 70.9) <= 4


def test_crop_repeats_edges_and_resamples():
    rgb = torch.zeros(10, 20, 3)
    rgb[:, 0] = 1.0  # first column white
    crop = Window(2, -4, 8).crop(rgb, 16)
    assert crop.shape == (3, 16, 16)
    # columns -4..0 repeat the white first column; column 1 onwards is black
    assert crop[:, :, :8].min() > 0.99 and crop[:, :, 12:].max() < 0.01


def test_paste_puts_window_logits_back_at_their_place():
    logits = torch.full((1, 4, 4), -5.0)
    logits[0, 1:3, 1:3] = 5.0  # the centre of the window
    out = Window(10, 20, 16).paste(logits, (50, 60))
    mask = (out[0] > 0).numpy()
    rows, cols = np.nonzero(mask)
    assert rows.min() >= 10 and rows.max() < 26 and cols.min() >= 20 and cols.max() < 36
    assert abs(rows.mean() - 17.5) < 1.5 and abs(cols.mean() - 27.5) < 1.5
    assert not mask[:10].any() and not mask[:, :20].any()


def test_points_map_into_window_pixels():
    w = Window(10, 20, 50)
    np.testing.assert_allclose(w.to_input([[20, 10], [70, 60]], 100), [[0, 0], [100, 100]])
    assert w.contains([[45, 35]]).all() and not w.contains([[5, 5]]).any()


def test_policy_sizes_windows_from_the_object_extent():
    p = WindowPolicy(object_fraction=0.25, min_side=32, max_side=400)
    assert p.side_for(40) == 160
    assert p.side_for(2) == 32 and p.side_for(1000) == 400
    with pytest.raises(ValueError, match="object_fraction"):
        WindowPolicy(object_fraction=0)


def test_policy_comes_from_the_model_recommendation():
    model = se.build_model("test_tiny", checkpoint=False)
    assert WindowPolicy.from_model(model) is None, "official-style models use whole images"
    model.recommended = {"windows": {"object_fraction": 0.4, "probe_sides": [32, 64]}}
    policy = WindowPolicy.from_model(model)
    assert policy == WindowPolicy(object_fraction=0.4, probe_sides=(32, 64))


def _blob_image(shape=(300, 420), centre=(150, 210), radius=12) -> np.ndarray:
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    inside = (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 <= radius**2
    return (100 + 900 * inside).astype(np.uint16)


def test_window_mode_decodes_a_box_in_a_window_around_it():
    torch.manual_seed(0)
    model = se.build_model("test_tiny", checkpoint=False)
    pred = se.ImagePredictor(model, windows=WindowPolicy(object_fraction=0.25))
    assert pred.windowed
    pred.set_image(_blob_image())
    res = pred.predict(box=[198, 138, 222, 162])
    w = res.window
    assert isinstance(w, Window) and w.side == 96, "a 24 px box fills a quarter"
    assert abs(w.centre[0] - 150) <= 1 and abs(w.centre[1] - 210) <= 1
    assert res.masks.shape == (3, 300, 420), "masks come back at the image size"
    assert not res.masks[:, :, : w.left].any(), "nothing outside the window"
    with pytest.raises(RuntimeError, match="windows"):
        _ = pred.features


def test_window_mode_sizes_a_click_from_a_probe():
    torch.manual_seed(0)
    model = se.build_model("test_tiny", checkpoint=False)
    pred = se.ImagePredictor(model, windows=WindowPolicy(probe_sides=(64, 128)))
    pred.set_image(_blob_image())
    res = pred.predict(points=[[210, 150]], labels=[1])
    w = res.window
    assert w.contains([[210, 150]]).all(), "the click lies in its window"
    assert 24 <= w.side <= 2 * 420
    batched = pred.predict(points=[[[210, 150]], [[40, 40]]], labels=[[1], [1]])
    assert batched.masks.shape == (2, 3, 300, 420) and len(batched.window) == 2
    refined = pred.predict(
        points=[[210, 150]], labels=[1], mask_input=res.logits[0], window=res.window
    )
    assert refined.window == res.window
    with pytest.raises(ValueError, match="window"):
        pred.predict(points=[[210, 150]], labels=[1], mask_input=res.logits[0])


def test_whole_image_mode_is_unchanged_without_a_recommendation():
    model = se.build_model("test_tiny", checkpoint=False)
    pred = se.ImagePredictor(model)
    assert not pred.windowed
    pred.set_image(_blob_image())
    assert pred.predict(points=[[210, 150]], labels=[1]).window is None
