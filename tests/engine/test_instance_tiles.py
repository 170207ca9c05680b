"""Segment everything with the instance head in tiles: objects across tile borders whole
and once, one tile equal to one pass, progress, cancel, a preallocated result."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
import torch
from scipy import ndimage as ndi

import sam2_engine as se
from sam2_engine.automatic.instance_tiles import instance_grid

DIAMETER = 24.0  # conv_micro's head diameter: the model's scale is the image's


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return se.build_model("conv_micro", checkpoint=False, device="cpu")


def blob_maps(rgb: np.ndarray, diameter: float = DIAMETER) -> tuple[np.ndarray, np.ndarray]:
    """A stand-in for the head: ideal foreground and distance maps of the bright blobs of
    what it is shown (a tile, or the whole image), so that a result depends only on where
    tiles are cut."""
    fg = rgb[..., 0] > 0.5
    blobs, _ = ndi.label(fg)
    dist = np.zeros(fg.shape, np.float32)
    for k, window in enumerate(ndi.find_objects(blobs), start=1):
        d = ndi.distance_transform_edt(np.pad(blobs[window] == k, 1))[1:-1, 1:-1]
        dist[window] += (d / d.max()).astype(np.float32) * (blobs[window] == k)
    return fg.astype(np.float32), dist


def _stand_in_head(segmenter, monkeypatch):
    monkeypatch.setattr(segmenter, "maps", blob_maps)
    return segmenter


def _discs(shape, centres, r=10):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    truth = np.zeros(shape, np.int32)
    for i, (cy, cx) in enumerate(centres, start=1):
        truth[(yy - cy) ** 2 + (xx - cx) ** 2 <= r**2] = i
    image = np.where(truth > 0, 3000, 200).astype(np.uint16)
    return image, truth


def _tiled(model, **kw):
    settings = se.InstanceSettings(max_pixels=1, tile=256, **kw)  # everything is tiled
    return se.InstanceSegmenter(model, diameter=DIAMETER, settings=settings)


def _border_centres(shape):
    """Discs on tile corners, tile edges and core borders of the tiled grid."""
    grid = instance_grid(shape, DIAMETER, DIAMETER, 256, 3.0)
    tops = sorted({t.top for t in grid.tiles})
    wanted = []
    for a, b in pairwise(tops):
        middle = (b + a + grid.side) // 2  # core border: 4 tiles overlap at its corners
        wanted += [(middle, middle), (b, b), (a + grid.side - 1, b + 40), (middle + 3, 30)]
    centres: list[tuple[int, int]] = []
    for c in wanted:  # discs of radius 10 apart
        if all(max(abs(c[0] - o[0]), abs(c[1] - o[1])) > 24 for o in centres):
            centres.append(c)
    return grid, centres


def test_objects_across_tile_corners_come_out_whole_and_once(model, monkeypatch):
    shape = (600, 560)
    grid, centres = _border_centres(shape)
    assert len(grid) > 4
    image, truth = _discs(shape, centres)
    seg = _stand_in_head(_tiled(model), monkeypatch)
    labels = seg.segment(image)
    assert labels.max() == truth.max() == len(np.unique(labels)) - 1  # consecutive, once
    for k in range(1, truth.max() + 1):
        ids, counts = np.unique(labels[truth == k], return_counts=True)
        assert ids.size == 1 and ids[0] > 0, f"disc {k} is cut into {ids}"
        assert counts[0] == np.count_nonzero(labels == ids[0]) == np.count_nonzero(truth == k)


def test_tiles_give_what_one_pass_gives_with_the_same_head(model, monkeypatch):
    shape = (600, 560)
    _, centres = _border_centres(shape)
    image, _ = _discs(shape, centres)
    one = _stand_in_head(se.InstanceSegmenter(model, diameter=DIAMETER), monkeypatch)
    tiled = _stand_in_head(_tiled(model), monkeypatch)
    np.testing.assert_array_equal(tiled.segment(image), one.segment(image))


def test_an_image_that_fits_one_tile_equals_the_one_pass_result(model):
    image = np.random.default_rng(2).integers(0, 4000, (150, 170)).astype(np.uint16)
    settings = se.InstanceSettings(max_pixels=1, tile=256)  # tiled, in a single tile
    tiled = se.InstanceSegmenter(model, diameter=DIAMETER, settings=settings)
    assert len(instance_grid(image.shape, DIAMETER, tiled.head_diameter, 256, 3.0)) == 1
    one = se.InstanceSegmenter(model, diameter=DIAMETER).segment(image)
    np.testing.assert_array_equal(tiled.segment(image), one)


def test_tiled_progress_counts_tiles_and_writes_into_the_given_array(model):
    image = np.random.default_rng(3).integers(0, 4000, (300, 420)).astype(np.uint16)
    seg = _tiled(model)
    n = len(instance_grid(image.shape, DIAMETER, seg.head_diameter, 256, 3.0))
    seen = []
    out = np.zeros(image.shape, np.int32)
    labels = seg.segment(image, progress=lambda d, t: seen.append((d, t)), out=out)
    assert labels is out
    assert seen == [(i, n) for i in range(1, n + 1)]
    assert not seg.last_cancelled
    ids = np.unique(labels)
    assert np.array_equal(ids, np.arange(ids.size))  # 0, 1..N, none missing


def test_cancel_keeps_the_objects_of_the_tiles_done(model, monkeypatch):
    shape = (600, 560)
    grid, centres = _border_centres(shape)
    image, _ = _discs(shape, centres)
    seg = _stand_in_head(_tiled(model), monkeypatch)
    seen = []
    labels = seg.segment(image, progress=lambda d, t: seen.append(d), cancel=lambda: len(seen) >= 3)
    assert seg.last_cancelled and seen == [1, 2, 3] and len(grid) > 3
    full = seg.segment(image)
    assert 0 < labels.max() < full.max()
    kept = np.unique(labels[labels > 0])
    assert np.array_equal(kept, np.arange(1, kept.size + 1))
    for k in kept:  # every object kept is one of the full run's, whole
        (ids,) = np.unique(full[labels == k]).reshape(1, -1)
        assert ids.size == 1 and np.count_nonzero(full == ids[0]) == np.count_nonzero(labels == k)


def test_cancel_before_a_one_pass_image_writes_nothing(model):
    seg = se.InstanceSegmenter(model, diameter=DIAMETER)
    labels = seg.segment(np.ones((64, 64), np.uint16), cancel=lambda: True)
    assert seg.last_cancelled and not labels.any()


def test_a_halo_too_wide_for_the_tile_is_refused(model):
    seg = se.InstanceSegmenter(
        model, diameter=DIAMETER, settings=se.InstanceSettings(max_pixels=1, tile=64)
    )
    with pytest.raises(ValueError, match="tile_halo"):
        seg.segment(np.zeros((300, 300), np.uint16))
