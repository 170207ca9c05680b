"""Multi-scale square tiles for models that segment objects at one scale (window models).

A model trained on object-centred windows expects an object to fill roughly a third of
its input. "Segment everything" then prompts square *tiles* of the image whose side suits
the objects: :func:`probe_sides` tries every candidate side on a few tiles and keeps the
sides at which many masks fill a plausible share of their tile; :func:`square_tiles`
covers the image with overlapping tiles of a side; :func:`tile_scores` ranks duplicates
from different tiles (a mask of plausible size for its tile beats one that is not).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

__all__ = ["PLAUSIBLE_SHARE", "probe_sides", "square_tiles", "tile_scores"]

PLAUSIBLE_SHARE = (0.1, 0.65)  # object extent / tile side of a believable mask
IDEAL_SHARE = 0.3  # the share window models are trained around


def square_tiles(image_hw: Sequence[int], side: int, overlap: float) -> list[list[int]]:
    """Overlapping square tiles covering the image, ``[x0, y0, x1, y1]`` end exclusive.

    Tiles are ``min(side, H, W)`` pixels on a side (an image shorter than ``side``
    gets tiles as tall as it is), evenly spread so that neighbours overlap by at least
    ``overlap`` of the side.
    """
    h, w = (int(v) for v in image_hw)
    t = max(1, min(int(side), h, w))
    step = max(1.0, t * (1.0 - float(overlap)))

    def starts(length: int) -> list[int]:
        if length <= t:
            return [0]
        n = int(np.ceil((length - t) / step)) + 1
        return sorted({round(v) for v in np.linspace(0, length - t, n)})

    return [[x, y, x + t, y + t] for x in starts(w) for y in starts(h)]


def _shares(boxes: torch.Tensor, crop_boxes: torch.Tensor) -> torch.Tensor:
    """(N,) mask extent / tile side of candidate masks."""
    extent = torch.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) + 1
    side = torch.maximum(crop_boxes[:, 2] - crop_boxes[:, 0], crop_boxes[:, 3] - crop_boxes[:, 1])
    return extent.float() / side.clamp(min=1).float()


def _closeness(share: torch.Tensor) -> torch.Tensor:
    """1 at the ideal share of a tile, falling to 0 at the plausible limits (log scale)."""
    lo, hi = PLAUSIBLE_SHARE
    ratio = torch.log(share.clamp(min=1e-6) / IDEAL_SHARE)
    span = torch.where(
        ratio < 0,
        torch.tensor(np.log(IDEAL_SHARE / lo)),
        torch.tensor(np.log(hi / IDEAL_SHARE)),
    )
    return (1 - ratio.abs() / span).clamp(min=0)


def tile_scores(boxes: torch.Tensor, crop_boxes: torch.Tensor, iou: torch.Tensor) -> torch.Tensor:
    """NMS score across tiles: predicted IoU, plus 1 for a plausible share of the tile."""
    lo, hi = PLAUSIBLE_SHARE
    share = _shares(boxes, crop_boxes)
    return iou.float() + ((share >= lo) & (share <= hi)).float()


def probe_sides(
    image_hw: Sequence[int],
    sides: Sequence[int],
    masks_at: Callable[[list[int]], tuple[torch.Tensor, torch.Tensor]],
    tiles_per_side: int = 3,
) -> list[int]:
    """The tile sides at which the image's objects are seen at a plausible scale.

    Parameters
    ----------
    image_hw
        (H, W) of the image.
    sides
        Candidate tile sides (image pixels).
    masks_at
        ``masks_at(tile) -> (boxes, crop_boxes)`` of the masks a coarse point grid finds
        in one tile (after the generator's filters).
    tiles_per_side
        Tiles probed per side (the middle of the image first, then evenly spread).

    Returns
    -------
    list of int
        One or two sides: the one whose masks fill shares of their tiles closest to the
        ideal (counted over masks), and the runner-up if it scores at least half as well
        (objects of two scales); the middle side when no probe finds anything.
    """
    h, w = (int(v) for v in image_hw)
    usable = sorted({min(int(s), max(h, w)) for s in sides})
    if len(usable) <= 1:
        return usable  # nothing to choose
    counts = []
    for side in usable:
        tiles = square_tiles((h, w), side, 0.0)
        order = sorted(
            range(len(tiles)),
            key=lambda i: (
                abs((tiles[i][0] + tiles[i][2]) / 2 - w / 2)
                + abs((tiles[i][1] + tiles[i][3]) / 2 - h / 2)
            ),
        )
        picked = [tiles[i] for i in order[:1]]
        rest = order[1:]
        if rest and tiles_per_side > 1:
            spread = np.linspace(0, len(rest) - 1, min(tiles_per_side - 1, len(rest)))
            picked += [tiles[rest[round(j)]] for j in spread]
        count = 0.0
        for tile in picked:
            boxes, crop_boxes = masks_at(tile)
            if len(boxes):
                share = _shares(boxes, crop_boxes)
                count += float(_closeness(share).sum())
        counts.append(count)
    if max(counts, default=0) == 0:
        return [usable[len(usable) // 2]] if usable else []
    ranked = sorted(range(len(usable)), key=lambda i: -counts[i])
    best = counts[ranked[0]]
    return sorted(usable[i] for i in ranked[:2] if counts[i] >= 0.5 * best)
