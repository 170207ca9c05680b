"""Mask post-processing, boxes, run-length encodings and label images.

Everything here runs on the CPU with numpy and scipy; functions that say so also take
torch tensors (on any device) and give back the same type, dtype and device.

Conventions
-----------
* Arrays of masks or logits have shape ``(..., H, W)``: the last two axes are (row, col).
* Points and boxes use the SAM convention: ``(x, y)`` = (col, row) in pixels. Boxes are
  ``(x0, y0, x1, y1)`` with inclusive corners for :func:`masks_to_boxes`.
* Connectivity is 8-connectivity (diagonal neighbours touch) everywhere.
* Run-length encodings (RLE) follow COCO: the mask is read in column-major (Fortran)
  order and the run lengths alternate zeros, ones, zeros, ..., starting with zeros
  (so the first count is 0 when the first pixel is set).
* No function modifies its inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import torch
from scipy import ndimage

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

    A foreground region is an 8-connected component of pixels with ``logits > threshold``
    in one (H, W) plane; every one whose area is ``<= max_area`` pixels is set to
    ``fill_value``.

    Parameters
    ----------
    logits : numpy.ndarray or torch.Tensor, shape (..., H, W)
        Mask logits, axes (..., row, col). Each (H, W) plane is processed on its own.
    max_area : float
        Largest island area, in pixels, that is removed. ``max_area <= 0`` disables removal.
    threshold : float
        Logit threshold separating background (``<= threshold``) from foreground.
    fill_value : float, optional
        Value written into removed islands; defaults to ``threshold - 10.0``.

    Returns
    -------
    numpy.ndarray or torch.Tensor, shape (..., H, W)
        A new array of the input's type, dtype and device.
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


def masks_to_boxes(masks: ArrayT) -> ArrayT:
    """Tight boxes around masks, ``(x0, y0, x1, y1)`` with inclusive pixel corners.

    Parameters
    ----------
    masks : numpy.ndarray or torch.Tensor, shape (..., H, W)
        Masks, axes (..., row, col); any nonzero value counts as inside.

    Returns
    -------
    numpy.ndarray or torch.Tensor of int64, shape (..., 4)
        ``x`` is the column, ``y`` the row; ``x1``/``y1`` are the last column/row that
        contain the mask (so the width is ``x1 - x0 + 1``). An empty mask gives
        ``[0, 0, 0, 0]``, as in the reference. Same type and device as ``masks``.

    Examples
    --------
    >>> m = np.zeros((4, 6), bool)
    >>> m[1:3, 2:5] = True
    >>> masks_to_boxes(m).tolist()
    [2, 1, 4, 2]
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
        x0, x1 = _extent_torch(inside.any(-2))
        y0, y1 = _extent_torch(inside.any(-1))
        return torch.stack([x0, y0, x1, y1], dim=-1).to(torch.int64)
    if h == 0 or w == 0:
        return np.zeros((*lead, 4), dtype=np.int64)
    inside = masks if masks.dtype == bool else masks != 0
    x0, x1 = _extent_numpy(inside.any(-2))
    y0, y1 = _extent_numpy(inside.any(-1))
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


# --------------------------------------------------------------------------------------
# Run-length encoding (COCO conventions)
# --------------------------------------------------------------------------------------


def mask_to_rle(masks: np.ndarray | torch.Tensor) -> list[dict[str, Any]]:
    """Encode masks as uncompressed COCO run-length encodings.

    Parameters
    ----------
    masks : numpy.ndarray or torch.Tensor of bool, shape (N, H, W)
        Masks, axes (mask, row, col); nonzero counts as set. A tensor is scanned on its
        own device and only the run boundaries are copied to the CPU.

    Returns
    -------
    list of dict
        One ``{"size": [H, W], "counts": [int, ...]}`` per mask. Counts are run lengths
        over the column-major pixel order, starting with a run of zeros.

    Examples
    --------
    >>> m = np.array([[[0, 1], [1, 1]]], bool)
    >>> mask_to_rle(m)
    [{'size': [2, 2], 'counts': [1, 3]}]
    """
    if not isinstance(masks, torch.Tensor):
        masks = np.asarray(masks)
    if masks.ndim != 3:
        raise ValueError(
            f"mask_to_rle needs masks of shape (N, H, W), got {tuple(masks.shape)}; "
            "use masks[None] for a single mask."
        )
    n, h, w = masks.shape
    if isinstance(masks, torch.Tensor):
        flat = (masks != 0).transpose(1, 2).reshape(n, h * w)
        which, where = (flat[:, 1:] != flat[:, :-1]).nonzero(as_tuple=True)
        which, where = which.cpu().numpy(), where.cpu().numpy()
        first = flat[:, 0].cpu().numpy() if h * w else np.zeros(n, dtype=bool)
    else:
        flat = (masks != 0).transpose(0, 2, 1).reshape(n, h * w)
        which, where = np.nonzero(flat[:, 1:] != flat[:, :-1])
        first = flat[:, 0] if h * w else np.zeros(n, dtype=bool)
    # Change points come sorted by mask, so each mask's slice is found by a binary search.
    bounds = np.searchsorted(which, np.arange(n + 1))
    out = []
    for i in range(n):
        edges = np.concatenate([[0], where[bounds[i] : bounds[i + 1]] + 1, [h * w]])
        counts = np.diff(edges).tolist()
        if first[i]:
            counts.insert(0, 0)
        out.append({"size": [int(h), int(w)], "counts": counts})
    return out


def _rle_size(rle: Mapping[str, Any]) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in rle["size"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"an RLE needs a 'size': [H, W] entry, got {rle.get('size')!r}.") from err
    return h, w


def _rle_counts(rle: Mapping[str, Any]) -> list[int]:
    """Run lengths of an uncompressed or COCO-compressed RLE."""
    counts = rle.get("counts")
    if isinstance(counts, (str, bytes)):
        return _decode_counts(counts)
    if counts is None:
        raise ValueError("an RLE needs a 'counts' entry (a list of ints or a COCO string).")
    return [int(c) for c in counts]


def rle_to_mask(rle: Mapping[str, Any]) -> np.ndarray:
    """Decode a COCO run-length encoding (uncompressed or compressed) into a mask.

    Parameters
    ----------
    rle : dict
        ``{"size": [H, W], "counts": ...}`` with counts a list of ints or a COCO string.

    Returns
    -------
    numpy.ndarray of bool, shape (H, W)
        The mask, axes (row, col), C-contiguous.
    """
    h, w = _rle_size(rle)
    counts = np.asarray(_rle_counts(rle), dtype=np.int64)
    if (counts < 0).any() or counts.sum() != h * w:
        raise ValueError(
            f"RLE counts must be non-negative and add up to H*W = {h * w}, "
            f"got a sum of {int(counts.sum())}; the RLE does not match its size."
        )
    values = np.arange(counts.size) % 2 == 1
    column_major = np.repeat(values, counts)
    return np.ascontiguousarray(column_major.reshape(w, h).T)


def rle_area(rle: Mapping[str, Any]) -> int:
    """Number of set pixels of a COCO RLE (uncompressed or compressed), without decoding it."""
    return int(sum(_rle_counts(rle)[1::2]))


def _encode_counts(counts: Sequence[int]) -> str:
    """COCO's text form of run lengths.

    From the fourth count on, each count is stored as its difference to the count two
    places before. Every (signed) number is written in groups of 5 bits, least significant
    first; each group becomes one character ``chr(48 + group)`` with bit 0x20 set when more
    groups follow. The last group's bit 0x10 is the sign.
    """
    chars = []
    for i, count in enumerate(counts):
        value = int(count) - int(counts[i - 2]) if i > 2 else int(count)
        while True:
            group = value & 0x1F
            value >>= 5  # arithmetic shift: negative numbers end at -1
            done = value == (-1 if group & 0x10 else 0)
            chars.append(chr(48 + (group if done else group | 0x20)))
            if done:
                break
    return "".join(chars)


def _decode_counts(text: str | bytes) -> list[int]:
    """Inverse of :func:`_encode_counts`."""
    if isinstance(text, bytes):
        text = text.decode("ascii")
    counts: list[int] = []
    pos = 0
    while pos < len(text):
        value, shift = 0, 0
        while True:
            if pos >= len(text):
                raise ValueError("the COCO RLE string ends in the middle of a number.")
            group = ord(text[pos]) - 48
            if not 0 <= group < 64:
                raise ValueError(
                    f"character {text[pos]!r} at {pos} is not part of a COCO RLE string."
                )
            pos += 1
            value |= (group & 0x1F) << shift
            shift += 5
            if not group & 0x20:
                if group & 0x10:
                    value |= -1 << shift  # sign-extend
                break
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def rle_to_coco(rle: Mapping[str, Any]) -> dict[str, Any]:
    """Compress an uncompressed RLE into COCO's string form (as pycocotools writes it).

    Parameters
    ----------
    rle : dict
        ``{"size": [H, W], "counts": [int, ...]}``.

    Returns
    -------
    dict
        ``{"size": [H, W], "counts": str}``, JSON-serialisable.

    Examples
    --------
    >>> rle_to_coco({"size": [2, 2], "counts": [1, 3]})
    {'size': [2, 2], 'counts': '13'}
    """
    h, w = _rle_size(rle)
    return {"size": [h, w], "counts": _encode_counts(_rle_counts(rle))}


def coco_to_rle(coco: Mapping[str, Any]) -> dict[str, Any]:
    """Expand a COCO compressed RLE (counts as ``str`` or ``bytes``) into an uncompressed one.

    Returns
    -------
    dict
        ``{"size": [H, W], "counts": [int, ...]}``.
    """
    h, w = _rle_size(coco)
    return {"size": [h, w], "counts": _rle_counts(coco)}


# --------------------------------------------------------------------------------------
# Label images
# --------------------------------------------------------------------------------------


def _as_mask(segmentation: Any, index: int) -> np.ndarray:
    if isinstance(segmentation, Mapping):
        return rle_to_mask(segmentation)
    if isinstance(segmentation, torch.Tensor):
        segmentation = segmentation.detach().cpu().numpy()
    mask = np.asarray(segmentation)
    if mask.ndim != 2:
        raise ValueError(f"mask {index} must have shape (H, W), got {mask.shape}.")
    return mask if mask.dtype == bool else mask != 0


class _MaskSource:
    """Uniform access to masks given as an (N, H, W) array or a list of records/arrays."""

    def __init__(self, masks: Any) -> None:
        if isinstance(masks, torch.Tensor):
            masks = masks.detach().cpu().numpy()
        self.array: np.ndarray | None = None
        self.records: list[Any] = []
        if isinstance(masks, np.ndarray):
            if masks.ndim != 3:
                raise ValueError(
                    f"masks must be an (N, H, W) array or a list of records, got shape "
                    f"{masks.shape}; use masks[None] for a single mask."
                )
            self.array = masks if masks.dtype == bool else masks != 0
        elif isinstance(masks, Sequence):
            # records with a to_dict() (e.g. the generator's MaskRecord) are read as dicts
            self.records = [m.to_dict() if hasattr(m, "to_dict") else m for m in masks]
        else:
            raise TypeError(
                f"masks must be an (N, H, W) array or a list of records, got {type(masks)}."
            )

    def __len__(self) -> int:
        return len(self.array) if self.array is not None else len(self.records)

    def _segmentation(self, i: int) -> Any:
        record = self.records[i]
        if isinstance(record, Mapping):
            if "segmentation" not in record:
                raise ValueError(f"record {i} has no 'segmentation' entry.")
            return record["segmentation"]
        return record

    def mask(self, i: int) -> np.ndarray:
        if self.array is not None:
            return self.array[i]
        return _as_mask(self._segmentation(i), i)

    def shape(self) -> tuple[int, int] | None:
        if self.array is not None:
            return tuple(self.array.shape[1:])
        if not self.records:
            return None
        seg = self._segmentation(0)
        return _rle_size(seg) if isinstance(seg, Mapping) else _as_mask(seg, 0).shape

    def areas(self) -> np.ndarray:
        if self.array is not None:
            return np.count_nonzero(self.array, axis=(1, 2))
        out = np.empty(len(self), dtype=np.int64)
        for i, record in enumerate(self.records):
            seg = self._segmentation(i)
            if isinstance(record, Mapping) and "area" in record:
                out[i] = int(record["area"])
            elif isinstance(seg, Mapping):
                out[i] = rle_area(seg)
            else:
                out[i] = np.count_nonzero(_as_mask(seg, i))
        return out

    def scores(self) -> np.ndarray | None:
        if self.array is not None or not all(
            isinstance(r, Mapping) and "predicted_iou" in r for r in self.records
        ):
            return None
        return np.array([float(r["predicted_iou"]) for r in self.records])


def _smallest_uint(max_label: int) -> np.dtype:
    for candidate in (np.uint8, np.uint16, np.uint32, np.uint64):
        if max_label <= np.iinfo(candidate).max:
            return np.dtype(candidate)
    raise ValueError(f"label {max_label} does not fit in 64 bits; lower start_label.")


def _paint_order(order: str, areas: np.ndarray, scores: np.ndarray | None) -> np.ndarray:
    """Indices in painting order: the mask painted last owns a contested pixel."""
    later_first = -np.arange(len(areas))  # on ties the earlier mask is painted last
    if order == "area":
        return np.lexsort((later_first, -areas))
    if order == "score":
        if scores is None:
            raise ValueError(
                "order='score' needs scores: pass scores=... or records with 'predicted_iou'."
            )
        return np.lexsort((later_first, np.nan_to_num(scores, nan=-np.inf)))
    raise ValueError(f"order must be 'area' or 'score', got {order!r}.")


def masks_to_label_image(
    masks: np.ndarray | torch.Tensor | Sequence[Any],
    shape: tuple[int, int] | None = None,
    *,
    scores: Sequence[float] | np.ndarray | None = None,
    order: str = "area",
    min_area: int = 0,
    start_label: int = 1,
    dtype: Any = None,
    return_indices: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Merge possibly overlapping masks into one label image (0 = background).

    Each pixel covered by several masks is given to exactly one of them:

    * ``order="area"`` (default): to the *smallest* mask covering it (masks are painted
      from the largest to the smallest area), so small objects lying on a large one stay
      visible. Areas come from the records' ``"area"`` entries when present.
    * ``order="score"``: to the covering mask with the highest score.

    Ties go to the mask that comes first in ``masks``. After this, masks with fewer than
    ``max(min_area, 1)`` remaining pixels are dropped and their remaining pixels become
    background. The kept masks get consecutive labels ``start_label, start_label + 1, ...``
    in their input order.

    Parameters
    ----------
    masks : array of bool, shape (N, H, W), or list
        Masks (axes: mask, row, col), or a list of records: dicts with a ``"segmentation"``
        that is an (H, W) bool array, an uncompressed RLE or a COCO RLE, and optionally
        ``"area"``, ``"predicted_iou"``, ``"stability_score"``. Plain (H, W) arrays may
        also be listed.
    shape : (int, int), optional
        ``(H, W)`` of the output; needed when ``masks`` is empty, checked otherwise.
    scores : sequence of float, shape (N,), optional
        Scores for ``order="score"``; defaults to the records' ``"predicted_iou"``.
    order : {"area", "score"}
        Overlap rule, see above.
    min_area : int
        Smallest number of visible pixels a mask needs to keep its label.
    start_label : int
        First label id (>= 1).
    dtype : numpy dtype, optional
        Integer dtype of the output; by default the smallest unsigned type that holds the
        largest label.
    return_indices : bool
        Also return, for each label ``start_label + k``, the index of its mask in ``masks``.

    Returns
    -------
    labels : numpy.ndarray of int, shape (H, W)
        The label image, axes (row, col).
    indices : numpy.ndarray of int64, shape (K,)
        Only with ``return_indices=True``.

    Examples
    --------
    >>> big = np.zeros((4, 4), bool); big[:, :3] = True
    >>> small = np.zeros((4, 4), bool); small[1:3, 1:3] = True
    >>> masks_to_label_image(np.stack([small, big]))
    array([[2, 2, 2, 0],
           [2, 1, 1, 0],
           [2, 1, 1, 0],
           [2, 2, 2, 0]], dtype=uint8)
    """
    if start_label < 1:
        raise ValueError(f"start_label must be >= 1 (0 is background), got {start_label}.")
    source = _MaskSource(masks)
    n = len(source)
    found = source.shape()
    if found is None and shape is None:
        raise ValueError("masks is empty: pass shape=(H, W) for the label image.")
    if found is not None and shape is not None and tuple(shape) != tuple(found):
        raise ValueError(f"masks have shape {tuple(found)} but shape={tuple(shape)} was given.")
    h, w = (int(v) for v in (found if found is not None else shape))

    if scores is not None:
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        if scores.shape != (n,):
            raise ValueError(f"scores needs one value per mask ({n}), got {scores.shape[0]}.")
    elif order == "score":
        scores = source.scores()
    paint = _paint_order(order, source.areas(), scores)

    owner = np.full((h, w), -1, dtype=np.int64)
    for i in paint:
        mask = source.mask(int(i))
        if mask.shape != (h, w):
            raise ValueError(f"mask {int(i)} has shape {mask.shape}, expected {(h, w)}.")
        owner[mask] = i
    visible = np.bincount(owner.ravel() + 1, minlength=n + 1)[1:]
    kept = np.flatnonzero(visible >= max(min_area, 1))

    max_label = start_label + len(kept) - 1
    out_dtype = _smallest_uint(max(max_label, 0)) if dtype is None else np.dtype(dtype)
    if not np.issubdtype(out_dtype, np.integer):
        raise TypeError(f"dtype must be an integer type, got {out_dtype}.")
    if max_label > np.iinfo(out_dtype).max:
        raise ValueError(f"dtype {out_dtype} cannot hold label {max_label}; pass a wider dtype.")
    lookup = np.zeros(n + 1, dtype=out_dtype)
    lookup[kept + 1] = np.arange(start_label, start_label + len(kept))
    labels = lookup[owner + 1]
    return (labels, kept.astype(np.int64)) if return_indices else labels


def label_image_to_masks(labels: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Split a label image into one boolean mask per nonzero label.

    Parameters
    ----------
    labels : numpy.ndarray or torch.Tensor of int, shape (H, W)
        Label image, axes (row, col); 0 is background.

    Returns
    -------
    ids : numpy.ndarray, shape (K,)
        The nonzero labels present, ascending.
    masks : numpy.ndarray of bool, shape (K, H, W)
        ``masks[k] == (labels == ids[k])``.
    """
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"labels must have shape (H, W), got {labels.shape}.")
    if not (np.issubdtype(labels.dtype, np.integer) or labels.dtype == bool):
        raise TypeError(f"labels must be an integer image, got dtype {labels.dtype}.")
    ids = np.unique(labels)
    ids = ids[ids != 0]
    return ids, labels[None] == ids[:, None, None]
