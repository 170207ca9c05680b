"""J and F against straightforward, loop-based definitions (the DAVIS ones)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sam2_vos.metrics import boundary_f, boundary_map, boundary_radius, jaccard


def _contour_by_loops(mask):
    h, w = mask.shape
    out = np.zeros_like(mask, dtype=bool)
    for r in range(h):
        for c in range(w):
            for dr, dc in ((0, 1), (1, 0), (1, 1)):
                rr, cc = min(r + dr, h - 1), min(c + dc, w - 1)
                out[r, c] |= mask[r, c] != mask[rr, cc]
    return out


def _f_by_loops(pred, gt):
    bp, bg = _contour_by_loops(pred), _contour_by_loops(gt)
    radius = math.ceil(0.008 * math.hypot(*pred.shape))
    pts_p, pts_g = np.argwhere(bp), np.argwhere(bg)
    if len(pts_p) == 0 or len(pts_g) == 0:
        return 1.0 if len(pts_p) == len(pts_g) else 0.0

    def matched(a, b):  # points of a within radius of some point of b
        d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
        return int((d2.min(axis=1) <= radius * radius).sum())

    precision = matched(pts_p, pts_g) / len(pts_p)
    recall = matched(pts_g, pts_p) / len(pts_g)
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _blob(rng, shape):
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    cy, cx = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
    r = rng.uniform(3, 0.4 * min(shape))
    return ((rows - cy) ** 2 + (cols - cx) ** 2 <= r * r) ^ (rng.random(shape) < 0.02)


@pytest.mark.parametrize("seed", range(6))
def test_boundary_f_equals_the_loop_definition(seed):
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(30, 90)), int(rng.integers(30, 400)))  # radius 1 to 4
    pred, gt = _blob(rng, shape), _blob(rng, shape)
    np.testing.assert_array_equal(boundary_map(pred), _contour_by_loops(pred))
    assert boundary_f(pred, gt) == pytest.approx(_f_by_loops(pred, gt), abs=1e-12)
    assert jaccard(pred, gt) == pytest.approx((pred & gt).sum() / (pred | gt).sum())


def test_conventions_for_empty_masks_and_the_tolerance():
    empty, full = np.zeros((10, 10), bool), np.zeros((10, 10), bool)
    full[2:6, 2:6] = True
    assert jaccard(empty, empty) == 1.0 and boundary_f(empty, empty) == 1.0
    assert jaccard(full, empty) == 0.0 and boundary_f(full, empty) == 0.0
    assert boundary_f(empty, full) == 0.0
    assert boundary_radius((480, 854)) == 8  # DAVIS 480p: ceil(0.008 * 979.6)
    shifted = np.roll(full, 1, axis=1)
    assert boundary_f(full, shifted) == 1.0  # one pixel off is within the tolerance
    far = np.roll(full, 4, axis=1)
    assert boundary_f(full, far) < 1.0
