"""Segment everything on an image much larger than the model input, tile by tile.

Each tile of a :class:`~sam2_engine.tiled.grid.TileGrid` is read (only its pixels), run
through the automatic mask generator as an image of its own, and its masks are moved
to image coordinates; :func:`~sam2_engine.tiled.merge.merge_tile_masks` then keeps one
mask per object (objects cut by a tile border are whole in a neighbouring tile when they
fit the halo, and united across the border when they do not).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sam2_engine.imaging.lazy_plane import LazyPlane
from sam2_engine.masks.rle import rle_to_mask
from sam2_engine.progress import CancelCallback, ProgressCallback
from sam2_engine.tiled.grid import Tile, TileGrid
from sam2_engine.tiled.merge import RegionMask, merge_tile_masks, paint_labels

__all__ = ["TileMasks", "generate_tiled", "generator_tile_masks"]

#: ``tile_masks(rgb (h, w, 3) float32) -> [(mask (h, w) bool, score), ...]``
TileMasks = Callable[[np.ndarray], list[tuple[np.ndarray, float]]]


def generator_tile_masks(generator: Any, cancel: CancelCallback | None = None) -> TileMasks:
    """The masks an :class:`~sam2_engine.AutomaticMaskGenerator` finds in one tile.

    ``cancel`` is handed to the generator (polled between batches of points: a tile
    cut short gives the masks of the batches done).
    """
    from sam2_engine.imaging.intensity import NormalizedFrame

    def run(rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
        out = []
        frame = NormalizedFrame(np.ascontiguousarray(rgb))
        for rec in generator.generate(frame, cancel=cancel):
            seg = rec.segmentation
            mask = seg if isinstance(seg, np.ndarray) else rle_to_mask(seg)
            out.append((np.asarray(mask, dtype=bool), float(rec.predicted_iou)))
        return out

    return run


def _touches_inner_edge(mask: np.ndarray, tile: Tile, grid: TileGrid) -> bool:
    top, bottom, left, right = grid.inner_edges(tile)
    return bool(
        (top and mask[0].any())
        or (bottom and mask[-1].any())
        or (left and mask[:, 0].any())
        or (right and mask[:, -1].any())
    )


def generate_tiled(
    plane: LazyPlane,
    grid: TileGrid,
    tile_masks: TileMasks,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelCallback | None = None,
    same_object: float = 0.5,
) -> tuple[list[RegionMask], np.ndarray]:
    """All objects of a big image, found tile by tile and merged.

    Parameters
    ----------
    plane
        The image (a :class:`LazyPlane`: tiles are read one at a time).
    grid
        The tiles (side and halo, see :class:`~sam2_engine.tiled.grid.TilingSettings`).
    tile_masks
        Finds masks in one tile (e.g. :func:`generator_tile_masks`).
    progress
        ``progress(done, total)`` after each tile.
    cancel
        Polled before each tile; once it returns True the remaining tiles are skipped
        and the masks of the tiles done are merged (a partial but consistent result).
    same_object
        See :func:`~sam2_engine.tiled.merge.merge_tile_masks`.

    Returns
    -------
    masks : list of RegionMask
        One per object, in image coordinates.
    labels : numpy.ndarray
        (H, W) int32 label image of them.
    """
    found: list[RegionMask] = []
    for i, tile in enumerate(grid.tiles):
        if cancel is not None and cancel():
            break
        rgb = plane.region(*tile.slices)
        for mask, score in tile_masks(rgb):
            cut = _touches_inner_edge(mask, tile, grid)
            found.append(RegionMask(mask, tile.top, tile.left, score, cut))
        if progress is not None:
            progress(i + 1, len(grid))
    merged = merge_tile_masks(found, same_object)
    return merged, paint_labels(merged, grid.image_hw)
