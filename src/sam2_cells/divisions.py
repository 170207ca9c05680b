"""Division cues: a track's mask that falls apart, or a new cell beside a shrunken track.

SAM 2 has no idea of a division: after a mitosis it keeps following one daughter, or
both as one mask. Two observations reveal a division instead:

* the track's mask has two substantial pieces (:func:`split_pieces`): both daughters are
  still in it, now apart;
* a new cell is found right next to a track whose area just dropped
  (:func:`daughter_of`): the track followed one daughter, the detection is the other.

Daughters often touch for a few frames before they separate; :func:`backdate_split`
finds the frames before a split where the mother's mask already was the two daughters
(it parts along a narrow neck towards the two pieces), so that the division is dated
when it happened, not when the pieces came apart.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy import ndimage as ndi

from sam2_cells.track_book import LiveTrack

__all__ = ["backdate_split", "daughter_of", "split_pieces"]


def split_pieces(mask: np.ndarray, min_share: float, min_area: int) -> list[np.ndarray]:
    """The two largest pieces of ``mask`` when it split into daughters, else ``[]``.

    Parameters
    ----------
    mask
        (h, w) bool mask (e.g. the track's bounding box).
    min_share
        The smaller piece holds at least this share of the two.
    min_area
        Both pieces have at least this many pixels.
    """
    pieces, n = ndi.label(mask)
    if n < 2:
        return []
    areas = np.bincount(pieces.ravel())[1:]
    order = np.argsort(areas)[::-1]
    big, second = int(areas[order[0]]), int(areas[order[1]])
    if second < min_area or second < min_share * (big + second):
        return []
    return [pieces == order[0] + 1, pieces == order[1] + 1]


def daughter_of(
    centroid: tuple[float, float],
    area: int,
    candidates: Iterable[tuple[LiveTrack, tuple[float, float], int]],
    area_drop: float,
    distance: float,
    size_ratio: float,
) -> LiveTrack | None:
    """The track a new cell is the second daughter of, if one qualifies.

    Parameters
    ----------
    centroid, area
        (row, col) and pixel area of the new cell.
    candidates
        ``(track, (row, col), area)`` of the live tracks on this frame.
    area_drop
        The track's area fell below this share of its recent mean.
    distance
        Centroids at most this many track diameters apart.
    size_ratio
        The new cell is at most this many times smaller than the mother was (daughters
        cut by the image border are small) and not larger than her.

    Returns
    -------
    LiveTrack or None
        The nearest qualifying track.
    """
    best, best_d = None, np.inf
    for track, (r, c), t_area in candidates:
        before = track.recent_area()
        if before <= 0 or t_area >= area_drop * before:
            continue
        if not 1 / (2 * size_ratio) <= area / before <= 1.1:
            continue
        diameter = 2 * np.sqrt(before / np.pi)
        d = float(np.hypot(centroid[0] - r, centroid[1] - c))
        if d <= distance * diameter and d < best_d:
            best, best_d = track, d
    return best


def _halves(mask: np.ndarray, pieces: list[np.ndarray]) -> list[np.ndarray] | None:
    """``mask`` divided between two later ``pieces`` (each pixel to the nearer piece),
    or None when the two parts are not joined by a narrow neck."""
    dist = [ndi.distance_transform_edt(~p) for p in pieces]
    first = mask & (dist[0] <= dist[1])
    second = mask & ~first
    a, b = int(first.sum()), int(second.sum())
    if min(a, b) < 0.25 * (a + b):
        return None
    touching = first & ndi.binary_dilation(second)
    neck = int(touching.sum())
    diameter = 2 * np.sqrt(min(a, b) / np.pi)
    if neck > 0.7 * diameter:
        return None  # one round body, not two cells
    return [first, second]


def backdate_split(
    history: list[np.ndarray], pieces: list[np.ndarray]
) -> list[list[np.ndarray]]:
    """The earlier frames on which a mother's mask already was her two daughters.

    Parameters
    ----------
    history
        The mother's (H, W) masks on the frames before the split, latest first.
    pieces
        The two daughter masks on the frame of the split.

    Returns
    -------
    list of [first, second]
        For each frame of ``history`` (latest first, stopping at the first that does not
        part), the mother's mask divided between the daughters.
    """
    out: list[list[np.ndarray]] = []
    targets = pieces
    for mask in history:
        if not mask.any():
            break
        halves = _halves(mask, targets)
        if halves is None:
            break
        out.append(halves)
        targets = halves
    return out
