"""Matching predicted objects to true ones: F1 at an IoU threshold, from two label images.

At IoU > 0.5 a predicted object can match at most one true object and the other way
round, so counting the pairs above the threshold is an exact (optimal) matching.
"""

from __future__ import annotations

import numpy as np

__all__ = ["match_iou", "object_f1"]


def match_iou(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """(P, T) IoU of every predicted object with every true object.

    Parameters
    ----------
    pred, truth : ndarray of int, same shape
        Label images (0 = background); ids need not be consecutive.

    Returns
    -------
    ndarray of float, shape (P, T)
        Rows follow the sorted nonzero ids of ``pred``, columns those of ``truth``.
    """
    if pred.shape != truth.shape:
        raise ValueError(f"label images differ in shape: {pred.shape} vs {truth.shape}")
    p_ids, p_inv = np.unique(pred.ravel(), return_inverse=True)
    t_ids, t_inv = np.unique(truth.ravel(), return_inverse=True)
    counts = np.bincount(p_inv * len(t_ids) + t_inv, minlength=len(p_ids) * len(t_ids))
    counts = counts.reshape(len(p_ids), len(t_ids))
    p_area, t_area = counts.sum(1), counts.sum(0)
    union = p_area[:, None] + t_area[None, :] - counts
    iou = counts / np.maximum(union, 1)
    return iou[np.ix_(p_ids != 0, t_ids != 0)]


def object_f1(pred: np.ndarray, truth: np.ndarray, threshold: float = 0.5) -> float:
    """F1 of objects matched at IoU >= ``threshold`` (>= 0.5); 1 when both are empty."""
    if threshold < 0.5:
        raise ValueError(f"threshold={threshold} must be >= 0.5 for a one-to-one matching")
    iou = match_iou(pred, truth)
    n_pred, n_true = iou.shape
    if n_pred == 0 and n_true == 0:
        return 1.0
    matched = int((iou >= threshold).sum())
    return 2.0 * matched / (n_pred + n_true)
