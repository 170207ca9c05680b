"""Guess whether the tracked axis of an image is time or z, from what the layer says.

The guess only sets the defaults (time: propagate forward; z: both ways); the user can
change it in the widget. In order, the first rule that applies wins:

1. the layer's axis label of that axis (``"z"``, ``"depth"``, ``"slice"``, ``"plane"``
   -> z; ``"t"``, ``"time"``, ``"frame"`` -> time);
2. words in the layer name (``z-stack``, ``volume``, ``slices``, ``confocal``, ... -> z;
   ``time-lapse``, ``movie``, ``video``, ``frames``, ... -> time);
3. the scale: a step along the axis 1.2 to 10 times the pixel size is a z step (a time
   step has other units and is rarely given close to the pixel size);
4. otherwise time.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from napari_sam2.core.state import StackKind

Z_LABELS = {"z", "depth", "slice", "slices", "plane", "planes"}
TIME_LABELS = {"t", "time", "frame", "frames"}
Z_WORDS = re.compile(
    r"z[-_ ]?stack|\bz\b|volume|slices?\b|planes?\b|confocal|3d\b|tomo|light[-_ ]?sheet",
    re.IGNORECASE,
)
TIME_WORDS = re.compile(
    r"time[-_ ]?lapse|timelapse|\btime\b|movie|video|frames?\b|\btrack", re.IGNORECASE
)


def guess_stack_kind(layer: Any, stack_axis: int | None) -> StackKind:
    """Time or z for ``stack_axis`` of an Image layer (see the module docstring).

    Examples
    --------
    >>> from types import SimpleNamespace as L
    >>> guess_stack_kind(L(name="nuclei z-stack", scale=(1, 1, 1)), 0).value
    'z'
    >>> guess_stack_kind(L(name="cells", scale=(3.0, 1.0, 1.0)), 0).value
    'z'
    >>> guess_stack_kind(L(name="cells", scale=(1, 1, 1)), 0).value
    'time'
    """
    if stack_axis is None:
        return StackKind.TIME
    labels = list(getattr(layer, "axis_labels", None) or ())
    if 0 <= stack_axis < len(labels):
        label = str(labels[stack_axis]).strip().lower()
        if label in Z_LABELS:
            return StackKind.Z
        if label in TIME_LABELS:
            return StackKind.TIME
    name = str(getattr(layer, "name", "") or "")
    if TIME_WORDS.search(name):
        return StackKind.TIME
    if Z_WORDS.search(name):
        return StackKind.Z
    scale = np.asarray(getattr(layer, "scale", ()), dtype=float)
    if scale.size > stack_axis and scale.size >= 2 and scale[-1] > 0:
        ratio = abs(scale[stack_axis]) / abs(scale[-1])
        if 1.2 <= ratio <= 10:
            return StackKind.Z
    return StackKind.TIME
