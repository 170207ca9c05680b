"""Tests for sam2_engine.automatic.crops: point grids, crop boxes and mapping crops back."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sam2_engine.automatic.crops import (
    batch_iterator,
    box_near_crop_edge,
    crop_boxes,
    point_grid,
    point_grids_per_layer,
    uncrop_boxes,
    uncrop_masks,
    uncrop_points,
)

CROP_CASES = [
    ((64, 64), 0, 0.34),
    ((480, 640), 1, 512 / 1500),
    ((480, 640), 2, 512 / 1500),
    ((1024, 768), 3, 0.25),
    ((37, 101), 2, 0.5),
    ((2, 5), 1, 0.0),
]
# a 1-pixel-tall image gives an empty crop box in layer 1; we reproduce that too
DEGENERATE_CASES = [((1, 5), 1, 0.0)]


# ----- behaviour ------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 5, 32])
def test_point_grid_cell_centres(n):
    grid = point_grid(n)
    assert grid.shape == (n * n, 2)
    # every point is the centre of its cell: (index + 0.5) / n, x varying fastest
    col, row = np.meshgrid(np.arange(n), np.arange(n), indexing="xy")
    expected = np.stack([(col.ravel() + 0.5) / n, (row.ravel() + 0.5) / n], axis=-1)
    np.testing.assert_allclose(grid, expected, atol=1e-12)
    assert grid.min() > 0 and grid.max() < 1


def test_point_grid_rejects_bad_sizes():
    with pytest.raises(ValueError, match="n_per_side"):
        point_grid(0)
    with pytest.raises(ValueError, match="n_per_side"):
        point_grid(2.5)


def test_point_grids_per_layer_shrink():
    grids = point_grids_per_layer(32, 2, 2)
    assert [len(g) for g in grids] == [32 * 32, 16 * 16, 8 * 8]
    with pytest.raises(ValueError, match="fewer layers"):
        point_grids_per_layer(2, 3, 2)


@pytest.mark.parametrize(("hw", "n_layers", "ratio"), CROP_CASES)
def test_crop_boxes_cover_image(hw, n_layers, ratio):
    h, w = hw
    boxes, layers = crop_boxes(hw, n_layers, ratio)
    assert boxes[0] == [0, 0, w, h] and layers[0] == 0
    assert len(boxes) == len(layers) == 1 + sum(4**i for i in range(1, n_layers + 1))
    for layer in range(1, n_layers + 1):
        covered = np.zeros(hw, dtype=int)
        for box, lay in zip(boxes, layers, strict=True):
            if lay == layer:
                x0, y0, x1, y1 = box
                assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
                covered[y0:y1, x0:x1] += 1
        assert covered.min() >= 1  # each layer tiles the whole image


def test_uncrop_preserves_type_and_dtype():
    crop = [10, 20, 50, 60]
    boxes_t = torch.tensor([[1, 2, 3, 4]], dtype=torch.int32)
    out = uncrop_boxes(boxes_t, crop)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.int32
    assert out.tolist() == [[11, 22, 13, 24]]
    pts = np.array([[[0.5, 1.5]]], dtype=np.float32)  # (B, N, 2)
    out = uncrop_points(pts, crop)
    assert out.dtype == np.float32 and out.tolist() == [[[10.5, 21.5]]]
    assert pts.tolist() == [[[0.5, 1.5]]]  # input untouched


@pytest.mark.parametrize("as_torch", [False, True])
def test_uncrop_masks_places_crop(as_torch):
    crop = [2, 1, 5, 3]  # 3 wide, 2 tall
    small = np.ones((2, 2, 3), dtype=bool)
    masks = torch.from_numpy(small) if as_torch else small
    full = uncrop_masks(masks, crop, 6, 7)
    assert isinstance(full, type(masks))
    full = np.asarray(full)
    assert full.shape == (2, 6, 7)
    assert full[:, 1:3, 2:5].all() and full.sum() == 2 * 2 * 3
    assert uncrop_masks(masks, [0, 0, 3, 2], 2, 3) is masks
    with pytest.raises(ValueError, match="do not fit"):
        uncrop_masks(masks, [0, 0, 4, 2], 6, 7)


def test_box_near_crop_edge_behaviour():
    crop, orig = [0, 0, 100, 100], [0, 0, 200, 100]
    boxes = np.array(
        [
            [10, 10, 50, 50],  # inside
            [10, 10, 95, 50],  # touches the crop's right edge, inside the image
            [0, 0, 50, 99],  # touches only image edges
        ]
    )
    expected = [False, True, False]
    assert box_near_crop_edge(boxes, crop, orig).tolist() == expected
    got = box_near_crop_edge(torch.from_numpy(boxes), crop, orig)
    assert got.dtype == torch.bool and got.tolist() == expected


def test_batch_iterator():
    a, b = np.arange(5), list("abcde")
    batches = list(batch_iterator(2, a, b))
    assert [len(x) for x, _ in batches] == [2, 2, 1]
    assert [y for _, y in batches] == [["a", "b"], ["c", "d"], ["e"]]
    with pytest.raises(ValueError, match="same length"):
        list(batch_iterator(2, a, b[:3]))
    with pytest.raises(ValueError, match="batch_size"):
        list(batch_iterator(0, a))


# ----- equality with the reference implementation ----------------------------------------


@pytest.fixture(scope="module")
def ref():
    pytest.importorskip("sam2")
    from sam2.utils import amg

    return amg


@pytest.mark.reference
@pytest.mark.parametrize("n", [1, 3, 16, 32, 64])
def test_point_grid_matches_reference(ref, n):
    np.testing.assert_array_equal(point_grid(n), ref.build_point_grid(n))


@pytest.mark.reference
@pytest.mark.parametrize(("n", "layers", "scale"), [(32, 0, 1), (32, 2, 2), (16, 1, 3)])
def test_point_grids_per_layer_match_reference(ref, n, layers, scale):
    ours = point_grids_per_layer(n, layers, scale)
    theirs = ref.build_all_layer_point_grids(n, layers, scale)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.reference
@pytest.mark.parametrize(("hw", "n_layers", "ratio"), CROP_CASES + DEGENERATE_CASES)
def test_crop_boxes_match_reference(ref, hw, n_layers, ratio):
    assert crop_boxes(hw, n_layers, ratio) == ref.generate_crop_boxes(hw, n_layers, ratio)


@pytest.mark.reference
def test_uncrop_matches_reference(ref):
    gen = torch.Generator().manual_seed(0)
    crop = [16, 8, 48, 40]
    boxes = torch.randint(0, 32, (5, 4), generator=gen)
    torch.testing.assert_close(uncrop_boxes(boxes, crop), ref.uncrop_boxes_xyxy(boxes, crop))
    boxes3 = boxes.reshape(1, 5, 4).float()
    torch.testing.assert_close(uncrop_boxes(boxes3, crop), ref.uncrop_boxes_xyxy(boxes3, crop))
    points = torch.rand(2, 7, 2, generator=gen) * 32
    torch.testing.assert_close(uncrop_points(points, crop), ref.uncrop_points(points, crop))
    masks = torch.rand(3, 32, 32, generator=gen) > 0.5
    for orig_h, orig_w in [(64, 64), (40, 48)]:
        ours = uncrop_masks(masks, crop, orig_h, orig_w)
        torch.testing.assert_close(ours, ref.uncrop_masks(masks, crop, orig_h, orig_w))
        np_ours = uncrop_masks(masks.numpy(), crop, orig_h, orig_w)
        np.testing.assert_array_equal(np_ours, ours.numpy())


@pytest.mark.reference
def test_box_near_crop_edge_matches_reference(ref):
    rng = np.random.default_rng(0)
    orig = [0, 0, 300, 200]
    crops, _ = crop_boxes((200, 300), 2, 0.3)
    for crop in crops:
        w, h = crop[2] - crop[0], crop[3] - crop[1]
        xy0 = rng.integers(0, [w, h], size=(64, 2))
        xy1 = np.minimum(xy0 + rng.integers(0, 80, size=(64, 2)), [w, h])
        boxes = torch.from_numpy(np.concatenate([xy0, xy1], axis=1))
        for atol in (0.0, 5.0, 20.0):
            theirs = ref.is_box_near_crop_edge(boxes, crop, orig, atol=atol)
            assert torch.equal(box_near_crop_edge(boxes, crop, orig, atol=atol), theirs)
            np.testing.assert_array_equal(
                box_near_crop_edge(boxes.numpy(), crop, orig, atol=atol), theirs.numpy()
            )


@pytest.mark.reference
def test_batch_iterator_matches_reference(ref):
    a, b = torch.arange(10), np.arange(10) * 2
    for size in (1, 3, 10, 11):
        ours = list(batch_iterator(size, a, b))
        theirs = list(ref.batch_iterator(size, a, b))
        assert len(ours) == len(theirs)
        for (oa, ob), (ta, tb) in zip(ours, theirs, strict=True):
            assert torch.equal(oa, ta)
            np.testing.assert_array_equal(ob, tb)
