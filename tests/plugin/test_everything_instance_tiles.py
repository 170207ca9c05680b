"""The Everything tab's instance-head method on a plane too big for one pass: tiles,
progress per tile, Cancel keeps the objects of the tiles done."""

from __future__ import annotations

import numpy as np
import pytest
from napari.layers import Image

import sam2_engine as se
from tests.engine.test_instance_tiles import blob_maps

DIAMETER = 24.0  # conv_micro's head diameter: the model's scale is the image's


@pytest.fixture()
def tiled_head(monkeypatch):
    """conv_micro with small tiles, and ideal maps of the bright blobs it is shown."""
    init = se.InstanceSegmenter.__init__

    def small_tiles(self, model, diameter=None, *, settings=None):
        init(self, model, diameter, settings=se.InstanceSettings(max_pixels=1, tile=256))

    monkeypatch.setattr(se.InstanceSegmenter, "__init__", small_tiles)
    monkeypatch.setattr(se.InstanceSegmenter, "maps", lambda self, rgb, d: blob_maps(rgb, d))
    return se.build_model("conv_micro", checkpoint=False, device="cpu")


def _slide(shape=(520, 600)):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    truth = np.zeros(shape, np.int32)
    centres = [(r, c) for r in range(40, shape[0], 90) for c in range(45, shape[1], 85)]
    for i, (r, c) in enumerate(centres, start=1):
        truth[(yy - r) ** 2 + (xx - c) ** 2 <= 100] = i
    return np.where(truth > 0, 3000, 200).astype(np.uint16), truth


def test_a_big_plane_is_segmented_in_tiles_and_cancel_keeps_the_tiles_done(
    make_controller, tiled_head
):
    image, truth = _slide()
    n_tiles = len(se.TileGrid(image.shape, 256, 72))
    c = make_controller(tiled_head)
    c.set_image(Image(image))
    progress: list[tuple[int, int]] = []
    c.events.progress_changed.connect(lambda kind, done, total: progress.append((done, total)))
    assert c.segment_everything(method="instances", diameter=DIAMETER)
    labels = np.asarray(c.labels_layer.data)
    assert progress[-1] == (n_tiles, n_tiles) and n_tiles > 4
    assert len(np.unique(labels)) == truth.max() + 1, "every disc once"
    for k in range(1, truth.max() + 1):
        ids = np.unique(labels[truth == k])
        assert ids.size == 1 and ids[0] > 0 and (labels == ids[0]).sum() == (truth == k).sum()

    def stop(kind, done, total):
        if done == 2:
            c.cancel("automatic")

    c.undo()
    c.events.progress_changed.connect(stop)
    c.segment_everything(method="instances", diameter=DIAMETER)
    partial = np.asarray(c.labels_layer.data)
    kept = np.unique(partial[partial > 0])
    assert 0 < kept.size < truth.max(), "the objects of the tiles done, not all"
    for k in kept:
        (ids,) = np.unique(truth[partial == k]).reshape(1, -1)
        assert ids.size == 1 and (truth == ids[0]).sum() == (partial == k).sum()
