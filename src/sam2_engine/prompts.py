"""Validating user prompts and mapping them to model-input pixels.

User-facing coordinates are pixels of the *original* image in the SAM convention:
points are ``(x, y) = (column, row)``, boxes ``(x0, y0, x1, y1)``. napari uses
``(row, col)``; the plugin converts once at its edge.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from sam2_engine.model.prompt_encoder import BOX_LABELS

ArrayLike = np.ndarray | Sequence | torch.Tensor


def _as_float_array(value: ArrayLike, name: str) -> np.ndarray:
    arr = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values: {arr.tolist()}")
    return arr


def check_points(
    points: ArrayLike, labels: ArrayLike, image_hw: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Validate points and labels.

    Parameters
    ----------
    points
        (N, 2) or (K, N, 2) pixel coordinates (x, y) in the original image.
    labels
        (N,) or (K, N): 1 for a positive (object) click, 0 for a negative one.
    image_hw
        (height, width) of the original image.

    Returns
    -------
    (K, N, 2) float64 points and (K, N) int32 labels.
    """
    pts = _as_float_array(points, "points")
    if pts.ndim == 1 and pts.shape[0] == 2:
        pts = pts[None]
    if pts.ndim == 2:
        pts = pts[None]
    if pts.ndim != 3 or pts.shape[-1] != 2:
        raise ValueError(
            f"points must have shape (N, 2) as (x, y) pixel pairs (or (K, N, 2) for K "
            f"objects), got shape {np.shape(points)}"
        )
    lab = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
    if lab.ndim == 0:
        lab = lab[None]
    if lab.ndim == 1:
        lab = lab[None]
    if lab.shape != pts.shape[:2]:
        raise ValueError(
            f"got {pts.shape[1]} point(s) per object but labels of shape {np.shape(labels)}; "
            "give one label (1 positive, 0 negative) per point"
        )
    if lab.size and not np.isin(lab, (0, 1)).all():
        raise ValueError(
            f"point labels must be 1 (positive) or 0 (negative), got {np.unique(lab).tolist()}"
        )
    h, w = image_hw
    outside = (pts[..., 0] < 0) | (pts[..., 0] > w) | (pts[..., 1] < 0) | (pts[..., 1] > h)
    if outside.any():
        x, y = pts[outside][0]
        raise ValueError(
            f"point (x={x:g}, y={y:g}) lies outside the image of width {w} and height {h}; "
            "points are (x, y) = (column, row) pixel coordinates"
        )
    return pts, lab.astype(np.int32)


def check_boxes(box: ArrayLike, image_hw: tuple[int, int]) -> np.ndarray:
    """Validate boxes ``(x0, y0, x1, y1)``; returns (K, 4) float64.

    Boxes may extend past the image border (they are clipped); a box entirely outside
    the image or with x1 < x0 or y1 < y0 is refused.
    """
    arr = _as_float_array(box, "box")
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(
            f"box must have shape (4,) as (x0, y0, x1, y1), or (K, 4) for K boxes; got "
            f"shape {np.shape(box)}"
        )
    h, w = image_hw
    for x0, y0, x1, y1 in arr:
        if x1 < x0 or y1 < y0:
            raise ValueError(
                f"box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) has x1 < x0 or y1 < y0; boxes are "
                "(x0, y0, x1, y1) with (x0, y0) the top-left corner"
            )
        if x1 < 0 or y1 < 0 or x0 > w or y0 > h:
            raise ValueError(
                f"box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) lies outside the image of width {w} "
                f"and height {h}"
            )
    arr[:, [0, 2]] = arr[:, [0, 2]].clip(0, w)
    arr[:, [1, 3]] = arr[:, [1, 3]].clip(0, h)
    return arr


def to_model_coords(
    xy: np.ndarray, image_hw: tuple[int, int], model_size: int, device: torch.device
) -> torch.Tensor:
    """Scale (..., 2) original-image (x, y) pixels to the S x S model input (float32)."""
    h, w = image_hw
    t = torch.as_tensor(xy, dtype=torch.float32, device=device)
    scale = torch.tensor([w, h], dtype=torch.float32, device=device)
    return t / scale * model_size


def corners_first(
    points: np.ndarray | None, labels: np.ndarray | None, box: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """One object's prompt as a point list, the box's two corners first.

    The official models were trained with a box given as its top-left and bottom-right
    corners, labelled 2 and 3, ahead of the clicks; :func:`combine_prompts` is the same
    rule for batches of tensors.

    Parameters
    ----------
    points
        (N, 2) (x, y) pixels, or None.
    labels
        (N,) labels (1 positive, 0 negative), or None.
    box
        (4,) box (x0, y0, x1, y1) in the same pixels as ``points``, or None.

    Returns
    -------
    (N', 2) float64 points and (N',) int32 labels, N' = N + 2 with a box.

    Examples
    --------
    >>> pts, lab = corners_first(np.array([[5.0, 6.0]]), np.array([1]), np.array([0, 1, 8, 9]))
    >>> pts.tolist(), lab.tolist()
    ([[0.0, 1.0], [8.0, 9.0], [5.0, 6.0]], [2, 3, 1])
    """
    pts = np.zeros((0, 2)) if points is None else np.asarray(points, dtype=np.float64)
    lab = np.zeros(0, dtype=np.int32) if labels is None else np.asarray(labels, dtype=np.int32)
    if box is not None:
        pts = np.concatenate([np.asarray(box, dtype=np.float64).reshape(2, 2), pts])
        lab = np.concatenate([np.array(BOX_LABELS, dtype=np.int32), lab])
    return pts, lab


def mask_prompt_logits(
    mask_input: np.ndarray | None, k: int, side: int, device: torch.device
) -> torch.Tensor | None:
    """Check low-resolution mask logits given as a prompt and shape them for the decoder.

    Parameters
    ----------
    mask_input
        (side, side), (1, side, side), (k, side, side) or (k, 1, side, side) logits (the
        ``logits`` of an earlier prediction), or None.
    k
        How many prompt sets (objects) are decoded together.
    side
        The decoder's mask-prompt side: four times the image embedding side.
    device
        Where the tensor goes.

    Returns
    -------
    (k or 1, 1, side, side) float32 tensor, or None when ``mask_input`` is None.
    """
    if mask_input is None:
        return None
    m = torch.as_tensor(np.asarray(mask_input), dtype=torch.float32, device=device)
    if m.ndim == 2:
        m = m[None, None]
    elif m.ndim == 3:
        m = m[:, None] if m.shape[0] == k and k > 1 else m[None]
    if m.ndim != 4 or m.shape[1] != 1 or m.shape[-2:] != (side, side):
        raise ValueError(
            f"mask_input must be low-resolution logits of shape ({side}, {side}) (the "
            f"'logits' of an earlier prediction), got shape {tuple(np.shape(mask_input))}"
        )
    return m


def combine_prompts(
    points: torch.Tensor | None,
    labels: torch.Tensor | None,
    boxes: torch.Tensor | None,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Merge boxes into the point list as two corner points labelled 2 and 3.

    ``points`` (K, N, 2) / ``labels`` (K, N) and ``boxes`` (K, 2, 2) in model pixels;
    box corners come first, as the official models were trained (the batched tensor form
    of :func:`corners_first`).
    """
    if boxes is None:
        return points, labels
    k = boxes.shape[0]
    box_labels = torch.tensor([BOX_LABELS], dtype=torch.int32, device=boxes.device).repeat(k, 1)
    if points is None:
        return boxes, box_labels
    if points.shape[0] != k:
        if points.shape[0] == 1:
            points, labels = points.expand(k, -1, -1), labels.expand(k, -1)  # type: ignore[union-attr]
        elif k == 1:
            boxes, box_labels = (
                boxes.expand(points.shape[0], -1, -1),
                box_labels.expand(points.shape[0], -1),
            )
        else:
            raise ValueError(
                f"got {points.shape[0]} point sets and {k} boxes; give one box per point set "
                "or a single box"
            )
    return torch.cat([boxes, points], dim=1), torch.cat([box_labels, labels], dim=1)  # type: ignore[list-item]
