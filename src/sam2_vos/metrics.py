"""Per-frame measures of one object: region similarity J and boundary accuracy F (DAVIS).

J is the intersection over union of the predicted and true masks. F is the F-measure of
their contours: a contour pixel counts as matched when a contour pixel of the other mask
lies within ``tolerance * diagonal`` pixels (rounded up; the disk of
``skimage.morphology.disk``), with ``tolerance = 0.008`` as in the DAVIS benchmark.
Empty masks follow the DAVIS conventions: both empty gives J = F = 1.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

__all__ = ["BOUNDARY_TOLERANCE", "boundary_f", "boundary_map", "boundary_radius", "jaccard"]

BOUNDARY_TOLERANCE = 0.008  # of the image diagonal


def jaccard(pred: np.ndarray, gt: np.ndarray) -> float:
    """Region similarity J: |pred ∩ gt| / |pred ∪ gt|, 1 when both are empty.

    Parameters
    ----------
    pred, gt
        (H, W) bool masks (row, col) of one object.
    """
    pred, gt = np.asarray(pred, bool), np.asarray(gt, bool)
    union = np.count_nonzero(pred | gt)
    if union == 0:
        return 1.0
    return np.count_nonzero(pred & gt) / union


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """One-pixel-wide contour of a mask (the DAVIS ``seg2bmap`` convention).

    A pixel is on the contour when it differs from its right, lower or lower-right
    neighbour; past the last row and column the image is continued by repeating its
    edge, so the image border itself is no contour.

    Parameters
    ----------
    mask
        (H, W) bool mask (row, col).

    Returns
    -------
    numpy.ndarray
        (H, W) bool contour.
    """
    m = np.asarray(mask, bool)
    grown = np.pad(m, ((0, 1), (0, 1)), mode="edge")
    right, below, diagonal = grown[:-1, 1:], grown[1:, :-1], grown[1:, 1:]
    return (m != right) | (m != below) | (m != diagonal)


def boundary_radius(shape: tuple[int, ...], tolerance: float = BOUNDARY_TOLERANCE) -> int:
    """Match distance in pixels for images of ``shape`` (rows, columns): the tolerance
    times the diagonal, rounded up."""
    return math.ceil(tolerance * math.hypot(shape[0], shape[1]))


def _within(contour: np.ndarray, radius: int) -> np.ndarray:
    """Pixels at Euclidean distance <= radius from a pixel of ``contour`` (non-empty):
    the dilation of ``contour`` by a disk of that radius."""
    squared = ndimage.distance_transform_edt(~contour) ** 2
    return np.rint(squared) <= radius * radius


def boundary_f(pred: np.ndarray, gt: np.ndarray, tolerance: float = BOUNDARY_TOLERANCE) -> float:
    """Boundary accuracy F: harmonic mean of contour precision and recall.

    Parameters
    ----------
    pred, gt
        (H, W) bool masks (row, col) of one object.
    tolerance
        Match distance as a fraction of the image diagonal.

    Returns
    -------
    float
        In [0, 1]; 1 when both masks are empty, 0 when exactly one is.
    """
    pred_edge, gt_edge = boundary_map(pred), boundary_map(gt)
    n_pred, n_gt = np.count_nonzero(pred_edge), np.count_nonzero(gt_edge)
    if n_pred == 0 or n_gt == 0:
        return 1.0 if n_pred == n_gt else 0.0
    radius = boundary_radius(pred_edge.shape, tolerance)
    precision = np.count_nonzero(pred_edge & _within(gt_edge, radius)) / n_pred
    recall = np.count_nonzero(gt_edge & _within(pred_edge, radius)) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)
