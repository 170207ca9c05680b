"""Tests for sam2_engine.masks.postprocess: post-processing, boxes, RLE and label images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.measure import label as sk_label

from sam2_engine.masks import postprocess as M
from sam2_engine.masks.postprocess import (
    box_xyxy_to_xywh,
    coco_to_rle,
    fill_small_holes,
    label_image_to_masks,
    mask_to_rle,
    masks_to_boxes,
    masks_to_label_image,
    remove_small_islands,
    remove_small_regions,
    rle_area,
    rle_to_coco,
    rle_to_mask,
    stability_score,
)


def _logits(mask: np.ndarray, dtype=np.float32) -> np.ndarray:
    """Logits of +5 inside ``mask`` and -5 outside."""
    return np.where(mask, 5.0, -5.0).astype(dtype)


def _ring(size: int = 11, hole: int = 3) -> np.ndarray:
    """A filled square of side ``size - 4`` centred in a ``size`` image, with a square hole."""
    mask = np.zeros((size, size), dtype=bool)
    mask[2:-2, 2:-2] = True
    start = (size - hole) // 2
    mask[start : start + hole, start : start + hole] = False
    return mask


def _oracle_small(binary: np.ndarray, max_area: float) -> np.ndarray:
    """Independent oracle: pixels of 8-connected components (skimage) with area <= max_area."""
    labels = sk_label(binary, connectivity=2, background=0)
    areas = np.bincount(labels.ravel())
    small = areas <= max_area
    small[0] = False
    return small[labels]


# ----- fill_small_holes / remove_small_islands ------------------------------------------


def test_fill_small_holes_fills_ring_hole():
    logits = _logits(_ring(hole=3))
    filled = fill_small_holes(logits, max_area=9)
    hole = _ring(hole=3) != _ring(hole=0)
    assert (filled[hole] == 10.0).all()
    np.testing.assert_array_equal(filled[~hole], logits[~hole])  # outer background kept
    # a hole one pixel larger than max_area is left alone
    np.testing.assert_array_equal(fill_small_holes(logits, max_area=8), logits)


def test_fill_small_holes_uses_8_connectivity():
    mask = np.ones((6, 6), dtype=bool)
    mask[2, 2] = mask[3, 3] = False  # two diagonal background pixels: one component of 2
    logits = _logits(mask)
    np.testing.assert_array_equal(fill_small_holes(logits, max_area=1), logits)
    assert (fill_small_holes(logits, max_area=2) > 0).all()


def test_fill_small_holes_counts_border_touching_background():
    mask = np.ones((8, 8), dtype=bool)
    mask[:2, :2] = False  # a 4-pixel background patch in the corner, touching the border
    out = fill_small_holes(_logits(mask), max_area=4)
    assert (out > 0).all()


def test_threshold_and_fill_value():
    logits = _logits(_ring(hole=1)) + 1.0  # background at -4, foreground at 6
    out = fill_small_holes(logits, max_area=1, threshold=-4.0, fill_value=0.5)
    assert out[5, 5] == np.float32(0.5)
    out = fill_small_holes(logits, max_area=1, threshold=-4.0)
    assert out[5, 5] == np.float32(6.0)  # default fill is threshold + 10


def test_remove_small_islands():
    mask = np.zeros((12, 12), dtype=bool)
    mask[2:8, 2:8] = True  # a large blob
    mask[10, 10] = True  # a one-pixel island
    mask[0, 10] = mask[1, 11] = True  # a diagonal pair: one 8-connected island of 2
    logits = _logits(mask)
    out = remove_small_islands(logits, max_area=1)
    assert out[10, 10] == -10.0
    assert (out[0, 10], out[1, 11]) == (5.0, 5.0)
    assert (out[2:8, 2:8] == 5.0).all()
    out = remove_small_islands(logits, max_area=2, fill_value=-1.0)
    assert (out[0, 10], out[1, 11], out[10, 10]) == (-1.0, -1.0, -1.0)


@pytest.mark.parametrize("func", [fill_small_holes, remove_small_islands])
@pytest.mark.parametrize("max_area", [1, 3, 8])
def test_postprocess_matches_skimage_oracle(func, max_area):
    rng = np.random.default_rng(max_area)
    logits = rng.normal(size=(3, 2, 17, 23)).astype(np.float32)
    out = func(logits, max_area=max_area, threshold=0.2)
    for idx in np.ndindex(logits.shape[:2]):
        plane = logits[idx]
        if func is fill_small_holes:
            small, fill = _oracle_small(plane <= 0.2, max_area), np.float32(10.2)
        else:
            small, fill = _oracle_small(plane > 0.2, max_area), np.float32(0.2 - 10.0)
        np.testing.assert_array_equal(out[idx], np.where(small, fill, plane))


def test_planes_are_independent():
    # the same pixel is background in both planes: one hole per plane, not one of area 2
    mask = np.ones((2, 5, 5), dtype=bool)
    mask[:, 2, 2] = False
    assert (fill_small_holes(_logits(mask), max_area=1) > 0).all()


@pytest.mark.parametrize("func", [fill_small_holes, remove_small_islands])
def test_type_dtype_preserved_and_input_untouched(func):
    mask = _ring(hole=1)
    mask[0, 0] = True
    base = _logits(mask)
    for logits in (
        base.astype(np.float64),
        torch.from_numpy(base).to(torch.float16),
        torch.from_numpy(base).to(torch.bfloat16)[None],
    ):
        before = logits.clone() if isinstance(logits, torch.Tensor) else logits.copy()
        out = func(logits, max_area=2)
        assert type(out) is type(logits) and out.dtype == logits.dtype
        assert out.shape == logits.shape
        if isinstance(logits, torch.Tensor):
            assert out.device == logits.device
            assert torch.equal(logits, before)
            assert not torch.equal(out, logits)
        else:
            np.testing.assert_array_equal(logits, before)
            assert not np.array_equal(out, logits)


def test_disabled_returns_copy():
    logits = _logits(_ring(hole=1))
    out = fill_small_holes(logits, max_area=0)
    np.testing.assert_array_equal(out, logits)
    assert out is not logits
    t = torch.from_numpy(logits)
    out_t = remove_small_islands(t, max_area=-1)
    assert torch.equal(out_t, t) and out_t.data_ptr() != t.data_ptr()


def test_postprocess_rejects_bad_input():
    with pytest.raises(TypeError, match="remove_small_regions"):
        fill_small_holes(np.ones((4, 4), dtype=bool), max_area=3)
    with pytest.raises(ValueError, match=r"\(\.\.\., H, W\)"):
        remove_small_islands(np.ones(4), max_area=3)


# ----- remove_small_regions (automatic mask generator rule) -----------------------------


def test_remove_small_regions_holes():
    mask = _ring(hole=2)
    out, changed = remove_small_regions(mask, area_thresh=5, mode="holes")
    assert changed and np.array_equal(out, _ring(hole=0))  # only the hole is filled
    # "small" is strict: a hole of exactly area_thresh pixels is kept
    out, changed = remove_small_regions(_ring(hole=2), area_thresh=4, mode="holes")
    assert not changed and np.array_equal(out, _ring(hole=2))


def test_remove_small_regions_border_background_is_a_hole():
    mask = np.ones((6, 6), dtype=bool)
    mask[0, :2] = False
    out, changed = remove_small_regions(mask, area_thresh=3, mode="holes")
    assert changed and out.all()


def test_remove_small_regions_islands_keeps_largest_when_all_small():
    mask = np.zeros((10, 10), dtype=bool)
    mask[0, 0] = True
    mask[5:7, 5:7] = True  # 4 pixels, the largest
    mask[9, 2:5] = True  # 3 pixels
    out, changed = remove_small_regions(mask, area_thresh=100, mode="islands")
    assert changed and out.sum() == 4 and out[5:7, 5:7].all()
    out, changed = remove_small_regions(mask, area_thresh=4, mode="islands")
    assert changed and out.sum() == 4  # the 1- and 3-pixel islands go
    out, changed = remove_small_regions(mask, area_thresh=1, mode="islands")
    assert not changed and np.array_equal(out, mask)


def test_remove_small_regions_does_not_modify_input_and_checks_mode():
    mask = _ring(hole=1)
    before = mask.copy()
    remove_small_regions(mask, 10, "holes")
    np.testing.assert_array_equal(mask, before)
    with pytest.raises(ValueError, match="'holes' or 'islands'"):
        remove_small_regions(mask, 10, "gaps")


# ----- boxes and stability --------------------------------------------------------------


def _brute_force_box(mask: np.ndarray) -> list[int]:
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return [0, 0, 0, 0]
    return [cols.min(), rows.min(), cols.max(), rows.max()]


def test_masks_to_boxes_numpy_and_torch():
    rng = np.random.default_rng(0)
    masks = np.zeros((2, 3, 9, 13), dtype=bool)
    for idx in np.ndindex(2, 3):
        y0, x0 = rng.integers(0, 9), rng.integers(0, 13)
        masks[idx][y0 : y0 + rng.integers(1, 5), x0 : x0 + rng.integers(1, 5)] = True
    masks[1, 2] = False  # one empty mask
    boxes = masks_to_boxes(masks)
    assert boxes.shape == (2, 3, 4) and boxes.dtype == np.int64
    for idx in np.ndindex(2, 3):
        assert boxes[idx].tolist() == _brute_force_box(masks[idx])
    assert boxes[1, 2].tolist() == [0, 0, 0, 0]
    boxes_t = masks_to_boxes(torch.from_numpy(masks))
    assert isinstance(boxes_t, torch.Tensor) and boxes_t.dtype == torch.int64
    np.testing.assert_array_equal(boxes_t.numpy(), boxes)
    assert masks_to_boxes(np.zeros((0, 4, 4), bool)).shape == (0, 4)
    assert masks_to_boxes(masks[0, 0]).shape == (4,)


def test_box_xyxy_to_xywh():
    boxes = np.array([[2, 3, 10, 7], [0, 0, 1, 1]])
    np.testing.assert_array_equal(box_xyxy_to_xywh(boxes), [[2, 3, 8, 4], [0, 0, 1, 1]])
    assert box_xyxy_to_xywh([1, 2, 4, 8]) == [1, 2, 3, 6]
    t = torch.tensor([1.0, 2.0, 4.0, 8.0])
    assert box_xyxy_to_xywh(t).tolist() == [1.0, 2.0, 3.0, 6.0] and t[2] == 4.0


def test_stability_score_is_iou_of_thresholded_masks():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(4, 16, 16)).astype(np.float32) * 3
    score = stability_score(logits, 0.0, 1.0)
    inner, outer = logits > 1.0, logits > -1.0
    iou = (inner & outer).sum((1, 2)) / (inner | outer).sum((1, 2))
    np.testing.assert_allclose(score, iou, rtol=1e-6)
    assert score.dtype == np.float32
    score_t = stability_score(torch.from_numpy(logits), 0.0, 1.0)
    assert score_t.dtype == torch.float32
    np.testing.assert_array_equal(score_t.numpy(), score)


def test_stability_score_chunks_and_empty(monkeypatch):
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(2, 5, 8, 8)).astype(np.float32)
    logits[0, 3] = -100.0  # empty even at the lower threshold: NaN, like the reference
    whole = stability_score(logits, 0.0, 0.5)
    monkeypatch.setattr(M, "_CHUNK_ELEMENTS", 100)  # forces one mask per chunk
    np.testing.assert_array_equal(stability_score(logits, 0.0, 0.5), whole)
    torch.testing.assert_close(
        stability_score(torch.from_numpy(logits), 0.0, 0.5),
        torch.from_numpy(whole),
        equal_nan=True,
    )
    assert whole.shape == (2, 5) and np.isnan(whole[0, 3])
    assert np.isfinite(np.delete(whole.ravel(), 3)).all()


# ----- RLE ------------------------------------------------------------------------------


def _random_masks(seed: int, n: int = 6, h: int = 13, w: int = 9) -> np.ndarray:
    rng = np.random.default_rng(seed)
    masks = rng.random((n, h, w)) < rng.random((n, 1, 1))
    masks[0] = False
    masks[1] = True
    masks[2, 0, 0] = True  # starts with a set pixel
    return masks


def test_rle_hand_checked():
    mask = np.array([[0, 1, 1], [0, 1, 0]], dtype=bool)
    # column-major: (0,0)=0 (1,0)=0 (0,1)=1 (1,1)=1 (0,2)=1 (1,2)=0
    assert mask_to_rle(mask[None]) == [{"size": [2, 3], "counts": [2, 3, 1]}]
    assert mask_to_rle(~mask[None])[0]["counts"] == [0, 2, 3, 1]
    np.testing.assert_array_equal(rle_to_mask({"size": [2, 3], "counts": [2, 3, 1]}), mask)
    assert rle_area({"size": [2, 3], "counts": [2, 3, 1]}) == 3


@pytest.mark.parametrize("seed", range(4))
def test_rle_round_trip(seed):
    masks = _random_masks(seed)
    rles = mask_to_rle(masks)
    rles_t = mask_to_rle(torch.from_numpy(masks))
    assert rles == rles_t
    for mask, rle in zip(masks, rles, strict=True):
        assert rle["size"] == [13, 9]
        assert sum(rle["counts"]) == mask.size
        assert all(isinstance(c, int) for c in rle["counts"])
        decoded = rle_to_mask(rle)
        assert decoded.dtype == bool and decoded.flags.c_contiguous
        np.testing.assert_array_equal(decoded, mask)
        assert rle_area(rle) == mask.sum()
        coco = rle_to_coco(rle)
        assert isinstance(coco["counts"], str)
        assert coco_to_rle(coco) == rle
        assert coco_to_rle({**coco, "counts": coco["counts"].encode()}) == rle
        np.testing.assert_array_equal(rle_to_mask(coco), mask)
        assert rle_area(coco) == mask.sum()


def test_coco_string_hand_checked():
    # 5 -> "5"; 40 = 8 + 1*32 -> "X1"; 3 -> "3"; 100 is stored as 100 - 40 = 60 -> "l1"
    assert rle_to_coco({"size": [4, 37], "counts": [5, 40, 3, 100]})["counts"] == "5X13l1"
    # a negative delta: 4 - 10 = -6 -> one group 26 with the sign bit -> "J"
    assert rle_to_coco({"size": [2, 17], "counts": [0, 10, 20, 4]})["counts"] == "0:d0J"
    assert coco_to_rle({"size": [2, 17], "counts": "0:d0J"})["counts"] == [0, 10, 20, 4]


def test_rle_errors():
    with pytest.raises(ValueError, match="add up"):
        rle_to_mask({"size": [2, 2], "counts": [1, 2]})
    with pytest.raises(ValueError, match="middle"):
        coco_to_rle({"size": [2, 2], "counts": "X"})
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        mask_to_rle(np.zeros((3, 3), bool))


def test_rle_matches_pycocotools():
    mask_utils = pytest.importorskip("pycocotools.mask")
    masks = _random_masks(7, n=5, h=31, w=47)
    ours = [rle_to_coco(r) for r in mask_to_rle(masks)]
    theirs = mask_utils.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))
    for o, t in zip(ours, theirs, strict=True):
        assert o["size"] == list(t["size"])
        assert o["counts"] == t["counts"].decode()
        np.testing.assert_array_equal(rle_to_mask(t), mask_utils.decode(t).astype(bool))


# ----- label images ---------------------------------------------------------------------


def _blobs(seed: int, n: int = 8, h: int = 40, w: int = 50) -> np.ndarray:
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, h, w), dtype=bool)
    for i in range(n):
        y, x = rng.integers(0, h - 5), rng.integers(0, w - 5)
        masks[i, y : y + rng.integers(4, 20), x : x + rng.integers(4, 25)] = True
    return masks


@pytest.mark.parametrize("order", ["area", "score"])
def test_label_image_is_a_partition_of_the_union(order):
    masks = _blobs(0)
    scores = np.random.default_rng(1).random(len(masks))
    labels, idx = masks_to_label_image(masks, scores=scores, order=order, return_indices=True)
    assert labels.shape == masks.shape[1:]
    np.testing.assert_array_equal(labels > 0, masks.any(0))  # nothing dropped at min_area=0
    for k, i in enumerate(idx):
        assert masks[i][labels == k + 1].all()  # each label lies inside its mask
    ids, _ = label_image_to_masks(labels)
    np.testing.assert_array_equal(ids, np.arange(1, len(idx) + 1))  # consecutive


def test_area_order_keeps_small_objects_on_top():
    masks = _blobs(2)
    areas = masks.sum((1, 2))
    labels = masks_to_label_image(masks)
    for r, c in zip(*np.nonzero(masks.any(0)), strict=True):
        covering = np.flatnonzero(masks[:, r, c])
        smallest = covering[np.argmin(areas[covering])]
        assert labels[r, c] == smallest + 1  # nothing dropped, so label = index + 1
    big = np.zeros((10, 10), bool)
    big[1:9, 1:9] = True
    small = np.zeros((10, 10), bool)
    small[4:6, 4:6] = True
    labels = masks_to_label_image([small, big])  # input order does not matter
    assert (labels[4:6, 4:6] == 1).all() and (labels == 1).sum() == 4


def test_score_order_and_ties():
    a = np.zeros((6, 6), bool)
    a[:, :4] = True
    b = np.zeros((6, 6), bool)
    b[:, 2:] = True  # overlaps a on columns 2-3; same area
    labels = masks_to_label_image(np.stack([a, b]), scores=[0.2, 0.9], order="score")
    assert (labels[:, 2:4] == 2).all()
    labels = masks_to_label_image(np.stack([a, b]), scores=[0.9, 0.2], order="score")
    assert (labels[:, 2:4] == 1).all()
    labels = masks_to_label_image(np.stack([a, b]))  # equal areas: the first mask wins
    assert (labels[:, 2:4] == 1).all()
    records = [{"segmentation": a, "predicted_iou": 0.1}, {"segmentation": b, "predicted_iou": 0.5}]
    assert (masks_to_label_image(records, order="score")[:, 2:4] == 2).all()
    with pytest.raises(ValueError, match="scores"):
        masks_to_label_image(np.stack([a, b]), order="score")
    with pytest.raises(ValueError, match="'area' or 'score'"):
        masks_to_label_image(np.stack([a, b]), order="size")


def test_min_area_drops_after_overlap_and_relabels():
    big = np.zeros((10, 10), bool)
    big[:, :] = True
    mid = np.zeros((10, 10), bool)
    mid[0:5, 0:5] = True  # 25 pixels, of which 21 remain visible
    tiny = np.zeros((10, 10), bool)
    tiny[0:2, 0:2] = True  # 4 pixels on top of mid
    labels, idx = masks_to_label_image(np.stack([tiny, big, mid]), min_area=22, return_indices=True)
    assert idx.tolist() == [1]  # tiny (4) and mid (21 visible) are dropped
    assert (labels[:5, :5] == 0).all() and (labels[5:, :] == 1).all()
    labels, idx = masks_to_label_image(np.stack([tiny, big, mid]), min_area=4, return_indices=True)
    assert idx.tolist() == [0, 1, 2] and set(np.unique(labels)) == {1, 2, 3}
    hidden = np.stack([tiny, tiny])  # the second copy is fully hidden: dropped even at 0
    assert masks_to_label_image(hidden).max() == 1


def test_label_dtype_choice():
    def n_disjoint(n):
        masks = np.zeros((n, 1, n), dtype=bool)
        masks[np.arange(n), 0, np.arange(n)] = True
        return masks

    assert masks_to_label_image(n_disjoint(255)).dtype == np.uint8
    labels = masks_to_label_image(n_disjoint(256))
    assert labels.dtype == np.uint16 and labels.max() == 256
    assert masks_to_label_image(n_disjoint(60), start_label=200).dtype == np.uint16
    assert masks_to_label_image(n_disjoint(3), dtype=np.int32).dtype == np.int32
    with pytest.raises(ValueError, match="wider dtype"):
        masks_to_label_image(n_disjoint(300), dtype=np.uint8)
    with pytest.raises(TypeError, match="integer"):
        masks_to_label_image(n_disjoint(3), dtype=np.float32)
    with pytest.raises(ValueError, match="start_label"):
        masks_to_label_image(n_disjoint(3), start_label=0)


def test_records_in_all_segmentation_forms_agree():
    masks = _blobs(3)
    expected = masks_to_label_image(masks)
    rles = mask_to_rle(masks)
    forms = {
        "array": [{"segmentation": m} for m in masks],
        "rle": [{"segmentation": r} for r in rles],
        "coco": [{"segmentation": rle_to_coco(r)} for r in rles],
        "mixed": [
            {"segmentation": s, "area": int(m.sum()), "stability_score": 0.9}
            for m, s in zip(
                masks, [masks[0], rles[1], rle_to_coco(rles[2]), *masks[3:]], strict=True
            )
        ],
        "torch": torch.from_numpy(masks),
        "plain list": list(masks),
    }
    for name, value in forms.items():
        np.testing.assert_array_equal(masks_to_label_image(value), expected, err_msg=name)


def test_record_area_entry_sets_the_order():
    a = np.zeros((4, 4), bool)
    a[:, :3] = True
    b = np.zeros((4, 4), bool)
    b[:, 2:] = True
    honest = [{"segmentation": a}, {"segmentation": b}]
    assert (masks_to_label_image(honest)[:, 2] == 2).all()  # b is smaller
    swapped = [{"segmentation": a, "area": 1}, {"segmentation": b, "area": 100}]
    assert (masks_to_label_image(swapped)[:, 2] == 1).all()


def test_label_image_shapes_and_empty_input():
    out = masks_to_label_image([], shape=(3, 4))
    assert out.shape == (3, 4) and out.dtype == np.uint8 and not out.any()
    with pytest.raises(ValueError, match="shape"):
        masks_to_label_image([])
    with pytest.raises(ValueError, match="shape"):
        masks_to_label_image(np.zeros((1, 3, 4), bool), shape=(4, 3))
    with pytest.raises(ValueError, match="mask 1"):
        masks_to_label_image([np.zeros((3, 4), bool), np.ones((4, 4), bool)])
    masks = _blobs(4)
    before = masks.copy()
    masks_to_label_image(masks)
    np.testing.assert_array_equal(masks, before)


def test_label_image_to_masks_round_trip():
    labels = np.zeros((6, 7), dtype=np.uint16)
    labels[1:3, 1:3] = 4
    labels[4:, 2:] = 9
    ids, masks = label_image_to_masks(labels)
    assert ids.tolist() == [4, 9] and masks.shape == (2, 6, 7) and masks.dtype == bool
    np.testing.assert_array_equal(masks[0], labels == 4)
    relabelled = masks_to_label_image(masks)
    np.testing.assert_array_equal(relabelled > 0, labels > 0)
    ids_t, masks_t = label_image_to_masks(torch.from_numpy(labels.astype(np.int32)))
    assert ids_t.tolist() == [4, 9] and np.array_equal(masks_t, masks)
    with pytest.raises(TypeError, match="integer"):
        label_image_to_masks(labels.astype(np.float32))


# ----- equality with the reference implementation ----------------------------------------


@pytest.fixture(scope="module")
def ref():
    pytest.importorskip("sam2")
    from sam2.utils import amg

    return amg


@pytest.mark.reference
@pytest.mark.parametrize("seed", range(3))
def test_rle_matches_reference(ref, seed):
    masks = _random_masks(seed, h=21, w=17)
    theirs = ref.mask_to_rle_pytorch(torch.from_numpy(masks))
    assert mask_to_rle(masks) == theirs
    for rle, mask in zip(theirs, masks, strict=True):
        np.testing.assert_array_equal(rle_to_mask(rle), ref.rle_to_mask(rle))
        assert rle_area(rle) == ref.area_from_rle(rle) == mask.sum()


@pytest.mark.reference
def test_coco_encoding_matches_reference(ref):
    pytest.importorskip("pycocotools")
    for rle in mask_to_rle(_random_masks(5, h=33, w=29)):
        assert rle_to_coco(rle) == ref.coco_encode_rle(rle)


@pytest.mark.reference
def test_boxes_and_stability_match_reference(ref):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 4, 24, 20, generator=gen) * 4
    masks = logits > 6.0
    masks[0, 0] = False
    assert torch.equal(masks_to_boxes(masks), ref.batched_mask_to_box(masks))
    assert torch.equal(masks_to_boxes(masks[1, 1]), ref.batched_mask_to_box(masks[1, 1]))
    for threshold, offset in [(0.0, 1.0), (0.5, 0.25), (9.0, 1.0)]:
        torch.testing.assert_close(
            stability_score(logits, threshold, offset),
            ref.calculate_stability_score(logits, threshold, offset),
            equal_nan=True,
            rtol=0,
            atol=0,
        )
    box = torch.tensor([3, 4, 10, 20])
    assert torch.equal(box_xyxy_to_xywh(box), ref.box_xyxy_to_xywh(box))


@pytest.mark.reference
@pytest.mark.parametrize("mode", ["holes", "islands"])
def test_remove_small_regions_matches_reference(ref, mode):
    pytest.importorskip("cv2")
    rng = np.random.default_rng(0)
    for trial in range(20):
        mask = rng.random((24, 31)) < (0.3 if mode == "islands" else 0.7)
        for area_thresh in (1, 3, 10, 50, 1000):
            ours = remove_small_regions(mask, area_thresh, mode)
            theirs = ref.remove_small_regions(mask, area_thresh, mode)
            assert ours[1] == theirs[1], (trial, area_thresh)
            np.testing.assert_array_equal(ours[0], theirs[0], err_msg=f"{trial} {area_thresh}")
