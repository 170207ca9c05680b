"""Drawing the preview mask into its helper Labels layer, touching only what changed.

A click on a big slide must not cost a pass over the whole plane: the preview layer keeps
its buffer, and each refresh rewrites only the bounding box of the mask drawn before and
the mask drawn now, through napari's partial update (:meth:`napari.layers.Labels.data_setitem`
refreshes only that part of the texture). Boxes are ``(row0, row1, col0, col1)`` plane
pixels, ends excluded.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

import sam2_engine as se
from napari_sam2.core.state import Preview

#: ``(row0, row1, col0, col1)`` of a plane, ends excluded
Box = tuple[int, int, int, int]


def mask_box(mask: np.ndarray, top: int = 0, left: int = 0) -> Box | None:
    """Bounding box of the True pixels of an (h, w) mask whose first pixel is plane pixel
    (``top``, ``left``); None when the mask is empty.

    The engine's mask-to-box rule (:func:`sam2_engine.masks_to_boxes`, pixel edges), in
    this module's (row, col) order.

    Examples
    --------
    >>> m = np.zeros((4, 5), bool); m[1:3, 2] = True
    >>> mask_box(m, top=10, left=20)
    (11, 13, 22, 23)
    """
    x0, y0, x1, y1 = (int(v) for v in se.masks_to_boxes(mask, inclusive=False))
    if x1 == x0:
        return None  # an empty mask: no box
    return (top + y0, top + y1, left + x0, left + x1)


def union(a: Box | None, b: Box | None) -> Box | None:
    """The smallest box holding both (None: neither)."""
    if a is None or b is None:
        return a if b is None else b
    return (min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]))


def preview_box(preview: Preview) -> Box | None:
    """The plane box of a preview's pixels (None: an empty mask)."""
    return mask_box(preview.region_mask, preview.top, preview.left)


def preview_patch(preview: Preview | None, value: int, box: Box) -> np.ndarray:
    """(rows, cols) int32 content of ``box`` when only ``preview`` is drawn, in ``value``.

    Parameters
    ----------
    preview
        The preview shown (None: nothing).
    value
        The label the preview is drawn with.
    box
        The plane box to fill, ``(row0, row1, col0, col1)``.
    """
    r0, r1, c0, c1 = box
    patch = np.zeros((r1 - r0, c1 - c0), dtype=np.int32)
    if preview is None:
        return patch
    h, w = preview.region_mask.shape
    # the preview's region and the box, in plane pixels
    pr0, pr1 = max(r0, preview.top), min(r1, preview.top + h)
    pc0, pc1 = max(c0, preview.left), min(c1, preview.left + w)
    if pr0 < pr1 and pc0 < pc1:
        src = preview.region_mask[
            pr0 - preview.top : pr1 - preview.top, pc0 - preview.left : pc1 - preview.left
        ]
        patch[pr0 - r0 : pr1 - r0, pc0 - c0 : pc1 - c0][src] = value
    return patch


def write_box(layer: Any, box: Box, patch: np.ndarray) -> int:
    """Write ``patch`` into ``box`` of a 2D Labels layer, changed pixels only, with
    napari's partial refresh; the layer keeps no undo history of it (the preview is not
    an edit). Returns the number of pixels changed."""
    r0, r1, c0, c1 = box
    changed = np.asarray(layer.data[r0:r1, c0:c1]) != patch
    rows, cols = np.nonzero(changed)
    if rows.size == 0:
        return 0
    layer.data_setitem((rows + r0, cols + c0), patch[rows, cols])
    with contextlib.suppress(AttributeError):  # no undo steps for a helper layer
        layer._reset_history()
    return int(rows.size)
