"""Object-centred training windows, and "no object" clicks on the background.

At inference a windowed model sees every object through a square window of the frame in
which the object fills about a third (``sam2_engine.focus``). Training samples are cut
the same way: :func:`window_crop` picks an object on the first frame and a window side
from the share of it the object should fill, with the edge-repeating padding of the
engine's :class:`~sam2_engine.focus.window.Window` (placed by the same rule: inside the
frame where the frame is larger than the window). The window stays put over the clip
(objects move in it, as between two re-centrings at inference).

:func:`add_background_object` adds a target that is *no object* with a click on the
background: the object score learns to say "nothing here", which lets the automatic mask
generator drop grid points that fall between cells.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from sam2_engine import Window, masks_to_boxes
from sam2_training.config import WindowCropConfig

__all__ = ["add_background_object", "window_crop"]


def window_crop(
    frames: np.ndarray,
    labels: np.ndarray,
    cfg: WindowCropConfig,
    rng: np.random.Generator,
    train: bool,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Cut a clip around one object of its first frame.

    Parameters
    ----------
    frames
        (T, H, W) or (T, H, W, C) images.
    labels
        (T, H, W) instance labels.
    cfg
        Share of the window the object fills (log-uniform in ``object_fraction`` when
        training; their geometric mean otherwise) and the centre jitter.
    rng
        The sample's generator.
    train
        Random share and jitter (else the middle share, centred).

    Returns
    -------
    frames, labels
        The windows, (T, side, side[, C]) and (T, side, side); outside the frame the
        edge pixels repeat (labels: background).
    target
        The label the window was cut around.
    """
    ids = np.unique(labels[0])
    ids = ids[ids != 0]
    target = int(rng.choice(ids))
    x0, y0, x1, y1 = masks_to_boxes(labels[0] == target, inclusive=False).tolist()
    extent = max(x1 - x0, y1 - y0)
    lo, hi = cfg.object_fraction
    if train:
        share = math.exp(rng.uniform(math.log(lo), math.log(hi)))
    else:
        share = math.sqrt(lo * hi)
    side = max(16, round(extent / share))
    cy, cx = (y0 + y1) / 2, (x0 + x1) / 2
    if train and cfg.jitter > 0:
        cy += rng.uniform(-cfg.jitter, cfg.jitter) * side
        cx += rng.uniform(-cfg.jitter, cfg.jitter) * side
    window = Window.centred(cy, cx, side, (labels.shape[1], labels.shape[2]))
    top, left = window.top, window.left
    return _cut(frames, top, left, side, "edge"), _cut(labels, top, left, side, "zero"), target


def _cut(stack: np.ndarray, top: int, left: int, side: int, pad: str) -> np.ndarray:
    """Rows ``top..top+side`` and columns ``left..left+side`` of every frame, padded."""
    h, w = stack.shape[1:3]
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + side, h), min(left + side, w)
    if y1 <= y0 or x1 <= x0:  # cannot happen for a window around an object; be safe
        y0, y1, x0, x1 = 0, 1, 0, 1
    part = stack[:, y0:y1, x0:x1]
    widths = [(0, 0), (y0 - top, top + side - y1), (x0 - left, left + side - x1)]
    widths += [(0, 0)] * (stack.ndim - 3)
    if not any(a or b for a, b in widths):
        return part
    if pad == "edge":
        return np.pad(part, widths, mode="edge")
    return np.pad(part, widths, mode="constant")


def add_background_object(
    masks: torch.Tensor, ids: list[int], labels0: np.ndarray, rng: np.random.Generator
) -> tuple[torch.Tensor, list[int], torch.Tensor | None]:
    """Append a "no object" target with a click on the background of the first frame.

    Parameters
    ----------
    masks
        (K, T, S, S) bool masks of the sample's objects.
    ids
        Their labels.
    labels0
        (H, W) labels of the first frame before resizing (where the background is).
    rng
        The sample's generator.

    Returns
    -------
    masks, ids, background_points
        ``masks`` with an empty (1, T, S, S) target appended, ``ids`` with 0 appended,
        and (K + 1, 2) float32 click positions ``(x, y)`` in model-input pixels (NaN for
        the real objects); unchanged masks and None when there is no clear background
        (every pixel within a few pixels of an object).
    """
    size = masks.shape[-1]
    near = torch.from_numpy(labels0 > 0).float()[None, None]
    near = F.interpolate(near, size=(size, size), mode="bilinear", align_corners=False)
    near = F.max_pool2d(near, kernel_size=9, stride=1, padding=4)[0, 0]  # keep clear of edges
    free = torch.nonzero(near == 0)
    if len(free) == 0:
        return masks, ids, None
    row, col = free[int(rng.integers(len(free)))].tolist()
    points = torch.full((masks.shape[0] + 1, 2), float("nan"))
    points[-1] = torch.tensor([col, row], dtype=torch.float32)
    empty = torch.zeros((1, *masks.shape[1:]), dtype=torch.bool)
    return torch.cat([masks, empty]), [*ids, 0], points
