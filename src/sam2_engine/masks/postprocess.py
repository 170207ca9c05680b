"""Mask post-processing, boxes and stability scores.

Everything here runs on the CPU with numpy and scipy; functions that say so also take
torch tensors (on any device) and give back the same type, dtype and device.

Run-length encodings live in :mod:`sam2_engine.masks.rle` and label images in
:mod:`sam2_engine.masks.label_image`; their public names are re-exported here, so e.g.
``from sam2_engine.masks.postprocess import mask_to_rle, masks_to_label_image`` keeps working.

Conventions
-----------
* Arrays of masks or logits have shape ``(..., H, W)``: the last two axes are (row, col).
* Points and boxes use the SAM convention: ``(x, y)`` = (col, row) in pixels. Boxes are
  ``(x0, y0, x1, y1)`` with inclusive corners for :func:`masks_to_boxes`.
* Connectivity is 8-connectivity (diagonal neighbours touch) everywhere.
* A segmentation given as an RLE (uncompressed or COCO string) follows the COCO
  conventions described in :mod:`sam2_engine.masks.rle`.
* No function modifies its inputs.
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import torch
from scipy import ndimage

from sam2_engine.masks.label_image import label_image_to_masks, masks_to_label_image

# The RLE functions moved to sam2_engine.masks.rle; they are re-exported here (see __all__).
from sam2_engine.masks.rle import (
    coco_to_rle,
    mask_to_rle,
    rle_area,
    rle_to_coco,
    rle_to_mask,
)

__all__ = [
    "box_xyxy_to_xywh",
    "coco_to_rle",
    "fill_small_holes",
    "label_image_to_masks",
    "mask_to_rle",
    "masks_to_boxes",
    "masks_to_label_image",
    "remove_small_islands",
    "remove_small_regions",
    "rle_area",
    "rle_to_coco",
    "rle_to_mask",
    "stability_score",
]

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)

# 8-connectivity inside each (H, W) plane of an (N, H, W) stack, no links between planes.
_PLANEWISE_8 = np.zeros((3, 3, 3), dtype=bool)
_PLANEWISE_8[1] = True
_EIGHT = np.ones((3, 3), dtype=bool)

# Upper bound on the number of elements thresholded at once by stability_score.
_CHUNK_ELEMENTS = 1 << 24


# --------------------------------------------------------------------------------------
# Small-component post-processing of logits
# --------------------------------------------------------------------------------------


def _small_component_pixels(binary: np.ndarray, max_area: float) -> np.ndarray:
    """Pixels of (N, H, W) ``binary`` that lie in an 8-connected component of area <= max_area."""
    labels, n = ndimage.label(binary, structure=_PLANEWISE_8)
    if n == 0:
        return np.zeros(binary.shape, dtype=bool)
    is_small = np.bincount(labels.ravel(), minlength=n + 1) <= max_area
    is_small[0] = False  # label 0 is "not in binary"
    return is_small[labels]


def _check_logits(logits: Any, name: str) -> np.ndarray | torch.Tensor:
    if not isinstance(logits, torch.Tensor):
        logits = np.asarray(logits)
    if logits.ndim < 2:
        raise ValueError(
            f"{name} needs logits of shape (..., H, W), got shape {tuple(logits.shape)}; "
            "add the missing axes."
        )
    is_bool = logits.dtype in (torch.bool, np.bool_)
    if isinstance(logits, torch.Tensor):
        is_complex = logits.is_complex()
    else:
        is_complex = np.iscomplexobj(logits)
    if is_bool or is_complex:
        raise TypeError(
            f"{name} needs real-valued logits, got dtype {logits.dtype}; for boolean masks "
            "use remove_small_regions instead."
        )
    return logits


def _replace_small_components(
    logits: ArrayT, max_area: float, threshold: float, fill_value: float, foreground: bool
) -> ArrayT:
    h, w = logits.shape[-2:]
    binary = logits > threshold if foreground else logits <= threshold
    if isinstance(binary, torch.Tensor):
        binary = binary.reshape(-1, h, w).cpu().numpy()
    small = _small_component_pixels(binary.reshape(-1, h, w), max_area).reshape(logits.shape)
    if isinstance(logits, torch.Tensor):
        small_t = torch.from_numpy(small).to(logits.device)
        fill = torch.tensor(fill_value, dtype=logits.dtype, device=logits.device)
        return torch.where(small_t, fill, logits)
    out = logits.copy()
    out[small] = fill_value
    return out


def _copy(array: ArrayT) -> ArrayT:
    return array.clone() if isinstance(array, torch.Tensor) else array.copy()


def _is_empty(array: np.ndarray | torch.Tensor) -> bool:
    return (array.numel() if isinstance(array, torch.Tensor) else array.size) == 0


def fill_small_holes(
    logits: ArrayT, max_area: float, threshold: float = 0.0, fill_value: float | None = None
) -> ArrayT:
    """Turn small background regions of mask logits into foreground.

    A background region is an 8-connected component of pixels with ``logits <= threshold``
    in one (H, W) plane. Every such region whose area is ``<= max_area`` pixels is set to
    ``fill_value``, including a region that touches the image border (the SAM 2 rule: a
    small background patch in a corner counts as a hole too).

    Parameters
    ----------
    logits : numpy.ndarray or torch.Tensor, shape (..., H, W)
        Mask logits, axes (..., row, col). Each (H, W) plane is processed on its own.
    max_area : float
        Largest hole area, in pixels, that is filled. ``max_area <= 0`` disables filling.
    threshold : float
        Logit threshold separating background (``<= threshold``) from foreground.
    fill_value : float, optional
        Value written into filled holes; defaults to ``threshold + 10.0``.

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (..., H, W)
        A new array of the input's type, dtype and device.

    Examples
    --------
    >>> ring = -np.ones((5, 5), np.float32)
    >>> ring[1:4, 1:4] = 1.0
    >>> ring[2, 2] = -1.0
    >>> out = fill_small_holes(ring, max_area=1)
    >>> float(out[2, 2]), float(out[0, 0])
    (10.0, -1.0)
    """
    logits = _check_logits(logits, "fill_small_holes")
    if max_area <= 0 or _is_empty(logits):
        return _copy(logits)
    fill = threshold + 10.0 if fill_value is None else fill_value
    return _replace_small_components(logits, max_area, threshold, fill, foreground=False)


def remove_small_islands(
    logits: ArrayT, max_area: float, threshold: float = 0.0, fill_value: float | None = None
) -> ArrayT:
    """Turn small foreground regions ("sprinkles") of mask logits into background.

    The mirror image of :func:`fill_small_holes`, with the same parameters and result: a
    foreground region is an 8-connected component of pixels with ``logits > threshold`` in
    one (H, W) plane; every one whose area is ``<= max_area`` pixels (``max_area <= 0``
    removes none) is set to ``fill_value``, by default ``threshold - 10.0``.
    """
    logits = _check_logits(logits, "remove_small_islands")
    if max_area <= 0 or _is_empty(logits):
        return _copy(logits)
    fill = threshold - 10.0 if fill_value is None else fill_value
    return _replace_small_components(logits, max_area, threshold, fill, foreground=True)


def remove_small_regions(
    mask: np.ndarray, area_thresh: float, mode: str
) -> tuple[np.ndarray, bool]:
    """Fill small holes in, or remove small islands from, one boolean mask.

    This is the rule of the automatic mask generator. Components are 8-connected and
    "small" means an area strictly below ``area_thresh`` pixels.

    * ``mode="holes"``: every small background component is set to True, whether it is
      enclosed or touches the border.
    * ``mode="islands"``: every small foreground component is set to False; when *all*
      foreground components are small, the largest one is kept (the first one in raster
      order on ties), so the mask never becomes empty this way.

    Parameters
    ----------
    mask : numpy.ndarray of bool, shape (H, W)
        The mask, axes (row, col).
    area_thresh : float
        Components with fewer pixels than this are small.
    mode : {"holes", "islands"}
        What to clean up.

    Returns
    -------
    mask : numpy.ndarray of bool, shape (H, W)
        A new mask.
    changed : bool
        True when at least one small component was found (the mask may still be equal to
        the input in the "islands" case where the largest small component is kept).
    """
    if mode not in ("holes", "islands"):
        raise ValueError(f"mode must be 'holes' or 'islands', got {mode!r}.")
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(
            f"remove_small_regions needs one (H, W) mask, got shape {mask.shape}; "
            "call it once per mask."
        )
    mask = mask.astype(bool, copy=True)
    holes = mode == "holes"
    labels, n = ndimage.label(~mask if holes else mask, structure=_EIGHT)
    areas = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    small = areas < area_thresh
    if not small.any():
        return mask, False
    if holes:
        return mask | np.concatenate([[False], small])[labels], True
    keep = ~small
    if not keep.any():
        keep[np.argmax(areas)] = True
    return np.concatenate([[False], keep])[labels], True


# --------------------------------------------------------------------------------------
# Boxes and stability
# --------------------------------------------------------------------------------------


def _extent_numpy(occupied: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = occupied.shape[-1]
    index = np.arange(n)
    first = np.where(occupied, index, n).min(-1)
    last = np.where(occupied, index, -1).max(-1)
    empty = last < 0
    return np.where(empty, 0, first), np.where(empty, 0, last)


def _extent_torch(occupied: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    n = occupied.shape[-1]
    index = torch.arange(n, device=occupied.device)
    first = torch.where(occupied, index, n).amin(-1)
    last = torch.where(occupied, index, -1).amax(-1)
    empty = last < 0
    return first.masked_fill(empty, 0), last.masked_fill(empty, 0)


def masks_to_boxes(masks: ArrayT, *, inclusive: bool = True) -> ArrayT:
    """Tight boxes around masks, ``(x0, y0, x1, y1)``: the one mask-to-box rule.

    Parameters
    ----------
    masks : numpy.ndarray or torch.Tensor, shape (..., H, W)
        Masks, axes (..., row, col); any nonzero value counts as inside.
    inclusive : bool
        True (the reference's convention, used by the automatic generator and prompt
        simulation): ``x1``/``y1`` are the last column/row that contain the mask, so the
        width is ``x1 - x0 + 1``. False: pixel edges, ``x1``/``y1`` one past the last
        column/row (width ``x1 - x0``; a slice ``[y0:y1, x0:x1]`` holds the mask, and a box
        prompt drawn around the pixels has these corners).

    Returns
    -------
    numpy.ndarray or torch.Tensor of int64, shape (..., 4)
        ``x`` is the column, ``y`` the row. An empty mask gives ``[0, 0, 0, 0]`` (both
        conventions), as in the reference. Same type and device as ``masks``.

    Examples
    --------
    >>> m = np.zeros((4, 6), bool)
    >>> m[1:3, 2:5] = True
    >>> masks_to_boxes(m).tolist()
    [2, 1, 4, 2]
    >>> masks_to_boxes(m, inclusive=False).tolist()
    [2, 1, 5, 3]
    """
    is_torch = isinstance(masks, torch.Tensor)
    if not is_torch:
        masks = np.asarray(masks)
    if masks.ndim < 2:
        raise ValueError(
            f"masks_to_boxes needs masks of shape (..., H, W), got {tuple(masks.shape)}."
        )
    lead, (h, w) = tuple(masks.shape[:-2]), masks.shape[-2:]
    if is_torch:
        if h == 0 or w == 0:
            return torch.zeros(*lead, 4, dtype=torch.int64, device=masks.device)
        inside = masks if masks.dtype == torch.bool else masks != 0
        cols, rows = inside.any(-2), inside.any(-1)
        x0, x1 = _extent_torch(cols)
        y0, y1 = _extent_torch(rows)
        if not inclusive:
            filled = cols.any(-1).to(x1.dtype)
            x1, y1 = x1 + filled, y1 + filled
        return torch.stack([x0, y0, x1, y1], dim=-1).to(torch.int64)
    if h == 0 or w == 0:
        return np.zeros((*lead, 4), dtype=np.int64)
    inside = masks if masks.dtype == bool else masks != 0
    cols, rows = inside.any(-2), inside.any(-1)
    x0, x1 = _extent_numpy(cols)
    y0, y1 = _extent_numpy(rows)
    if not inclusive:
        filled = cols.any(-1)
        x1, y1 = x1 + filled, y1 + filled
    return np.stack([x0, y0, x1, y1], axis=-1).astype(np.int64)


def box_xyxy_to_xywh(boxes: ArrayT) -> ArrayT:
    """Convert boxes from ``(x0, y0, x1, y1)`` to ``(x0, y0, width, height)``.

    Parameters
    ----------
    boxes : numpy.ndarray, torch.Tensor or sequence, shape (..., 4)
        Boxes along the last axis. Width and height are ``x1 - x0`` and ``y1 - y0``
        (the reference's rule; add 1 yourself for inclusive boxes if you need pixel counts).

    Returns
    -------
    Same type as ``boxes`` (a list for a sequence), shape (..., 4).
    """
    is_torch = isinstance(boxes, torch.Tensor)
    out = boxes.clone() if is_torch else np.array(boxes, copy=True)
    if out.shape[-1:] != (4,):
        raise ValueError(f"boxes need 4 values on the last axis, got shape {tuple(out.shape)}.")
    out[..., 2:] = out[..., 2:] - out[..., :2]
    return out if is_torch or isinstance(boxes, np.ndarray) else out.tolist()


def stability_score(logits: ArrayT, threshold: float, offset: float) -> ArrayT:
    """How little a mask changes when its logit threshold moves by ``offset``.

    The score is ``|logits > threshold + offset| / |logits > threshold - offset|``, the IoU
    of the two binarised masks (for ``offset >= 0`` the first is inside the second). The
    pixel counts are taken a few masks at a time, so no large temporary array is built.

    Parameters
    ----------
    logits : numpy.ndarray or torch.Tensor, shape (..., H, W)
        Mask logits, axes (..., row, col).
    threshold, offset : float
        Binarisation threshold and the shift applied to it in both directions.

    Returns
    -------
    numpy.ndarray or torch.Tensor of float32, shape (...)
        The score per mask; NaN where the looser mask is empty (as in the reference, so
        that a ``score >= limit`` filter drops such masks).
    """
    logits = _check_logits(logits, "stability_score")
    lead, (h, w) = tuple(logits.shape[:-2]), logits.shape[-2:]
    flat = logits.reshape(-1, h, w)
    step = max(1, _CHUNK_ELEMENTS // max(1, h * w))
    if isinstance(flat, torch.Tensor):
        inter, union = [], []
        for chunk in flat.split(step):
            inter.append(torch.count_nonzero(chunk > threshold + offset, dim=(-2, -1)))
            union.append(torch.count_nonzero(chunk > threshold - offset, dim=(-2, -1)))
        num = torch.cat(inter) if inter else flat.new_zeros(0, dtype=torch.int64)
        den = torch.cat(union) if union else flat.new_zeros(0, dtype=torch.int64)
        return (num.to(torch.float32) / den.to(torch.float32)).reshape(lead)
    num = np.zeros(flat.shape[0], dtype=np.int64)
    den = np.zeros(flat.shape[0], dtype=np.int64)
    for start in range(0, flat.shape[0], step):
        chunk = flat[start : start + step]
        num[start : start + step] = np.count_nonzero(chunk > threshold + offset, axis=(-2, -1))
        den[start : start + step] = np.count_nonzero(chunk > threshold - offset, axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return (num.astype(np.float32) / den.astype(np.float32)).reshape(lead)
