"""A click's window from the instance head: the object under the click is measured in
the probe windows, and the window of a click is sized from it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage as ndi

import sam2_engine as se
from sam2_engine.focus.instance_probe import object_box_from_instance_head
from sam2_engine.focus.window import Window

CENTRE, RADIUS = (100, 120), 20  # (row, col) and radius of the bright disc


def _frame() -> torch.Tensor:
    yy, xx = np.mgrid[:256, :256]
    disc = (yy - CENTRE[0]) ** 2 + (xx - CENTRE[1]) ** 2 <= RADIUS**2
    rgb = np.repeat(np.where(disc, 0.9, 0.05)[..., None], 3, axis=-1).astype(np.float32)
    return torch.from_numpy(rgb)


def _seeing_head(images: torch.Tensor) -> torch.Tensor:
    """An instance head that sees perfectly: bright pixels are foreground, the distance
    map is the normalised distance transform of each object (logits of both)."""
    out = []
    for image in images:
        fg = (image.mean(0) > 0).numpy()  # ImageNet-normalised: bright is above 0
        labels, n = ndi.label(fg)
        dist = np.zeros(fg.shape, np.float32)
        for i in range(1, n + 1):
            d = ndi.distance_transform_edt(labels == i)
            dist += (d / d.max()).astype(np.float32)
        p = np.stack([fg.astype(np.float32), dist]).clip(1e-4, 1 - 1e-4)
        out.append(torch.from_numpy(np.log(p / (1 - p))))
    return torch.stack(out)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = se.build_model("conv_micro", checkpoint=False, device="cpu")
    m.instance_maps = _seeing_head  # type: ignore[method-assign]
    return m


def test_the_box_is_the_object_under_the_click_whichever_probe_sees_it_best(model):
    click = (float(CENTRE[1]), float(CENTRE[0]))  # (x, y)
    probes = [Window.centred(CENTRE[0], CENTRE[1], s, (256, 256)) for s in (24, 48, 112, 256)]
    box = object_box_from_instance_head(model, _frame(), probes, click, (256, 256))
    assert box is not None
    x0, _, x1, _ = box
    want = (CENTRE[1] - RADIUS, CENTRE[0] - RADIUS, CENTRE[1] + RADIUS + 1, CENTRE[0] + RADIUS + 1)
    assert np.allclose(box, want, atol=2.5), (box, want)
    assert x1 - x0 > 30  # not the 24 px probe, which cuts the disc


def test_the_probe_ignores_the_models_segment_everything_thresholds(model):
    # a model that recommends a foreground threshold above anything the head says would
    # find no object with it; the probe reads objects with the engine's defaults
    click = (float(CENTRE[1]), float(CENTRE[0]))
    probes = [Window.centred(CENTRE[0], CENTRE[1], s, (256, 256)) for s in (48, 112, 256)]
    plain = object_box_from_instance_head(model, _frame(), probes, click, (256, 256))
    model.recommended = {"instance": {"foreground_threshold": 0.9999}}
    try:
        assert se.InstanceSegmenter(model).settings.foreground_threshold == 0.9999
        box = object_box_from_instance_head(model, _frame(), probes, click, (256, 256))
    finally:
        model.recommended = {}
    assert plain is not None and box == plain


def _merging_head(images: torch.Tensor) -> torch.Tensor:
    """A head that, like a real one below its training scale, joins objects closer than
    a few model pixels: the seeing head after a closing of radius 4 (model pixels)."""
    closed = []
    for image in images:
        fg = ndi.binary_closing(image.mean(0).numpy() > 0, np.ones((9, 9)))
        closed.append(torch.from_numpy(np.where(fg, 1.0, -1.0)).float().expand(3, -1, -1))
    return _seeing_head(torch.stack(closed))


def test_neighbours_merged_at_low_magnification_do_not_set_the_window():
    torch.manual_seed(0)
    m = se.build_model("conv_micro", checkpoint=False, device="cpu")
    m.instance_maps = _merging_head  # type: ignore[method-assign]
    yy, xx = np.mgrid[:256, :256]
    # two discs of radius 8 with a 3 px gap: joined at 1x (the 256 probe), apart at 2.3x
    discs = ((yy - 128) ** 2 + (xx - 110) ** 2 <= 64) | ((yy - 128) ** 2 + (xx - 129) ** 2 <= 64)
    rgb = np.repeat(np.where(discs, 0.9, 0.05)[..., None], 3, axis=-1).astype(np.float32)
    probes = [Window.centred(128, 110, s, (256, 256)) for s in (48, 112, 256)]
    box = object_box_from_instance_head(
        m, torch.from_numpy(rgb), probes, (110.0, 128.0), (256, 256)
    )
    assert box is not None
    x0, y0, x1, y1 = box
    assert abs((x1 - x0) - 17) <= 3 and abs((y1 - y0) - 17) <= 3, box  # one disc, not two


def test_nothing_under_the_click_gives_no_box(model):
    probes = [Window.centred(30, 30, s, (256, 256)) for s in (48, 112)]
    assert object_box_from_instance_head(model, _frame(), probes, (30.0, 30.0), (256, 256)) is None


def test_a_click_is_decoded_in_the_window_sized_from_the_head(model):
    policy = se.WindowPolicy(probe_sides=(24, 48, 112, 256))
    predictor = se.ImagePredictor(model, windows=policy)
    predictor.set_image(_frame().numpy())
    result = predictor.predict(points=[[CENTRE[1], CENTRE[0]]], labels=[1])
    want = Window.centred(CENTRE[0], CENTRE[1], policy.side_for(2 * RADIUS + 1), (256, 256))
    assert (result.window.side, result.window.top, result.window.left) == (
        want.side,
        want.top,
        want.left,
    )
