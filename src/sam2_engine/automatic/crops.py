"""Point grids and crop boxes for the automatic mask generator.

The generator prompts the model with a regular grid of points, on the whole image and
optionally on overlapping crops of it ("crop layers"); the helpers here build those
grids and boxes and map crop-local results back to the full image.

Conventions
-----------
* Points are ``(x, y)`` = (col, row), boxes are ``(x0, y0, x1, y1)`` (the SAM convention).
  Crop boxes are in pixels with an exclusive end: the crop is ``image[y0:y1, x0:x1]``.
* Image sizes are given as ``(H, W)``; masks have shape ``(..., H, W)``, axes (row, col).
* Functions that take torch tensors or numpy arrays give back the same type.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import numpy as np
import torch

__all__ = [
    "batch_iterator",
    "box_near_crop_edge",
    "crop_boxes",
    "point_grid",
    "point_grids_per_layer",
    "uncrop_boxes",
    "uncrop_masks",
    "uncrop_points",
    "unskipped_points",
]

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


def point_grid(n_per_side: int) -> np.ndarray:
    """A regular ``n_per_side`` x ``n_per_side`` grid of points in the unit square.

    The square is cut into equal cells and each point sits at a cell centre, so the
    outermost points are half a cell away from the border.

    Parameters
    ----------
    n_per_side : int
        Number of points along each side (>= 1).

    Returns
    -------
    numpy.ndarray of float64, shape (n_per_side**2, 2)
        Normalised ``(x, y)`` points in (0, 1), ``x`` varying fastest (row by row).

    Examples
    --------
    >>> point_grid(2).tolist()
    [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]]
    """
    if int(n_per_side) != n_per_side or n_per_side < 1:
        raise ValueError(f"n_per_side must be a positive integer, got {n_per_side!r}.")
    n = int(n_per_side)
    half_cell = 1 / (2 * n)
    centres = np.linspace(half_cell, 1 - half_cell, n)
    xs, ys = np.meshgrid(centres, centres, indexing="xy")
    return np.stack([xs.ravel(), ys.ravel()], axis=-1)


def point_grids_per_layer(n_per_side: int, n_layers: int, scale_per_layer: int) -> list[np.ndarray]:
    """One point grid for the full image and one for each crop layer.

    Layer ``i`` (0 = full image) uses ``int(n_per_side / scale_per_layer**i)`` points per
    side, so the smaller crops of deeper layers are not sampled more densely than needed.

    Parameters
    ----------
    n_per_side : int
        Points per side on the full image.
    n_layers : int
        Number of crop layers (>= 0); ``n_layers + 1`` grids are returned.
    scale_per_layer : int
        Factor by which the points per side shrink from one layer to the next.

    Returns
    -------
    list of numpy.ndarray, each of shape (n_i**2, 2)
        Normalised ``(x, y)`` grids, see :func:`point_grid`.
    """
    if n_layers < 0:
        raise ValueError(f"n_layers must be >= 0, got {n_layers}.")
    grids = []
    for layer in range(n_layers + 1):
        n = int(n_per_side / (scale_per_layer**layer))
        if n < 1:
            raise ValueError(
                f"crop layer {layer} would get {n} points per side (n_per_side={n_per_side}, "
                f"scale_per_layer={scale_per_layer}); use fewer layers or a smaller scale."
            )
        grids.append(point_grid(n))
    return grids


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def crop_boxes(
    image_hw: Sequence[int], n_layers: int, overlap_ratio: float
) -> tuple[list[list[int]], list[int]]:
    """Crop boxes of all layers: the whole image, then 2x2, 4x4, ... overlapping tiles.

    Layer ``i >= 1`` tiles the image with ``2**i`` crops per side. Neighbouring crops
    overlap by ``int(overlap_ratio * short_side * 2 / 2**i)`` pixels, where ``short_side``
    is the shorter image side; every crop of a layer has the same size (clipped at the
    image's right and bottom edges).

    Parameters
    ----------
    image_hw : (int, int)
        Image size ``(H, W)``.
    n_layers : int
        Number of crop layers after the full image (>= 0).
    overlap_ratio : float
        Overlap of neighbouring crops relative to the shorter side of a layer-1 crop grid.

    Returns
    -------
    boxes : list of [x0, y0, x1, y1]
        Crop boxes in pixels, end exclusive; ``boxes[0]`` is ``[0, 0, W, H]``. Within a
        layer the boxes go column by column (x outer, y inner).
    layer_idxs : list of int
        The layer of each box (0 for the full image).
    """
    if len(image_hw) != 2:
        raise ValueError(f"image_hw must be (H, W), got {image_hw!r}.")
    if n_layers < 0:
        raise ValueError(f"n_layers must be >= 0, got {n_layers}.")
    im_h, im_w = (int(v) for v in image_hw)
    short_side = min(im_h, im_w)
    boxes, layers = [[0, 0, im_w, im_h]], [0]
    for layer in range(1, n_layers + 1):
        per_side = 2**layer
        overlap = int(overlap_ratio * short_side * (2 / per_side))
        # Equal crops that together with (per_side - 1) overlaps cover the whole side.
        crop_w = _ceil_div(overlap * (per_side - 1) + im_w, per_side)
        crop_h = _ceil_div(overlap * (per_side - 1) + im_h, per_side)
        for x0 in ((crop_w - overlap) * k for k in range(per_side)):
            for y0 in ((crop_h - overlap) * k for k in range(per_side)):
                boxes.append([x0, y0, min(x0 + crop_w, im_w), min(y0 + crop_h, im_h)])
                layers.append(layer)
    return boxes, layers


def _offset_like(values: ArrayT, offset: list[int]) -> ArrayT:
    if isinstance(values, torch.Tensor):
        return values + torch.tensor(offset, dtype=values.dtype, device=values.device)
    values = np.asarray(values)
    return values + np.asarray(offset, dtype=values.dtype)


def uncrop_boxes(boxes: ArrayT, crop_box: Sequence[int]) -> ArrayT:
    """Move ``(x0, y0, x1, y1)`` boxes from crop coordinates to image coordinates.

    Parameters
    ----------
    boxes : numpy.ndarray or torch.Tensor, shape (..., 4)
        Boxes relative to the crop's top-left corner.
    crop_box : [x0, y0, x1, y1]
        The crop, in image pixels.

    Returns
    -------
    Same type and dtype as ``boxes``, shape (..., 4).
    """
    x0, y0 = int(crop_box[0]), int(crop_box[1])
    return _offset_like(boxes, [x0, y0, x0, y0])


def uncrop_points(points: ArrayT, crop_box: Sequence[int]) -> ArrayT:
    """Move ``(x, y)`` points of shape (..., 2) from crop coordinates to image coordinates."""
    return _offset_like(points, [int(crop_box[0]), int(crop_box[1])])


def uncrop_masks(masks: ArrayT, crop_box: Sequence[int], orig_h: int, orig_w: int) -> ArrayT:
    """Place crop-sized masks into full-image masks, padding with False/0.

    Parameters
    ----------
    masks : numpy.ndarray or torch.Tensor, shape (..., y1 - y0, x1 - x0)
        Masks of the crop, axes (..., row, col).
    crop_box : [x0, y0, x1, y1]
        The crop, in image pixels (end exclusive).
    orig_h, orig_w : int
        Full image size.

    Returns
    -------
    Same type as ``masks``, shape (..., orig_h, orig_w). When the crop is the whole
    image, ``masks`` itself is returned.
    """
    x0, y0, x1, y1 = (int(v) for v in crop_box)
    if masks.shape[-2:] != (y1 - y0, x1 - x0):
        raise ValueError(
            f"masks of shape {tuple(masks.shape)} do not fit crop_box {list(crop_box)} "
            f"(expected (..., {y1 - y0}, {x1 - x0}))."
        )
    if (x0, y0, x1, y1) == (0, 0, orig_w, orig_h):
        return masks
    if x0 < 0 or y0 < 0 or x1 > orig_w or y1 > orig_h:
        raise ValueError(f"crop_box {list(crop_box)} lies outside a {orig_h}x{orig_w} image.")
    left, right, top, bottom = x0, orig_w - x1, y0, orig_h - y1
    if isinstance(masks, torch.Tensor):
        return torch.nn.functional.pad(masks, (left, right, top, bottom), value=0)
    pad = [(0, 0)] * (masks.ndim - 2) + [(top, bottom), (left, right)]
    return np.pad(masks, pad, constant_values=0)


def box_near_crop_edge(
    boxes: ArrayT, crop_box: Sequence[int], orig_box: Sequence[int], atol: float = 20.0
) -> ArrayT:
    """Which boxes touch a crop's edge where that edge is not also the image's edge.

    A mask cut off by the crop boundary is unreliable; one that merely reaches the image
    border is fine. A box side counts as "at" an edge when it is within ``atol`` pixels.

    Parameters
    ----------
    boxes : numpy.ndarray or torch.Tensor, shape (N, 4)
        ``(x0, y0, x1, y1)`` boxes in crop coordinates.
    crop_box : [x0, y0, x1, y1]
        The crop, in image pixels.
    orig_box : [x0, y0, x1, y1]
        The full image, usually ``[0, 0, W, H]``.
    atol : float
        Tolerance in pixels.

    Returns
    -------
    numpy.ndarray or torch.Tensor of bool, shape (N,)
    """
    if boxes.ndim != 2 or boxes.shape[-1] != 4:
        raise ValueError(f"boxes must have shape (N, 4), got {tuple(boxes.shape)}.")
    if isinstance(boxes, torch.Tensor):
        image_boxes = uncrop_boxes(boxes, crop_box).float()
        crop = torch.tensor(crop_box, dtype=torch.float32, device=boxes.device)
        orig = torch.tensor(orig_box, dtype=torch.float32, device=boxes.device)
        at_crop = (image_boxes - crop).abs() <= atol
        at_image = (image_boxes - orig).abs() <= atol
        return (at_crop & ~at_image).any(dim=1)
    image_boxes = uncrop_boxes(np.asarray(boxes), crop_box).astype(np.float64)
    at_crop = np.abs(image_boxes - np.asarray(crop_box, dtype=np.float64)) <= atol
    at_image = np.abs(image_boxes - np.asarray(orig_box, dtype=np.float64)) <= atol
    return (at_crop & ~at_image).any(axis=1)


def batch_iterator(batch_size: int, *arrays: Any) -> Iterator[list[Any]]:
    """Walk through equally long sequences in step, ``batch_size`` items at a time.

    Parameters
    ----------
    batch_size : int
        Items per batch (>= 1); the last batch may be shorter.
    *arrays
        Sequences (lists, numpy arrays, tensors) of the same length.

    Yields
    ------
    list
        ``[a[start:stop] for a in arrays]`` for consecutive slices.

    Examples
    --------
    >>> [b for b in batch_iterator(2, [1, 2, 3], "abc")]
    [[[1, 2], 'ab'], [[3], 'c']]
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    if not arrays:
        raise ValueError("batch_iterator needs at least one sequence to iterate over.")
    n = len(arrays[0])
    lengths = [len(a) for a in arrays]
    if any(length != n for length in lengths):
        raise ValueError(f"all sequences must have the same length, got lengths {lengths}.")
    for start in range(0, n, batch_size):
        yield [a[start : start + batch_size] for a in arrays]


def unskipped_points(
    boxes: list, grids: list[np.ndarray], skip: np.ndarray
) -> tuple[list, list[np.ndarray]]:
    """Drop the grid points that fall on skipped pixels.

    Parameters
    ----------
    boxes
        Crop boxes ``(x0, y0, x1, y1)``, image pixels.
    grids
        Per crop, (N, 2) ``(x, y)`` points in crop pixels.
    skip
        (H, W) bool, True where no point may prompt.

    Returns
    -------
    boxes, grids
        The crops that keep at least one point, and their kept points.
    """
    h, w = skip.shape
    kept_boxes, kept_grids = [], []
    for box, points in zip(boxes, grids, strict=True):
        cols = np.clip((points[:, 0] + box[0]).astype(int), 0, w - 1)
        rows = np.clip((points[:, 1] + box[1]).astype(int), 0, h - 1)
        keep = ~skip[rows, cols]
        if keep.any():
            kept_boxes.append(box)
            kept_grids.append(points[keep])
    return kept_boxes, kept_grids
