"""Crowding: push disks apart until neighbours overlap at most a given fraction.

Used to lay out a still field (clusters of cells relax into touching colonies) and, frame by
frame, to keep cells in a time-lapse from piling up on each other.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree


def _relax(
    pos: NDArray[np.float64],
    radius: NDArray[np.float64],
    overlap: float,
    iterations: int = 8,
    strength: float = 0.6,
    mobility: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """Centres (N, D) moved apart so that ``|p_i - p_j| >= (r_i + r_j) * (1 - overlap)``.

    Each iteration pushes every too-close pair apart along the line joining them by
    ``strength`` of the missing distance (shared by the two in proportion to ``mobility``,
    default equal). Returns a new array; a few iterations do not always satisfy every pair.
    """
    pos = np.array(pos, np.float64)
    n = len(pos)
    if n < 2:
        return pos
    need_scale = 1.0 - overlap
    cutoff = 2 * float(radius.max()) * need_scale
    mob = np.ones(n) if mobility is None else np.asarray(mobility, np.float64)
    for _ in range(iterations):
        pairs = cKDTree(pos).query_pairs(cutoff, output_type="ndarray")
        if len(pairs) == 0:
            break
        i, j = pairs[:, 0], pairs[:, 1]
        diff = pos[i] - pos[j]
        dist = np.sqrt((diff * diff).sum(axis=1))
        gap = (radius[i] + radius[j]) * need_scale - dist
        close = gap > 0
        if not close.any():
            break
        i, j, diff, dist, gap = i[close], j[close], diff[close], dist[close], gap[close]
        same = dist < 1e-6
        if same.any():  # identical centres: a deterministic direction from the indices
            angle = (i[same] * 0.618 + j[same] * 0.382) * 2 * np.pi
            unit = np.zeros((int(same.sum()), pos.shape[1]))
            unit[:, 0], unit[:, 1] = np.sin(angle), np.cos(angle)
            diff[same] = unit
            dist[same] = 1.0
        share = mob[i] / np.maximum(mob[i] + mob[j], 1e-12)
        push = (strength * gap / dist)[:, None] * diff
        delta = np.zeros_like(pos)
        np.add.at(delta, i, push * share[:, None])
        np.add.at(delta, j, -push * (1 - share)[:, None])
        pos += delta
    return pos


def _drop_overlapping(
    pos: NDArray[np.float64], radius: NDArray[np.float64], overlap: float
) -> NDArray[np.bool_]:
    """Mask of disks to keep so that no kept pair overlaps more than ``overlap`` (greedy).

    Of a pair too close together the one with the higher index is dropped.
    """
    keep = np.ones(len(pos), bool)
    if len(pos) < 2:
        return keep
    need_scale = 1.0 - overlap
    pairs = cKDTree(pos).query_pairs(2 * float(radius.max()) * need_scale, output_type="ndarray")
    if len(pairs) == 0:
        return keep
    i, j = pairs[:, 0], pairs[:, 1]
    dist = np.sqrt(((pos[i] - pos[j]) ** 2).sum(axis=1))
    bad = dist < (radius[i] + radius[j]) * need_scale
    for a, b in pairs[bad][np.argsort(pairs[bad].min(axis=1), kind="stable")]:
        if keep[a] and keep[b]:
            keep[max(a, b)] = False
    return keep
