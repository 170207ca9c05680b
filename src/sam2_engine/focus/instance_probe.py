"""The size of a clicked object, read from the instance head.

A click does not say how large its object is, and a window model must pick the window
before it decodes. The mask decoder's own guesses (its masks in a few probe windows,
:mod:`sam2_engine.focus.image_prompts`) are least reliable exactly where the window is
wrong. A model with an instance head (:mod:`sam2_engine.model.instance_head`) says more
directly where objects are: in each probe window it predicts foreground and distance
maps, a seeded watershed turns them into objects, and the object under the click is
measured in every probe that does not cut it. The smallest of those measurements is the
one to believe, and its box in frame pixels sets the window: a probe that magnifies too
little shows small neighbours as one blob (the head merges objects well below the size
it was trained on), while one that magnifies too much cuts the object, which is already
left out. On held-out generated nuclei (step 3,300 of the bundled recipe, 150 clicks in
six fields) this choice gave one-click IoU 0.646 against 0.622 for the probe whose object
came out closest to the head's training size, the rule before.

The probe reads objects with the engine's default thresholds (``InstanceSettings()``),
not the ones a model recommends for segment everything: those are tuned to part touching
objects and split more eagerly (seeds at 0.85-0.9 of the local peak for the bundled
model), so the smallest uncut object would more often be a fragment and the window too
small (step 5,400 with them: one-click IoU 0.661 -> 0.649, tracking from a click 0.673 ->
0.556 on the held-out set).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from sam2_engine.focus.window import Window

__all__ = ["object_box_from_instance_head"]


def object_box_from_instance_head(
    model: Any,
    image: Any,
    probes: Sequence[Window],
    click: tuple[float, float],
    hw: tuple[int, int],
) -> tuple[float, float, float, float] | None:
    """Frame box ``(x0, y0, x1, y1)`` of the object under a click, or None.

    Parameters
    ----------
    model : SAM2Model
        A model with an instance head (``model.instance_head`` not None).
    image : torch.Tensor or LazyPlane
        The (H, W, 3) frame, RGB in [0, 1] (what :meth:`Window.crop` reads).
    probes : sequence of Window
        Windows around the click, of several sides.
    click : tuple of float
        The click as frame pixels (x, y).
    hw : tuple of int
        The frame's (rows, cols).

    Returns
    -------
    tuple of float or None
        The box (x0, y0, x1, y1, exclusive ends) of the object under the click in the
        probe where it comes out smallest (in frame pixels) without being cut by the
        window; None when no probe has an object under the click that its window does
        not cut.
    """
    from sam2_engine.automatic.instances import InstanceSegmenter, InstanceSettings
    from sam2_engine.device import inference_context
    from sam2_engine.imaging.frames import imagenet_normalize

    size = int(model.image_size)
    segmenter = InstanceSegmenter(model, settings=InstanceSettings())
    head = segmenter.head_diameter
    batch = torch.stack([w.crop(image, size) for w in probes]).to(model.device)
    with inference_context(model.device, model.precision):
        maps = model.instance_maps(imagenet_normalize(batch).to(model.dtype))
    maps = maps.float().sigmoid().cpu().numpy()
    best: tuple[float, tuple[float, float, float, float]] | None = None
    for window, (fg, dist) in zip(probes, maps, strict=True):
        labels = segmenter.labels_from_maps(fg, dist, head)
        x, y = window.to_input(np.asarray(click, dtype=np.float64), size)
        found = _label_at(labels, y, x, radius=head / 4)
        if found == 0:
            continue
        rows, cols = np.nonzero(labels == found)
        r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        if window.cuts((r0, r1, c0, c1), size, hw):
            continue
        scale = window.side / size
        extent = max(r1 - r0, c1 - c0) * scale
        box = (
            window.left + c0 * scale,
            window.top + r0 * scale,
            window.left + c1 * scale,
            window.top + r1 * scale,
        )
        if best is None or extent < best[0]:
            best = (extent, box)
    return None if best is None else best[1]


def _label_at(labels: np.ndarray, y: float, x: float, radius: float) -> int:
    """The label at (row ``y``, col ``x``) of an (n, n) label image, else the nearest
    label within ``radius`` pixels (a click on an object's edge), else 0."""
    n_rows, n_cols = labels.shape
    r, c = int(np.clip(round(y), 0, n_rows - 1)), int(np.clip(round(x), 0, n_cols - 1))
    if labels[r, c]:
        return int(labels[r, c])
    k = max(1, int(np.ceil(radius)))
    r0, c0 = max(r - k, 0), max(c - k, 0)
    patch = labels[r0 : r + k + 1, c0 : c + k + 1]
    rows, cols = np.nonzero(patch)
    if rows.size == 0:
        return 0
    d2 = (rows + r0 - y) ** 2 + (cols + c0 - x) ** 2
    nearest = int(np.argmin(d2))
    return int(patch[rows[nearest], cols[nearest]]) if d2[nearest] <= radius**2 else 0
