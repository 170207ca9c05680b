"""The preview layer on a big image: a click rewrites only the bounding box of the old
and the new preview (napari's partial update), and the layer ends up exactly as a
full-plane redraw would leave it (issue 19)."""

import numpy as np
import pytest
from napari.components import ViewerModel

from napari_sam2.viewer.preview_paint import mask_box, preview_patch, union
from napari_sam2.viewer.registry import bridge_for
from tests.plugin.mouse import click


@pytest.fixture
def big_bridge(present_model, nuclei_2d):
    viewer = ViewerModel()
    image = np.tile(nuclei_2d.image, (22, 3))[:2100, :288]  # > 2,048 px: tiled, 22 tiles
    viewer.add_image(image, name="slide")
    b = bridge_for(viewer)
    b.controller.settings.click_selects_object = False
    b.controller.set_model(present_model, "test_tiny")
    b.controller.set_image(viewer.layers["slide"])
    yield b
    b.close()


def _full_redraw(c):
    """What the preview layer held when it was redrawn whole on every click."""
    p = c.preview
    full = np.zeros(c.layout.plane_shape, np.int32)
    if p is not None and c.preview_is_current:
        full[p.mask] = c.current.obj_id or c.peek_next_label()
    return full


def test_a_click_on_a_big_image_rewrites_only_the_preview_region(big_bridge, monkeypatch):
    c, layer = big_bridge.controller, big_bridge.helper("preview")
    predictor = c.ws.embeddings.get(c.plane).predictor
    assert predictor is not None and predictor.tiled
    buffer = layer.data
    writes: list[tuple[np.ndarray, np.ndarray]] = []
    setitem = layer.data_setitem

    def spy(indices, value, refresh=True):
        writes.append((indices[0].copy(), indices[1].copy()))
        return setitem(indices, value, refresh)

    monkeypatch.setattr(layer, "data_setitem", spy)
    refreshed: list = []
    layer.events.set_data.connect(lambda e: refreshed.append(e))

    before = np.zeros_like(buffer)
    for point in ((1500, 100), (300, 200)):  # the second click: another object, far away
        writes.clear()
        c.clear_prompts()
        click(big_bridge.helper("prompts"), point)
        assert c.preview_is_current and c.preview.any()
        after = _full_redraw(c)
        np.testing.assert_array_equal(layer.data, after)
        assert layer.data is buffer, "the buffer is kept, not replaced"
        assert writes, "written through napari's partial update"
        region = union(mask_box(before != 0), mask_box(after != 0))
        r0, r1, c0, c1 = region
        for rows, cols in writes:
            assert rows.min() >= r0 and rows.max() < r1 and cols.min() >= c0 and cols.max() < c1
        touched = sum(len(r) for r, _ in writes)
        assert touched == np.count_nonzero(before != after), "only the pixels that change"
        before = after
    assert not refreshed, "no whole-layer reslice"
    assert not layer._undo_history, "the preview keeps no undo steps"

    c.clear_prompts()
    assert not layer.data.any() and layer.data is buffer


def test_the_patch_of_a_box_holds_the_preview_where_they_meet():
    from napari_sam2.core.state import PlaneKey, Preview

    mask = np.zeros((4, 4), bool)
    mask[1:3, 1:4] = True
    p = Preview(PlaneKey(), mask, 0.9, 0, top=10, left=20, plane_hw=(50, 50))
    patch = preview_patch(p, 7, (9, 13, 22, 30))  # cuts the preview on the left
    expected = np.zeros((50, 50), np.int32)
    expected[p.mask] = 7
    np.testing.assert_array_equal(patch, expected[9:13, 22:30])
    assert not preview_patch(None, 7, (0, 2, 0, 2)).any()
