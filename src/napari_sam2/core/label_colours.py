"""Label colours with contrast between consecutive ids (Labels layers of the plugin).

Objects committed one after another get consecutive ids and usually touch; napari's
default colours are drawn at random, so two neighbours can look alike. Here hue steps by
the golden angle (about 137 degrees) from one id to the next and saturation and
brightness alternate, so any two ids close to each other differ clearly. The colours
repeat after :data:`N_COLOURS` ids.
"""

from __future__ import annotations

import colorsys
from typing import Any

import numpy as np

N_COLOURS = 48
GOLDEN = 0.6180339887498949


def contrast_colours(n: int = N_COLOURS) -> np.ndarray:
    """(n + 1, 4) RGBA in [0, 1]: row 0 is the (transparent) background, row ``i`` the
    colour of label ``i`` (then every ``n`` ids again).

    Examples
    --------
    >>> contrast_colours(4).shape
    (5, 4)
    """
    rows = [(0.0, 0.0, 0.0, 0.0)]
    for i in range(n):
        hue = (0.02 + i * GOLDEN) % 1.0
        saturation = 0.95 if i % 2 == 0 else 0.6
        value = (1.0, 0.85, 0.95)[i % 3]
        rows.append((*colorsys.hsv_to_rgb(hue, saturation, value), 1.0))
    return np.asarray(rows, dtype=float)


def contrast_colormap() -> Any:
    """A napari ``CyclicLabelColormap`` of :func:`contrast_colours`."""
    from napari.utils.colormaps import CyclicLabelColormap

    return CyclicLabelColormap(colors=contrast_colours(), name="sam2_contrast")
