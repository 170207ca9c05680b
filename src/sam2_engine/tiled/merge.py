"""Merging masks found tile by tile: one object, one mask, no seams, no duplicates.

A tile sees an object whole, or cut by one of its inner edges (edges inside the image).
Masks are ranked whole first, then by score. A mask that covers mostly the same pixels
as one already kept (``overlap / smaller area > same_object``) is the same object:
dropped when the kept one is whole (a duplicate from an overlapping tile), united with it
when both are cut (an object larger than the halo, completed across the border).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sam2_engine.masks.postprocess import masks_to_boxes

__all__ = ["RegionMask", "merge_tile_masks", "paint_labels"]


@dataclass
class RegionMask:
    """A mask kept as its bounding region of the image.

    Attributes
    ----------
    mask : numpy.ndarray
        (h, w) bool, (row, col).
    top, left : int
        Image row and column of the region's first pixel.
    score : float
        Ranking score (e.g. predicted IoU).
    cut : bool
        Whether the mask touches an inner edge of the tile it was found in.
    """

    mask: np.ndarray
    top: int
    left: int
    score: float = 0.0
    cut: bool = False

    @property
    def bottom(self) -> int:
        return self.top + self.mask.shape[0]

    @property
    def right(self) -> int:
        return self.left + self.mask.shape[1]

    @property
    def area(self) -> int:
        return int(self.mask.sum())

    def tight(self) -> RegionMask:
        """The same mask cropped to its pixels' bounding box."""
        if not self.mask.any():
            return self
        c0, r0, c1, r1 = (int(v) for v in masks_to_boxes(self.mask, inclusive=False))
        return RegionMask(
            self.mask[r0:r1, c0:c1], self.top + int(r0), self.left + int(c0), self.score, self.cut
        )


def _overlap(a: RegionMask, b: RegionMask) -> int:
    top, left = max(a.top, b.top), max(a.left, b.left)
    bottom, right = min(a.bottom, b.bottom), min(a.right, b.right)
    if bottom <= top or right <= left:
        return 0
    pa = a.mask[top - a.top : bottom - a.top, left - a.left : right - a.left]
    pb = b.mask[top - b.top : bottom - b.top, left - b.left : right - b.left]
    return int(np.count_nonzero(pa & pb))


def _union(a: RegionMask, b: RegionMask) -> RegionMask:
    top, left = min(a.top, b.top), min(a.left, b.left)
    bottom, right = max(a.bottom, b.bottom), max(a.right, b.right)
    out = np.zeros((bottom - top, right - left), dtype=bool)
    for m in (a, b):
        out[m.top - top : m.bottom - top, m.left - left : m.right - left] |= m.mask
    return RegionMask(out, top, left, max(a.score, b.score), a.cut and b.cut)


def merge_tile_masks(masks: list[RegionMask], same_object: float = 0.5) -> list[RegionMask]:
    """One mask per object from masks found in overlapping tiles (see module docstring).

    Parameters
    ----------
    masks
        Masks of all tiles, in image coordinates.
    same_object
        Overlap / smaller area above which two masks are the same object.

    Returns
    -------
    list of RegionMask
        Tight masks, whole ones first, then by score.
    """
    order = sorted((m.tight() for m in masks if m.mask.any()), key=lambda m: (m.cut, -m.score))
    kept: list[RegionMask] = []
    for cand in order:
        merged = False
        for i, k in enumerate(kept):
            shared = _overlap(cand, k)
            if shared == 0 or shared <= same_object * min(cand.area, k.area):
                continue
            if k.cut and cand.cut:
                kept[i] = _union(k, cand)
            merged = True
            break
        if not merged:
            kept.append(cand)
    return kept


def paint_labels(masks: list[RegionMask], image_hw: tuple[int, int]) -> np.ndarray:
    """(H, W) int32 label image: object ``i + 1`` for ``masks[i]``; earlier masks win."""
    out = np.zeros(image_hw, dtype=np.int32)
    for i in range(len(masks) - 1, -1, -1):
        m = masks[i]
        region = out[m.top : m.bottom, m.left : m.right]
        region[m.mask] = i + 1
    return out
