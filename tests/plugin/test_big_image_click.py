"""A click on a big image with a windowed model: the preview is the window's crop, and
the commit writes only the pixels that change, in the right place."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from napari.layers import Image


@pytest.fixture(scope="module")
def windowed_model():
    import sam2_engine as se

    torch.manual_seed(0)
    model = se.build_model("test_tiny", device="cpu")
    with torch.no_grad():  # an object everywhere: the preview is never empty
        model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias.fill_(20.0)
    model.recommended = {"windows": {"object_fraction": 0.3, "probe_sides": [32, 64]}}
    return model


def test_a_windowed_preview_is_a_crop_and_commits_where_it_belongs(
    make_controller, windowed_model, nuclei_2d, messages
):
    image = np.tile(nuclei_2d.image, (10, 10))
    c = make_controller(windowed_model)
    c.set_image(Image(image))
    c.add_point((700.0, 500.0))
    p = c.preview
    assert c.preview_is_current, (c.status, messages)
    assert p.plane_hw == image.shape
    assert p.region_mask.shape[0] < image.shape[0] and p.any()
    rows, cols = p.region
    assert rows.start <= 700 < rows.stop and cols.start <= 500 < cols.stop
    expected = p.mask.copy()
    assert expected.shape == image.shape and expected[p.region].sum() == expected.sum()
    result = c.commit()
    labels = np.asarray(c.labels_layer.data)
    np.testing.assert_array_equal(labels == result.obj_id, expected)
    assert result.written == int(expected.sum())


def test_correcting_an_object_still_clears_its_pixels_elsewhere(
    make_controller, windowed_model, nuclei_2d
):
    image = np.tile(nuclei_2d.image, (8, 8))
    c = make_controller(windowed_model)
    c.set_image(Image(image))
    c.add_point((100.0, 100.0))
    first = c.commit()
    c.select_object(first.obj_id)
    c.add_point((600.0, 600.0))
    c.commit()
    labels = np.asarray(c.labels_layer.data)
    ids = labels == first.obj_id
    rows, _ = np.nonzero(ids)
    assert ids.any() and rows.min() > 300, "the object moved: nothing left near its old place"
