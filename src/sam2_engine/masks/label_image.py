"""Label images for napari: many (possibly overlapping) masks -> one integer image.

Masks come as an (N, H, W) bool array or as records (dicts or ``MaskRecord``s) whose
segmentation is a bool array, an uncompressed RLE or a COCO RLE. The result gives every
pixel to at most one mask, with consecutive ids; axes are (row, col).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from sam2_engine.masks.rle import _rle_size, rle_area, rle_to_mask


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
