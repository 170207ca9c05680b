"""Prompt simulation: clicks in the right regions, boxes around the masks, plans."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sam2_engine as se
from sam2_training.config import PromptConfig
from sam2_training.prompt_simulation import (
    draw_plan,
    noisy_boxes,
    points_at_error_centres,
    points_from_errors,
)


def masks_to_boxes(masks: torch.Tensor) -> torch.Tensor:
    """(B, 4) float32 tight boxes of (B, 1, H, W) masks: the engine's function, as the
    prompt simulation uses it."""
    return se.masks_to_boxes(masks[:, 0]).to(torch.float32)


def _masks(batch: int = 16, size: int = 64, seed: int = 0) -> torch.Tensor:
    """Random rectangles and disks, (B, 1, S, S) bool."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    out = np.zeros((batch, 1, size, size), bool)
    for b in range(batch):
        cy, cx, r = rng.integers(10, size - 10), rng.integers(10, size - 10), rng.integers(3, 9)
        out[b, 0] = (yy - cy) ** 2 + (xx - cx) ** 2 < r**2
    return torch.from_numpy(out)


def _at(masks: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Mask values at (x, y) points, (B, 1, S, S) and (B, 1, 2) -> (B,)."""
    x, y = points[:, 0, 0].long(), points[:, 0, 1].long()
    return masks[torch.arange(masks.shape[0]), 0, y, x]


def test_first_click_is_a_positive_point_inside_the_object():
    gt = _masks()
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        points, labels = points_from_errors(gt, None, gen)
        assert points.shape == (16, 1, 2) and labels.dtype == torch.int32
        assert (labels == 1).all()
        assert _at(gt, points).all()


def test_correction_clicks_fall_in_the_error_region_with_the_right_label():
    gt = _masks(32)
    pred = torch.roll(gt, shifts=4, dims=-1)  # shifted: both FN and FP pixels
    gen = torch.Generator().manual_seed(1)
    seen = set()
    for _ in range(10):
        points, labels = points_from_errors(gt, pred, gen)
        inside_gt, inside_pred = _at(gt, points), _at(pred, points)
        positive = labels[:, 0] == 1
        assert (inside_gt[positive] & ~inside_pred[positive]).all()  # false negatives
        assert (~inside_gt[~positive] & inside_pred[~positive]).all()  # false positives
        seen |= set(labels[:, 0].tolist())
    assert seen == {0, 1}


def test_perfect_prediction_gets_a_negative_click_in_the_background():
    gt = _masks(8)
    points, labels = points_from_errors(gt, gt.clone(), torch.Generator().manual_seed(0))
    assert (labels == 0).all()
    assert not _at(gt, points).any()


def test_clicks_are_reproducible_with_a_seeded_generator():
    gt = _masks()
    a = points_from_errors(gt, None, torch.Generator().manual_seed(3))
    b = points_from_errors(gt, None, torch.Generator().manual_seed(3))
    assert torch.equal(a[0], b[0])


def test_centre_click_is_the_pixel_farthest_from_the_border():
    yy, xx = torch.meshgrid(torch.arange(32), torch.arange(48), indexing="ij")
    gt = (((yy - 15) ** 2 + (xx - 20) ** 2) <= 36)[None, None]  # disk centred at (x=20, y=15)
    points, labels = points_at_error_centres(gt, None)
    assert labels.item() == 1
    assert points[0, 0].tolist() == [20.0, 15.0]
    pred = gt.clone()
    pred[0, 0, 0:9, 30:48] = True  # a large false positive
    points, labels = points_at_error_centres(gt, pred)
    assert labels.item() == 0
    assert not gt[0, 0, int(points[0, 0, 1]), int(points[0, 0, 0])]


def test_tight_boxes_hold_the_whole_mask():
    gt = _masks()
    boxes = masks_to_boxes(gt)
    for b in range(gt.shape[0]):
        ys, xs = torch.nonzero(gt[b, 0], as_tuple=True)
        assert boxes[b].tolist() == [xs.min(), ys.min(), xs.max(), ys.max()]
    assert masks_to_boxes(torch.zeros(1, 1, 8, 8, dtype=torch.bool)).tolist() == [[0, 0, 0, 0]]


def test_noisy_boxes_stay_close_to_the_mask_and_inside_the_image():
    gt = _masks(64)
    tight = masks_to_boxes(gt)
    points, labels = noisy_boxes(gt, 0.1, 20.0, torch.Generator().manual_seed(0))
    assert points.shape == (64, 2, 2)
    assert (labels == torch.tensor([2, 3], dtype=torch.int32)).all()
    boxes = points.reshape(64, 4)
    size = (tight[:, 2:] - tight[:, :2]).repeat(1, 2)
    assert ((boxes - tight).abs() <= 0.1 * size + 1e-4).all()
    assert (boxes >= 0).all() and (boxes <= 63).all()
    assert not torch.equal(boxes, tight)
    # without noise the box contains the mask exactly
    exact, _ = noisy_boxes(gt, 0.0)
    assert torch.equal(exact.reshape(64, 4), tight)


def test_noise_is_capped_in_pixels():
    gt = torch.ones(4, 1, 256, 256, dtype=torch.bool)
    points, _ = noisy_boxes(gt, 0.5, 3.0, torch.Generator().manual_seed(0))
    tight = masks_to_boxes(gt)
    assert ((points.reshape(4, 4) - tight).abs() <= 3.0 + 1e-4).all()


def test_still_images_are_always_clicked_or_boxed():
    cfg = PromptConfig(prob_point_input=0.0, prob_box_input=0.5)
    kinds = {draw_plan(1, cfg, np.random.default_rng(s)).kind for s in range(40)}
    assert kinds == {"point", "box"}
    plan = draw_plan(1, cfg, np.random.default_rng(0))
    assert plan.init_cond_frames == [0] and plan.processing_order == [0]


@pytest.mark.parametrize("seed", range(20))
def test_clip_plans_follow_the_rules(seed):
    cfg = PromptConfig()
    plan = draw_plan(6, cfg, np.random.default_rng(seed))
    assert plan.init_cond_frames[0] == 0
    assert 1 <= len(plan.init_cond_frames) <= cfg.max_init_cond_frames
    assert sorted(plan.processing_order) == list(range(6))
    assert plan.processing_order[: len(plan.init_cond_frames)] == plan.init_cond_frames
    if plan.kind == "mask":
        assert plan.correction_frames == []
    else:
        assert set(plan.init_cond_frames) <= set(plan.correction_frames)
        assert len(plan.correction_frames) <= cfg.max_frames_to_correct
        assert plan.num_corrections == cfg.num_correction_points
        assert len(plan.from_gt) == len(plan.correction_frames)


def test_plan_kinds_follow_the_probabilities():
    cfg = PromptConfig(prob_point_input=0.5, prob_box_input=0.5)
    kinds = [draw_plan(4, cfg, np.random.default_rng(s)).kind for s in range(400)]
    share = {k: kinds.count(k) / 400 for k in ("mask", "point", "box")}
    assert share["mask"] == pytest.approx(0.5, abs=0.08)
    assert share["box"] == pytest.approx(0.25, abs=0.08)
