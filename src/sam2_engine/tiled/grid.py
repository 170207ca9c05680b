"""Tile size, halo and the tile-or-resize decision; the grid of overlapping tiles.

Coordinates: tiles are ``(top, left, side)`` in image pixels, (row, col) order; points
are the engine's (x, y) = (col, row).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["Tile", "TileGrid", "TilingSettings"]


@dataclass(frozen=True)
class TilingSettings:
    """When and how an image is tiled for a whole-image model.

    Attributes
    ----------
    mode : {"auto", "tile", "resize"}
        ``"resize"``: squash the image into the model input (the official behaviour).
        ``"tile"``: always tile an image larger than one tile. ``"auto"`` (default): tile
        when the image's longer side exceeds ``resize_limit`` x the model input (squashing
        would shrink objects more than that factor) and ``min_side`` pixels (images up
        to 2,048 px are decoded whole, as the official predictor does).
    tile : int or None
        Tile side in image pixels; None: the model input side (pixels seen 1:1).
    halo : int or None
        Pixels each tile shares with its neighbour on each side (neighbours overlap by
        ``2 * halo``). An object up to ``2 * halo`` across lies whole inside some tile.
        None: ``tile // 8`` (128 px for a 1024 model: nuclei and cells of a 20x-40x
        image fit).
    resize_limit : float
        The ``"auto"`` threshold (see ``mode``).
    min_side : int
        ``"auto"`` never tiles an image whose longer side is at most this.
    """

    mode: Literal["auto", "tile", "resize"] = "auto"
    tile: int | None = None
    halo: int | None = None
    resize_limit: float = 2.0
    min_side: int = 2048

    def __post_init__(self) -> None:
        if self.mode not in ("auto", "tile", "resize"):
            raise ValueError(
                f"tiling mode {self.mode!r} is unknown; use 'auto', 'tile' or 'resize'"
            )
        if self.tile is not None and self.tile < 16:
            raise ValueError(f"tile={self.tile} is too small; give at least 16 pixels")
        if self.resize_limit < 1:
            raise ValueError(f"resize_limit={self.resize_limit} must be at least 1")

    def tile_side(self, model_input: int) -> int:
        return int(self.tile or model_input)

    def halo_px(self, model_input: int) -> int:
        side = self.tile_side(model_input)
        halo = side // 8 if self.halo is None else int(self.halo)
        if not 0 <= halo < side // 2:
            raise ValueError(f"halo={halo} must be in [0, tile/2) for tiles of {side} px")
        return halo

    def should_tile(self, image_hw: tuple[int, int], model_input: int) -> bool:
        """Whether an image of ``image_hw`` (rows, cols) is tiled rather than resized."""
        longest = max(image_hw)
        if self.mode == "resize" or longest <= self.tile_side(model_input):
            return False
        if self.mode == "tile":
            return True
        return longest > max(self.resize_limit * model_input, self.min_side)


@dataclass(frozen=True)
class Tile:
    """A square tile of the image: rows ``top:top+side``, cols ``left:left+side``
    (clipped to the image where the image is smaller)."""

    top: int
    left: int
    height: int
    width: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.top + self.height), slice(self.left, self.left + self.width)


class TileGrid:
    """Overlapping tiles covering an (H, W) image; neighbours share ``2 * halo`` pixels.

    Parameters
    ----------
    image_hw
        (H, W) of the image.
    side
        Tile side in pixels.
    halo
        See :class:`TilingSettings`.
    """

    def __init__(self, image_hw: tuple[int, int], side: int, halo: int) -> None:
        self.image_hw = (int(image_hw[0]), int(image_hw[1]))
        self.side, self.halo = int(side), int(halo)
        rows = _starts(self.image_hw[0], self.side, 2 * self.halo)
        cols = _starts(self.image_hw[1], self.side, 2 * self.halo)
        h, w = self.image_hw
        self.tiles = [
            Tile(r, c, min(self.side, h - r), min(self.side, w - c)) for r in rows for c in cols
        ]

    def __len__(self) -> int:
        return len(self.tiles)

    def inner_edges(self, tile: Tile) -> tuple[bool, bool, bool, bool]:
        """(top, bottom, left, right): whether each edge lies inside the image."""
        h, w = self.image_hw
        return (
            tile.top > 0,
            tile.top + tile.height < h,
            tile.left > 0,
            tile.left + tile.width < w,
        )

    def best_for(self, box_xyxy: np.ndarray) -> int:
        """Index of the tile that holds a prompt's box ``(x0, y0, x1, y1)`` best: the one
        where its distance to the nearest inner edge is largest."""
        x0, y0, x1, y1 = (float(v) for v in box_xyxy)
        best, score = 0, -np.inf
        for i, t in enumerate(self.tiles):
            top, bottom, left, right = self.inner_edges(t)
            margins = [
                y0 - t.top if top else np.inf,
                t.top + t.height - y1 if bottom else np.inf,
                x0 - t.left if left else np.inf,
                t.left + t.width - x1 if right else np.inf,
            ]
            m = min(margins)
            if m > score:
                best, score = i, m
        return best

    def neighbours(self, index: int) -> list[int]:
        """Tiles that overlap tile ``index`` (itself excluded)."""
        a = self.tiles[index]
        out = []
        for i, b in enumerate(self.tiles):
            if (
                i != index
                and _overlap(a.top, a.height, b.top, b.height)
                and _overlap(a.left, a.width, b.left, b.width)
            ):
                out.append(i)
        return out


def _overlap(a0: int, alen: int, b0: int, blen: int) -> bool:
    return a0 < b0 + blen and b0 < a0 + alen


def _starts(length: int, side: int, overlap: int) -> list[int]:
    """Tile starts along one axis: evenly spread, neighbours overlapping by >= overlap."""
    if length <= side:
        return [0]
    step = side - overlap
    n = int(np.ceil((length - side) / step)) + 1
    return sorted({round(v) for v in np.linspace(0, length - side, n)})
