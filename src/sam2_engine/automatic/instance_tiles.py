"""Segment everything with the instance head on images too large for one pass: tiles.

An image whose objects, rescaled to the head's training size, would exceed
``InstanceSettings.max_pixels`` is cut into overlapping square tiles
(:class:`~sam2_engine.tiled.grid.TileGrid`). Sizes follow the objects:

- a tile is ``InstanceSettings.tile`` pixels on a side **at the model's scale** (1,024 by
  default: the head is fast there and its maps take ~10 MB), i.e.
  ``tile * diameter / head_diameter`` image pixels;
- neighbours share ``2 * halo`` pixels, ``halo = InstanceSettings.tile_halo`` object
  diameters (3 by default), so that an object up to several diameters across lies whole,
  and far enough from the tile's edge that the convolutions saw its neighbourhood, in
  the tile that owns it.

Each tile is read alone (only its pixels, normalised with the image's one intensity
range), run through the head and the watershed, and dropped before the next one is
read: memory is bounded by one tile, plus the (H, W) int32 result.

Who keeps an object seen by several tiles: the tiles' **cores** partition the image (the
borders lie in the middle of each overlap); a tile keeps the objects whose bounding-box
centre lies in its core, widened by half a diameter so that an object on a core border,
whose centre two tiles place a pixel apart, is not lost. An object that more than half
overlaps one already written is another tile's copy of it and is dropped; the rest write
only pixels no earlier object has. Labels are then renumbered 1..N in order of first
appearance (row-major), as the one-pass result is. An image that fits one tile gives
exactly the one-pass result.
"""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage as ndi

from sam2_engine.progress import CancelCallback, ProgressCallback
from sam2_engine.tiled.grid import Tile, TileGrid

if TYPE_CHECKING:
    from sam2_engine.automatic.instances import InstanceSegmenter
    from sam2_engine.imaging.lazy_plane import LazyPlane

__all__ = ["instance_grid", "segment_tiles"]


def instance_grid(
    image_hw: tuple[int, int], diameter: float, head_diameter: float, tile: int, halo: float
) -> TileGrid:
    """The tiles of an image whose objects are ``diameter`` image pixels across.

    Parameters
    ----------
    image_hw
        (H, W) of the image.
    diameter, head_diameter
        Object diameter in image pixels, and the head's in model pixels.
    tile
        Tile side at the model's scale (model pixels).
    halo
        Pixels shared with each neighbour, in object diameters.
    """
    scale = head_diameter / float(diameter)
    side = max(int(np.ceil(tile / scale)), 1)
    halo_px = int(np.ceil(halo * float(diameter)))
    if 2 * halo_px >= side:
        raise ValueError(
            f"tiles of {tile} px at the model's scale ({side} image px) cannot hold a halo "
            f"of {halo} diameters ({halo_px} px) on both sides; give a larger tile or a "
            "smaller tile_halo"
        )
    return TileGrid(image_hw, side, halo_px)


def _cores(starts: list[int], side: int, length: int) -> dict[int, tuple[int, int]]:
    """Per tile start along one axis: the [lo, hi) core, cut in the middle of overlaps."""
    cuts = [0]
    for a, b in pairwise(starts):
        cuts.append((b + min(a + side, length)) // 2)
    cuts.append(length)
    return {s: (cuts[i], cuts[i + 1]) for i, s in enumerate(starts)}


def _keep_owned(
    local: np.ndarray,
    tile: Tile,
    core: tuple[float, float, float, float],
    out: np.ndarray,
    firsts: list[int],
) -> None:
    """Write the objects of one tile's labels that its core owns into ``out``."""
    r_lo, r_hi, c_lo, c_hi = core
    width = out.shape[1]
    for k, window in enumerate(ndi.find_objects(local), start=1):
        if window is None:
            continue
        rows, cols = window
        cy = tile.top + (rows.start + rows.stop - 1) / 2.0
        cx = tile.left + (cols.start + cols.stop - 1) / 2.0
        if not (r_lo <= cy < r_hi and c_lo <= cx < c_hi):
            continue  # another tile's core holds it
        mask = local[window] == k
        top, left = tile.top + rows.start, tile.left + cols.start
        region = out[top : top + mask.shape[0], left : left + mask.shape[1]]
        take = mask & (region == 0)
        if 2 * np.count_nonzero(take) <= np.count_nonzero(mask):
            continue  # mostly written already: another tile's copy of it
        region[take] = len(firsts) + 1
        r, c = divmod(int(np.flatnonzero(take)[0]), take.shape[1])
        firsts.append((top + r) * width + left + c)


def _renumber(out: np.ndarray, firsts: list[int]) -> None:
    """Labels 1..N of ``out`` renumbered in order of first pixel (row-major), in place,
    a band of rows at a time."""
    if not firsts:
        return
    order = np.argsort(np.asarray(firsts, dtype=np.int64), kind="stable")
    lookup = np.zeros(len(firsts) + 1, dtype=out.dtype)
    lookup[order + 1] = np.arange(1, len(firsts) + 1, dtype=out.dtype)
    band = max(1, (1 << 22) // max(out.shape[1], 1))
    for r0 in range(0, out.shape[0], band):
        out[r0 : r0 + band] = lookup[out[r0 : r0 + band]]


def segment_tiles(
    segmenter: InstanceSegmenter,
    plane: LazyPlane,
    diameter: float,
    out: np.ndarray,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelCallback | None = None,
    done: int = 0,
) -> bool:
    """Label every object of ``plane`` tile by tile into ``out`` (see module docstring).

    Parameters
    ----------
    segmenter
        Gives the head's maps, the watershed and the settings (tile, tile_halo).
    plane
        The image, read one tile at a time.
    diameter
        Object diameter in image pixels.
    out
        (H, W) integer array of zeros, written in place (may be a ``numpy.memmap``).
    progress
        ``progress(done + i, done + n_tiles)`` after tile i.
    cancel
        Polled before each tile; True stops and keeps the objects of the tiles done.
    done
        Units of work reported before (e.g. the diameter probes).

    Returns
    -------
    bool
        True when cancelled before the last tile.
    """
    s = segmenter.settings
    h, w = out.shape
    grid = instance_grid((h, w), diameter, segmenter.head_diameter, s.tile, s.tile_halo)
    rows = _cores(sorted({t.top for t in grid.tiles}), grid.side, h)
    cols = _cores(sorted({t.left for t in grid.tiles}), grid.side, w)
    margin = diameter / 2.0
    firsts: list[int] = []
    cancelled = False
    for i, tile in enumerate(grid.tiles):
        if cancel is not None and cancel():
            cancelled = True
            break
        local = segmenter.segment_rgb(plane.region(*tile.slices), diameter)
        (r_lo, r_hi), (c_lo, c_hi) = rows[tile.top], cols[tile.left]
        core = (r_lo - margin, r_hi + margin, c_lo - margin, c_hi + margin)
        _keep_owned(local, tile, core, out, firsts)
        del local
        if progress is not None:
            progress(done + i + 1, done + len(grid))
    _renumber(out, firsts)
    return cancelled
