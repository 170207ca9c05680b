"""MaskRecord: one mask found by the automatic mask generator, as the reference's dict.

Points are ``(x, y) = (column, row)`` pixels of the original image, boxes are
``(x, y, width, height)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sam2_engine.automatic.filters import Candidates
from sam2_engine.masks.postprocess import box_xyxy_to_xywh
from sam2_engine.masks.rle import rle_area, rle_to_coco, rle_to_mask

__all__ = ["MaskRecord", "candidate_record"]


@dataclass(frozen=True, eq=False)
class MaskRecord:
    """One mask found by the generator.

    Attributes
    ----------
    segmentation
        (H, W) bool mask (``output_mode="binary_mask"``), an uncompressed COCO RLE
        ``{"size": [H, W], "counts": [int, ...]}`` or a COCO RLE with string counts.
    area
        Number of pixels in the mask.
    bbox
        ``[x, y, width, height]`` of the mask's box (``width = x1 - x0`` of the
        inclusive corners, as in the reference).
    predicted_iou
        The model's estimate of the mask's IoU with the object.
    stability_score
        IoU of the mask thresholded at ``mask_threshold +- stability_score_offset``.
    point_coords
        ``[[x, y]]``: the grid point that produced the mask, image pixels.
    crop_box
        ``[x, y, width, height]`` of the crop the mask was found in.
    """

    segmentation: np.ndarray | dict[str, Any]
    area: int
    bbox: list[float]
    predicted_iou: float
    stability_score: float
    point_coords: list[list[float]]
    crop_box: list[float]

    @property
    def mask(self) -> np.ndarray:
        """The mask as an (H, W) bool array, whatever the output mode."""
        if isinstance(self.segmentation, dict):
            return rle_to_mask(self.segmentation)
        return self.segmentation

    def to_dict(self) -> dict[str, Any]:
        """The record as the reference's dict (same keys and order).

        Every value is JSON-serialisable except a ``binary_mask`` segmentation, which
        stays a numpy array (use an RLE output mode to write JSON).
        """
        return {
            "segmentation": self.segmentation,
            "area": self.area,
            "bbox": list(self.bbox),
            "predicted_iou": self.predicted_iou,
            "point_coords": [list(p) for p in self.point_coords],
            "stability_score": self.stability_score,
            "crop_box": list(self.crop_box),
        }


def candidate_record(found: Candidates, i: int, output_mode: str) -> MaskRecord:
    """Candidate ``i`` of ``found`` as a record, its mask in ``output_mode``."""
    rle = found.rles[i]
    if output_mode == "binary_mask":
        segmentation: np.ndarray | dict[str, Any] = rle_to_mask(rle)
    elif output_mode == "coco_rle":
        segmentation = rle_to_coco(rle)
    else:
        segmentation = rle
    x0, y0, x1, y1 = found.crop_boxes[i].tolist()
    return MaskRecord(
        segmentation=segmentation,
        area=rle_area(rle),
        bbox=[float(v) for v in box_xyxy_to_xywh(found.boxes[i]).tolist()],
        predicted_iou=float(found.iou[i]),
        stability_score=float(found.stability[i]),
        point_coords=[[float(v) for v in found.points[i].tolist()]],
        crop_box=[float(x0), float(y0), float(x1 - x0), float(y1 - y0)],
    )
