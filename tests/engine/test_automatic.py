"""The automatic mask generator: parity with the reference and behaviour.

Random weights keep no mask at the default thresholds (see the testing notes of the
design document), so the models here get their mask logits amplified (the
hypernetworks' last layers scaled by 50, on top of the oracle's perturbed weights) and
the parity cases use lowered thresholds, picked so that each case keeps several masks
while both filters and NMS still drop most candidates.
"""

from __future__ import annotations

import json
import math
from functools import cache

import numpy as np
import pytest
import torch
from scipy import ndimage

import sam2_engine as se
import sam2_engine.automatic.filters as filters
from sam2_engine.automatic.generator import AutomaticMaskGenerator, MaskRecord
from sam2_engine.masks.postprocess import (
    coco_to_rle,
    mask_to_rle,
    masks_to_boxes,
    masks_to_label_image,
    rle_to_mask,
)

MASK_GAIN = 50.0  # random logits are ~0.1; this gives masks that survive the filters
GRID = 8  # points per side: 64 clicks, a second or so on CPU


# ---------------------------------------------------------------------- fixtures
def shapes_image(h: int = 200, w: int = 260) -> np.ndarray:
    """(H, W, 3) uint8: four coloured objects, one per corner, on a dark background."""
    yy, xx = np.mgrid[:h, :w]
    img = np.zeros((h, w, 3), np.uint8)
    img[(yy - 45) ** 2 + (xx - 50) ** 2 < 28**2] = (230, 40, 40)
    img[20:70, 185:240] = (40, 220, 60)
    img[(yy - 155) ** 2 / 25**2 + (xx - 60) ** 2 / 40**2 < 1] = (50, 70, 235)
    img[(yy - 150) ** 2 + (xx - 205) ** 2 < 30**2] = (235, 220, 50)
    noise = np.random.default_rng(0).integers(0, 12, img.shape)
    return np.clip(img.astype(int) + noise, 0, 255).astype(np.uint8)


def _amplify_(model: torch.nn.Module) -> None:
    with torch.no_grad():
        for mlp in model.sam_mask_decoder.output_hypernetworks_mlps:
            mlp.layers[-1].weight *= MASK_GAIN
            mlp.layers[-1].bias *= MASK_GAIN


@cache
def reference_pair(seed: int):
    """(config, reference model, our model) sharing perturbed, amplified random weights."""
    pytest.importorskip("sam2", reason="the reference sam2==1.1.0 is not installed")
    from tests.reference_oracle import copy_weights, make_pair

    cfg, ref, ours = make_pair("test_small", seed=seed)
    _amplify_(ref)
    copy_weights(ref, ours)
    return cfg, ref, ours


@cache
def our_model() -> se.SAM2Model:
    """A random test_small model (no reference needed) whose masks survive filtering."""
    torch.manual_seed(1)
    model = se.build_model("test_small", checkpoint=False, device="cpu")
    with torch.no_grad():
        model.sam_mask_decoder.pred_obj_score_head.layers[-1].bias += 5.0
    _amplify_(model)
    return model


def loose(**kw) -> dict:
    """Generator settings that keep a handful of masks with random weights."""
    base = dict(points_per_side=GRID, pred_iou_thresh=0.0, stability_score_thresh=0.0)
    return {**base, **kw}


# ---------------------------------------------------------------------- parity
def _reference_records(cfg, ref, image: np.ndarray, **kw) -> list[dict]:
    from sam2.automatic_mask_generator import SAM2AutomaticMaskGenerator

    if "multimask" in kw:
        kw["multimask_output"] = kw.pop("multimask")
    gen = SAM2AutomaticMaskGenerator(ref, **kw)
    e = cfg.embedding_size
    gen.predictor._bb_feat_sizes = [(4 * e, 4 * e), (2 * e, 2 * e), (e, e)]
    with torch.no_grad():
        return gen.generate(image)


def _as_mask(segmentation) -> np.ndarray:
    if isinstance(segmentation, dict):
        return rle_to_mask(segmentation)
    return np.asarray(segmentation, dtype=bool)


def assert_same_records(theirs: list[dict], ours: list[MaskRecord], max_pixels: int = 5) -> None:
    assert len(ours) == len(theirs)
    for i, (t, o) in enumerate(zip(theirs, ours, strict=True)):
        d = o.to_dict()
        assert list(d) == list(t), "record keys differ from the reference's"
        differ = np.count_nonzero(_as_mask(t["segmentation"]) != o.mask)
        assert differ <= max_pixels, f"record {i}: masks differ in {differ} pixels"
        assert d["predicted_iou"] == pytest.approx(t["predicted_iou"], abs=1e-4), i
        assert d["stability_score"] == pytest.approx(t["stability_score"], abs=1e-4), i
        for key in ("bbox", "point_coords", "crop_box"):
            assert np.allclose(d[key], t[key], atol=1e-4), (i, key, d[key], t[key])
        assert abs(d["area"] - t["area"]) <= max_pixels, i


SEED = 2  # seed of the shared random weights
# Per case: settings that keep several masks. Each filter drops candidates (e.g. "single
# crop": 192 candidates, 29 pass both filters, 4 survive NMS).
PARITY_CASES = {
    "single crop": dict(pred_iou_thresh=0.52, stability_score_thresh=0.75, box_nms_thresh=0.95),
    "crop_n_layers=1": dict(
        pred_iou_thresh=0.54,
        stability_score_thresh=0.07,
        box_nms_thresh=0.95,
        crop_n_layers=1,
        crop_nms_thresh=0.95,
    ),
    "use_m2m": dict(
        pred_iou_thresh=0.56, stability_score_thresh=0.75, box_nms_thresh=0.95, use_m2m=True
    ),
    "multimask=False": dict(
        pred_iou_thresh=0.5, stability_score_thresh=0.65, box_nms_thresh=0.95, multimask=False
    ),
}


@pytest.mark.reference
@pytest.mark.parametrize("case", list(PARITY_CASES))
def test_matches_reference(case):
    settings = PARITY_CASES[case]
    cfg, ref, ours = reference_pair(SEED)
    image = shapes_image()
    kw = dict(points_per_side=GRID, **settings)
    theirs = _reference_records(cfg, ref, image, **kw)
    mine = AutomaticMaskGenerator(ours, **kw).generate(image)
    assert len(mine) >= 3, "too few masks survive for the comparison to mean anything"
    assert_same_records(theirs, mine)
    if settings.get("crop_n_layers"):
        assert any(r.crop_box[2] < image.shape[1] for r in mine), "no mask came from a crop"


@pytest.mark.reference
@pytest.mark.parametrize("mode", ["uncompressed_rle", "coco_rle"])
def test_output_modes_match_reference(mode):
    if mode == "coco_rle":
        pytest.importorskip("pycocotools", reason="the reference needs pycocotools for COCO RLE")
    settings = PARITY_CASES["single crop"]
    cfg, ref, ours = reference_pair(SEED)
    image = shapes_image()
    kw = dict(points_per_side=GRID, output_mode=mode, **settings)
    theirs = _reference_records(cfg, ref, image, **kw)
    mine = AutomaticMaskGenerator(ours, **kw).generate(image)
    assert len(mine) >= 3
    assert_same_records(theirs, mine)
    for t, o in zip(theirs, mine, strict=True):
        assert o.segmentation == t["segmentation"]  # identical RLE dicts
    json.dumps([r.to_dict() for r in mine])  # RLE records are JSON-ready


def _cpu_connected_components(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """What the reference's CUDA-only kernel returns, computed with scipy (8-connectivity)."""
    flat = mask.cpu().numpy().astype(bool)[:, 0]
    labels = np.zeros(flat.shape, np.int32)
    areas = np.zeros(flat.shape, np.int32)
    for i, plane in enumerate(flat):
        lab, n = ndimage.label(plane, structure=np.ones((3, 3)))
        labels[i] = lab
        areas[i] = np.bincount(lab.ravel(), minlength=n + 1)[lab] * (lab > 0)
    return torch.from_numpy(labels)[:, None], torch.from_numpy(areas)[:, None]


@pytest.mark.reference
def test_low_res_cleanup_matches_reference_cuda_path(monkeypatch):
    """min_mask_region_area step (1) equals the reference's predictor clean-up on CUDA."""
    misc = pytest.importorskip("sam2.utils.misc", reason="the reference is not installed")
    monkeypatch.setattr(misc, "get_connected_components", _cpu_connected_components)
    # the reference has no full-resolution step (2); switch ours off for this comparison
    monkeypatch.setattr(
        "sam2_engine.automatic.generator.remove_small_regions_and_nms", lambda found, *_: found
    )
    settings = PARITY_CASES["single crop"]
    cfg, ref, ours = reference_pair(SEED)
    image = shapes_image()
    kw = dict(points_per_side=GRID, min_mask_region_area=20, **settings)
    theirs = _reference_records(cfg, ref, image, **kw)
    mine = AutomaticMaskGenerator(ours, **kw).generate(image)
    plain = AutomaticMaskGenerator(ours, points_per_side=GRID, **settings).generate(image)
    assert len(mine) >= 3
    assert_same_records(theirs, mine)
    assert [r.stability_score for r in mine] != [r.stability_score for r in plain]


# ---------------------------------------------------------------------- behaviour
def test_grey_uint16_image():
    rng = np.random.default_rng(0)
    image = (shapes_image().mean(-1) * 200 + rng.integers(0, 50, (200, 260))).astype(np.uint16)
    records = AutomaticMaskGenerator(our_model(), **loose(box_nms_thresh=0.95)).generate(image)
    assert len(records) >= 1
    for r in records:
        assert r.segmentation.shape == (200, 260) and r.segmentation.dtype == bool
        assert r.area == int(r.segmentation.sum()) > 0
        assert r.crop_box == [0.0, 0.0, 260.0, 200.0]
        ((x, y),) = r.point_coords
        assert 0 <= x < 260 and 0 <= y < 200


def test_multichannel_image_with_channel_axis():
    image = np.moveaxis(shapes_image(), -1, 0).astype(np.float32)  # (C, H, W)
    gen = AutomaticMaskGenerator(our_model(), **loose(box_nms_thresh=0.95))
    records = gen.generate(image, channel_axis=0, channels=(0, 1))
    assert records and records[0].segmentation.shape == (200, 260)


def test_label_image_is_non_overlapping_with_consecutive_ids():
    gen = AutomaticMaskGenerator(our_model(), **loose(box_nms_thresh=0.98))
    image = shapes_image()
    records = gen.generate(image)
    assert len(records) >= 3
    for order, min_area in (("area", 0), ("score", 200)):
        labels = gen.generate_labels(image, order=order, min_area=min_area)
        assert labels.shape == (200, 260) and np.issubdtype(labels.dtype, np.integer)
        ids = np.unique(labels[labels > 0])
        np.testing.assert_array_equal(ids, np.arange(1, len(ids) + 1))
        assert 2 <= len(ids) <= len(records)
        # one owner per pixel, chosen by the rule of masks_to_label_image
        expected = masks_to_label_image(records, order=order, min_area=min_area)
        np.testing.assert_array_equal(labels, expected)
        assert np.bincount(labels.ravel())[1:].min() >= max(min_area, 1)


def test_output_modes_encode_the_same_masks_and_label_images():
    image = shapes_image()
    out = {
        mode: AutomaticMaskGenerator(our_model(), **loose(output_mode=mode)).generate(image)
        for mode in ("binary_mask", "uncompressed_rle", "coco_rle")
    }
    assert len(out["binary_mask"]) >= 1
    for b, u, c in zip(*out.values(), strict=True):
        np.testing.assert_array_equal(rle_to_mask(u.segmentation), b.segmentation)
        np.testing.assert_array_equal(c.mask, b.segmentation)
        assert coco_to_rle(c.segmentation) == u.segmentation
        assert isinstance(c.segmentation["counts"], str)
        assert b.area == u.area == c.area
    # masks_to_label_image reads MaskRecords whatever their output mode
    labels = [masks_to_label_image(records) for records in out.values()]
    np.testing.assert_array_equal(labels[0], labels[1])
    np.testing.assert_array_equal(labels[0], labels[2])


def test_record_is_frozen_and_to_dict_has_the_reference_keys():
    gen = AutomaticMaskGenerator(our_model(), **loose(output_mode="uncompressed_rle"))
    record = gen.generate(shapes_image())[0]
    keys = ["segmentation", "area", "bbox", "predicted_iou", "point_coords", "stability_score",
            "crop_box"]  # fmt: skip
    assert list(record.to_dict()) == keys
    json.dumps(record.to_dict())
    with pytest.raises(AttributeError):
        record.area = 3  # type: ignore[misc]
    _, _, w, h = record.bbox
    assert all(isinstance(v, float) for v in record.bbox) and w >= 0 and h >= 0


def test_progress_is_reported_per_batch():
    calls: list[tuple[int, int]] = []
    gen = AutomaticMaskGenerator(our_model(), **loose(points_per_batch=20, crop_n_layers=1))
    gen.generate(shapes_image(), progress=lambda done, total: calls.append((done, total)))
    total = 5 * math.ceil(GRID * GRID / 20)  # whole image + 4 crops
    assert calls == [(i, total) for i in range(1, total + 1)]


def test_decoder_is_called_once_per_batch(monkeypatch):
    model = our_model()
    sizes: list[int] = []
    decode = model.decode

    def counting(*args, **kwargs):
        sizes.append(args[2].shape[0])
        return decode(*args, **kwargs)

    monkeypatch.setattr(model, "decode", counting)
    AutomaticMaskGenerator(model, **loose(points_per_batch=24)).generate(shapes_image())
    assert sizes == [24, 24, 16]


def test_cancel_stops_early_and_returns_finished_batches():
    image = shapes_image()
    settings = loose(points_per_batch=16, box_nms_thresh=0.98)
    done: list[int] = []
    gen = AutomaticMaskGenerator(our_model(), **settings)
    partial = gen.generate(
        image, progress=lambda d, t: done.append(d), cancel=lambda: len(done) >= 2
    )
    assert done == [1, 2]  # stopped after two of four batches
    first_points = {tuple(p) for p in (np.asarray(gen.point_grids[0][:32]) * [260, 200]).tolist()}
    assert all(tuple(r.point_coords[0]) in first_points for r in partial)
    # the same as running only those 32 points
    only = AutomaticMaskGenerator(
        our_model(),
        **{**settings, "points_per_side": None, "point_grids": [gen.point_grids[0][:32]]},
    ).generate(image)
    assert [r.point_coords for r in partial] == [r.point_coords for r in only]
    assert gen.generate(image, cancel=lambda: True) == []


def test_chunked_upsampling_gives_the_same_records(monkeypatch):
    image = shapes_image()
    gen = AutomaticMaskGenerator(our_model(), **loose(box_nms_thresh=0.98))
    whole = gen.generate(image)
    monkeypatch.setattr(filters, "CHUNK_PIXELS", 200 * 260)  # one mask at a time
    seen: list[int] = []
    upsample = filters.upsample_logits
    monkeypatch.setattr(
        filters, "upsample_logits", lambda x, *a: seen.append(len(x)) or upsample(x, *a)
    )
    chunked = gen.generate(image)
    assert seen and max(seen) == 1
    assert [r.to_dict()["bbox"] for r in chunked] == [r.to_dict()["bbox"] for r in whole]
    for a, b in zip(chunked, whole, strict=True):
        np.testing.assert_array_equal(a.segmentation, b.segmentation)


def test_min_mask_region_area_removes_small_holes_and_islands():
    image = shapes_image()
    area = 150
    settings = loose(box_nms_thresh=0.98)
    cleaned = AutomaticMaskGenerator(our_model(), min_mask_region_area=area, **settings).generate(
        image
    )
    assert len(cleaned) >= 3
    eight = np.ones((3, 3), bool)
    for r in cleaned:
        m = r.segmentation
        if not m.any():  # kept when stability_score_thresh is 0, as in the reference
            assert r.area == 0 and r.bbox == [0.0, 0.0, 0.0, 0.0]
            continue
        islands = np.bincount(ndimage.label(m, eight)[0].ravel())[1:]
        holes = np.bincount(ndimage.label(~m, eight)[0].ravel())[1:]
        assert (islands >= area).all() or len(islands) == 1
        assert (holes >= area).all()
        assert r.area == int(m.sum())
        ys, xs = np.nonzero(m)
        assert r.bbox == [xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min()]


def test_small_region_clean_up_prefers_unchanged_masks_and_keeps_order():
    square = np.zeros((40, 40), bool)
    square[10:30, 10:30] = True
    speckled = square.copy()
    speckled[2, 2] = True  # a 1-pixel island: removed, then a duplicate of ``square``
    other = np.zeros((40, 40), bool)
    other[0:8, 30:40] = True
    masks = np.stack([speckled, other, square])
    found = filters.Candidates(
        mask_to_rle(masks),
        torch.as_tensor(masks_to_boxes(masks)),
        torch.tensor([0.9, 0.8, 0.7]),
        torch.tensor([0.99, 0.98, 0.97]),
        torch.zeros(3, 2),
        torch.tensor([[0, 0, 40, 40]] * 3),
    )
    kept = filters.remove_small_regions_and_nms(found, 5, nms_thresh=0.7)
    assert kept.iou.tolist() == pytest.approx([0.8, 0.7])  # unchanged duplicate wins, order kept
    np.testing.assert_array_equal(rle_to_mask(kept.rles[1]), square)


def test_same_input_gives_the_same_records():
    gen = AutomaticMaskGenerator(our_model(), **loose(output_mode="coco_rle"))
    a, b = gen.generate(shapes_image()), gen.generate(shapes_image())
    assert [r.to_dict() for r in a] == [r.to_dict() for r in b]


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.zeros((2, 3, 40, 40), np.uint8), "2D image"),
        (np.zeros(40, np.uint8), "2D image"),
        (np.full((40, 40), np.nan, np.float32), "NaN"),
    ],
)
def test_bad_images_are_refused(image, match):
    gen = AutomaticMaskGenerator(our_model(), points_per_side=2)
    with pytest.raises(ValueError, match=match):
        gen.generate(image)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(points_per_side=None), "exactly one of points_per_side and point_grids"),
        (dict(point_grids=[np.full((4, 2), 0.5)]), "exactly one of points_per_side"),
        (dict(output_mode="png"), "output_mode='png' is unknown; use one of binary_mask"),
        (dict(points_per_batch=0), "points_per_batch must be a positive integer"),
        (dict(crop_n_layers=-1), "crop_n_layers must be an integer >= 0"),
        (dict(min_mask_region_area=-5), "min_mask_region_area must be >= 0"),
        (
            dict(points_per_side=None, point_grids=[np.full((4, 2), 0.5)], crop_n_layers=1),
            "one grid per layer",
        ),
        (dict(points_per_side=None, point_grids=[np.full((4, 2), 5.0)]), r"in \[0, 1\]"),
        (dict(points_per_side=None, point_grids=np.full((4, 2), 0.5)), r"use \[grid\]"),
    ],
)
def test_invalid_parameters_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AutomaticMaskGenerator(our_model(), **kwargs)


def test_unknown_label_order_is_refused_before_any_work():
    gen = AutomaticMaskGenerator(our_model(), points_per_side=2)
    with pytest.raises(ValueError, match="order must be one of"):
        gen.generate_labels(np.zeros((40, 40), np.uint8), order="size")
