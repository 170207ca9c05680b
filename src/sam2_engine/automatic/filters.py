"""Helpers of the automatic mask generator: candidate masks, filters, NMS, options.

The :class:`~sam2_engine.automatic.generator.AutomaticMaskGenerator` decodes a batch of grid points
into low-resolution logits; the functions here turn such a batch into a compact set of
:class:`Candidates` (run-length encoded masks plus their boxes and scores) and remove
duplicates. Full-resolution logits only ever exist for a bounded chunk of masks.

Conventions
-----------
* Points are ``(x, y)`` = (col, row) pixels; boxes are ``(x0, y0, x1, y1)``. Mask boxes
  have inclusive corners (:func:`~sam2_engine.masks.postprocess.masks_to_boxes`); crop boxes have an
  exclusive end (:func:`~sam2_engine.automatic.crops.crop_boxes`).
* Logits have shape ``(N, h, w)`` (low resolution) or ``(N, H, W)`` (crop resolution).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.ops import batched_nms

from sam2_engine.automatic.crops import (
    box_near_crop_edge,
    point_grids_per_layer,
    uncrop_boxes,
    uncrop_masks,
    uncrop_points,
)
from sam2_engine.automatic.settings import FilterReport
from sam2_engine.masks.postprocess import (
    fill_small_holes,
    masks_to_boxes,
    remove_small_islands,
    remove_small_regions,
    stability_score,
)
from sam2_engine.masks.rle import mask_to_rle, rle_to_mask
from sam2_engine.progress import CancelCallback, ProgressCallback

OUTPUT_MODES = ("binary_mask", "uncompressed_rle", "coco_rle")
# At most this many full-resolution logit values (64 MiB of float32) exist at once.
CHUNK_PIXELS = 1 << 24


@dataclass(frozen=True)
class FilterSettings:
    """The per-mask quality filters of the generator (see its parameters)."""

    pred_iou_thresh: float
    stability_score_thresh: float
    stability_score_offset: float
    mask_threshold: float
    low_res_clean_area: int  # fill holes / drop islands up to this many low-res pixels


@dataclass
class Candidates:
    """Masks that passed the filters so far, one row per mask; all tensors on the CPU.

    Attributes
    ----------
    rles
        Uncompressed COCO RLEs of the masks at the full image size.
    boxes
        (N, 4) int64 ``(x0, y0, x1, y1)`` mask boxes (inclusive corners), in crop pixels
        until :meth:`uncropped` moves them to image pixels.
    iou
        (N,) float32 predicted IoU.
    stability
        (N,) float32 stability score.
    points
        (N, 2) float32 ``(x, y)`` prompt point of each mask, crop then image pixels.
    crop_boxes
        (N, 4) int64 crop the mask was found in, image pixels, end exclusive.
    """

    rles: list[dict[str, Any]]
    boxes: torch.Tensor
    iou: torch.Tensor
    stability: torch.Tensor
    points: torch.Tensor
    crop_boxes: torch.Tensor

    @classmethod
    def empty(cls) -> Candidates:
        box = torch.zeros(0, 4, dtype=torch.int64)
        scores = torch.zeros(0, dtype=torch.float32)
        points = torch.zeros(0, 2, dtype=torch.float32)
        return cls([], box, scores, scores.clone(), points, box.clone())

    @classmethod
    def concat(cls, parts: Sequence[Candidates]) -> Candidates:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        return cls(
            [rle for p in parts for rle in p.rles],
            torch.cat([p.boxes for p in parts]),
            torch.cat([p.iou for p in parts]),
            torch.cat([p.stability for p in parts]),
            torch.cat([p.points for p in parts]),
            torch.cat([p.crop_boxes for p in parts]),
        )

    def __len__(self) -> int:
        return len(self.rles)

    def select(self, index: torch.Tensor) -> Candidates:
        """The rows ``index`` (int64 indices, in that order)."""
        index = index.to(torch.int64).cpu()
        return Candidates(
            [self.rles[int(i)] for i in index],
            self.boxes[index],
            self.iou[index],
            self.stability[index],
            self.points[index],
            self.crop_boxes[index],
        )

    def uncropped(self, crop_box: Sequence[int]) -> Candidates:
        """Boxes and points moved from crop pixels to image pixels."""
        return replace(
            self,
            boxes=uncrop_boxes(self.boxes, crop_box),
            points=uncrop_points(self.points, crop_box),
        )


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Indices of the boxes kept by non-maximum suppression, best score first.

    torchvision's ``batched_nms`` with one category, the reference's rule.
    """
    if len(boxes) == 0:
        return torch.zeros(0, dtype=torch.int64)
    categories = torch.zeros(len(boxes), dtype=torch.int64, device=boxes.device)
    return batched_nms(boxes.float(), scores, categories, iou_threshold)


def crop_scores(crop_boxes: torch.Tensor) -> torch.Tensor:
    """NMS score across crops: 1 / crop area, so masks from smaller crops win."""
    area = (crop_boxes[:, 2] - crop_boxes[:, 0]) * (crop_boxes[:, 3] - crop_boxes[:, 1])
    return 1 / area


def upsample_logits(
    low_res: torch.Tensor, crop_hw: tuple[int, int], s: FilterSettings
) -> torch.Tensor:
    """(K, h, w) low-resolution logits -> (K, H, W) logits at the crop size.

    With ``s.low_res_clean_area > 0``, holes and then islands of up to that many
    low-resolution pixels are removed first (the image predictor's clean-up).
    """
    x = low_res[:, None].float()
    if s.low_res_clean_area > 0:
        x = fill_small_holes(x, s.low_res_clean_area, threshold=s.mask_threshold)
        x = remove_small_islands(x, s.low_res_clean_area, threshold=s.mask_threshold)
    return F.interpolate(x, size=crop_hw, mode="bilinear", align_corners=False)[:, 0]


def filter_batch(
    low_res: torch.Tensor,
    iou: torch.Tensor,
    points: torch.Tensor,
    crop_box: Sequence[int],
    image_hw: tuple[int, int],
    s: FilterSettings,
    report: FilterReport | None = None,
) -> Candidates:
    """Filter one decoded batch and encode the surviving masks.

    In order: predicted IoU ``> pred_iou_thresh``, stability ``>= stability_score_thresh``
    (each skipped when its threshold is 0), then masks whose box touches an inner crop
    edge are dropped. Logits are upsampled a chunk of masks at a time.

    Parameters
    ----------
    low_res
        (N, h, w) mask logits from the decoder.
    iou
        (N,) predicted IoU.
    points
        (N, 2) float32 ``(x, y)`` prompt of each mask, in crop pixels.
    crop_box
        ``(x0, y0, x1, y1)`` crop, image pixels, end exclusive.
    image_hw
        ``(H, W)`` of the whole image.
    report
        Counts of what each filter dropped, updated in place.

    Returns
    -------
    Candidates
        Boxes and points still in crop pixels; RLEs at the image size.
    """
    report = report if report is not None else FilterReport()
    keep = torch.arange(len(iou), device=iou.device)
    report.decoded += len(keep)
    if s.pred_iou_thresh > 0.0:
        keep = keep[iou > s.pred_iou_thresh]
        report.low_iou += len(iou) - len(keep)
    x0, y0, x1, y1 = (int(v) for v in crop_box)
    step = max(1, CHUNK_PIXELS // max(1, image_hw[0] * image_hw[1]))
    parts = [
        _filter_chunk(low_res[idx], idx, (y1 - y0, x1 - x0), crop_box, image_hw, s, report)
        for idx in keep.split(step)
    ]
    parts = [(i, stab, rle, box) for i, stab, rle, box in parts if len(i)]
    if not parts:
        return Candidates.empty()
    rows = torch.cat([p[0] for p in parts])
    rows_cpu = rows.cpu()
    return Candidates(
        [rle for p in parts for rle in p[2]],
        torch.cat([p[3] for p in parts]),
        iou[rows].float().cpu(),
        torch.cat([p[1] for p in parts]),
        points.cpu()[rows_cpu],
        torch.tensor([list(crop_box)] * len(rows_cpu), dtype=torch.int64),
    )


def _filter_chunk(
    low_res: torch.Tensor,
    rows: torch.Tensor,
    crop_hw: tuple[int, int],
    crop_box: Sequence[int],
    image_hw: tuple[int, int],
    s: FilterSettings,
    report: FilterReport,
) -> tuple[torch.Tensor, torch.Tensor, list[dict[str, Any]], torch.Tensor]:
    """Kept rows, their stability, RLEs and crop-pixel boxes, for a few masks."""
    logits = upsample_logits(low_res, crop_hw, s)
    stab = stability_score(logits, s.mask_threshold, s.stability_score_offset)
    if s.stability_score_thresh > 0.0:
        stable = stab >= s.stability_score_thresh
        report.unstable += int((~stable).sum())
        logits, stab, rows = logits[stable], stab[stable], rows[stable]
    masks = logits > s.mask_threshold
    del logits
    boxes = masks_to_boxes(masks)
    inside = ~box_near_crop_edge(boxes, crop_box, [0, 0, image_hw[1], image_hw[0]])
    report.at_crop_edge += int((~inside).sum())
    masks, boxes, stab, rows = masks[inside], boxes[inside], stab[inside], rows[inside]
    rles = mask_to_rle(uncrop_masks(masks, crop_box, *image_hw))
    return rows, stab.cpu(), rles, boxes.cpu()


def remove_small_regions_and_nms(c: Candidates, min_area: int, nms_thresh: float) -> Candidates:
    """Remove holes and islands under ``min_area`` image pixels, then de-duplicate again.

    Each mask first gets its small holes filled, then its small islands removed
    (:func:`~sam2_engine.masks.postprocess.remove_small_regions`); changed masks get a new RLE and
    box. NMS at ``nms_thresh`` then prefers masks that did not change. The survivors keep
    their order; their IoU and stability scores are those of the masks before clean-up.
    """
    if len(c) == 0:
        return c
    rles, boxes, unchanged = list(c.rles), c.boxes.clone(), []
    for i, rle in enumerate(c.rles):
        mask, filled = remove_small_regions(rle_to_mask(rle), min_area, mode="holes")
        mask, removed = remove_small_regions(mask, min_area, mode="islands")
        unchanged.append(not (filled or removed))
        if filled or removed:
            rles[i] = mask_to_rle(mask[None])[0]
            boxes[i] = torch.from_numpy(masks_to_boxes(mask))
    keep = nms(boxes, torch.tensor(unchanged, dtype=torch.float32), nms_thresh)
    return replace(c, rles=rles, boxes=boxes).select(keep.sort().values)


# ---------------------------------------------------------------- progress and options
class BatchProgress:
    """Counts decoded batches for the progress callback and remembers a cancellation."""

    def __init__(self, progress: ProgressCallback | None, cancel: CancelCallback | None) -> None:
        self.progress, self.cancel = progress, cancel
        self.done, self.total, self.stopped = 0, 0, False

    def stop_requested(self) -> bool:
        if not self.stopped and self.cancel is not None and self.cancel():
            self.stopped = True
        return self.stopped

    def advance(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)


def check_options(
    points_per_batch: int, crop_n_layers: int, min_mask_region_area: int, output_mode: str
) -> None:
    """Raise ValueError, naming the fix, for an invalid generator option."""
    if output_mode not in OUTPUT_MODES:
        raise ValueError(
            f"output_mode={output_mode!r} is unknown; use one of {', '.join(OUTPUT_MODES)}."
        )
    if int(points_per_batch) != points_per_batch or points_per_batch < 1:
        raise ValueError(f"points_per_batch must be a positive integer, got {points_per_batch!r}.")
    if int(crop_n_layers) != crop_n_layers or crop_n_layers < 0:
        raise ValueError(f"crop_n_layers must be an integer >= 0, got {crop_n_layers!r}.")
    if min_mask_region_area < 0:
        raise ValueError(
            "min_mask_region_area must be >= 0 (0 disables the clean-up), got "
            f"{min_mask_region_area}."
        )


def resolve_grids(
    points_per_side: int | None,
    point_grids: Sequence[np.ndarray] | None,
    crop_n_layers: int,
    downscale: int,
) -> list[np.ndarray]:
    """One normalised (N, 2) ``(x, y)`` grid per crop layer, from either source."""
    if (points_per_side is None) == (point_grids is None):
        raise ValueError(
            "give exactly one of points_per_side and point_grids: pass points_per_side=None "
            "to use explicit point_grids, or leave point_grids=None for a regular grid."
        )
    if points_per_side is not None:
        if int(downscale) != downscale or downscale < 1:
            raise ValueError(
                f"crop_n_points_downscale_factor must be an integer >= 1, got {downscale!r}."
            )
        return point_grids_per_layer(points_per_side, crop_n_layers, downscale)
    if isinstance(point_grids, np.ndarray) and point_grids.ndim == 2:
        raise ValueError("point_grids is a list with one (N, 2) grid per layer: use [grid].")
    grids = [np.asarray(g, dtype=np.float64) for g in point_grids]  # type: ignore[union-attr]
    if len(grids) != crop_n_layers + 1:
        raise ValueError(
            f"point_grids needs one grid per layer (crop_n_layers + 1 = {crop_n_layers + 1}), "
            f"got {len(grids)}."
        )
    for i, g in enumerate(grids):
        if g.ndim != 2 or g.shape[1] != 2 or len(g) == 0:
            raise ValueError(f"point_grids[{i}] must have shape (N, 2) with N >= 1, got {g.shape}.")
        if not (np.isfinite(g).all() and (g >= 0).all() and (g <= 1).all()):
            raise ValueError(
                f"point_grids[{i}] must hold normalised (x, y) values in [0, 1]; scale pixel "
                "coordinates by the image width and height."
            )
    return grids
