"""The cell size a run with model detections works at when the user gives none.

The instance head estimates the object size from where its objects stop changing size
across probe sizes (``sam2_engine.InstanceSegmenter.size_of``). On a sparse field that
can fail: the few objects at the centre, magnified, come apart into fragments of one
consistent size (on the tracking benchmark's 1024 x 1024 field, 8.3 px for 19-20 px
nuclei, which cut every nucleus into pieces). The classical detector measures the size
another way (the median of the objects its threshold and watershed find), with other
failure modes (it splits strongly textured nuclei: 12.4 px for 16, and fragments some
looks). The two agree within 1.5x on every other benchmark movie and on 38 of 40
generated nuclear fields (objects of 10-40 px); where they do not, the model segments a
central crop at each size and the size whose objects touch each other least is used:
fragments of cells lie against each other, while the cells of a field that is not
crowded do not (on the three fields where the two disagree, that 1024 x 1024 one and
two generated ones: 0.57-0.93 of the objects touch at the wrong size, 0-0.19 at the
right one). docs/tracking.md has the measurements.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from sam2_engine import touching_share

__all__ = [
    "MAX_DISAGREEMENT",
    "MIN_CLASSICAL_OBJECTS",
    "CellSize",
    "checked_diameter",
    "describe_cell_size",
]

log = logging.getLogger(__name__)

#: the model's size is kept while the classical one is within this factor of it
MAX_DISAGREEMENT = 1.5
#: the classical size counts only when its detector found at least this many objects
MIN_CLASSICAL_OBJECTS = 5


@dataclass(frozen=True)
class CellSize:
    """The diameter chosen and the two estimates it was chosen from.

    Attributes
    ----------
    diameter : float
        The typical cell diameter used (pixels).
    source : {"model", "classical"}
        Which estimate it is.
    model : float
        The instance head's estimate (pixels).
    classical : float or None
        The classical detector's estimate; None where it found too few objects to say.
    touching : tuple of float or None
        Where the two disagreed: the share of the model's objects that touch another, at
        the model's size and at the classical size; None otherwise.
    """

    diameter: float
    source: Literal["model", "classical"]
    model: float
    classical: float | None
    touching: tuple[float, float] | None = None


def checked_diameter(
    model_diameter: float,
    frame: np.ndarray,
    segment_at: Callable[[float], np.ndarray],
    max_ratio: float = MAX_DISAGREEMENT,
) -> CellSize:
    """The model's size estimate, checked against the classical detector's.

    Parameters
    ----------
    model_diameter : float
        The instance head's estimate for ``frame`` (pixels).
    frame : ndarray, shape (H, W)
        The frame it was made on, grey (row, col).
    segment_at : callable
        ``segment_at(diameter)``: the model's (h, w) int label image of (a central crop
        of) the frame at that cell diameter; called only where the estimates disagree.
    max_ratio : float
        Largest ratio between the two estimates (either way round) at which the model's
        is kept.

    Returns
    -------
    CellSize
        The model's estimate where the classical detector found fewer than
        :data:`MIN_CLASSICAL_OBJECTS` objects or the two are within ``max_ratio`` of each
        other; otherwise the one of the two at which the model's objects touch each other
        least (:func:`touching_share`; the model's on a tie).
    """
    from sam2_cells.classical import bright_objects, estimate_diameter, segment_nuclei

    if not (np.isfinite(model_diameter) and model_diameter > 0):
        raise ValueError(f"model_diameter={model_diameter} must be a positive number of pixels")
    if not max_ratio >= 1.0:
        raise ValueError(f"max_ratio={max_ratio} must be at least 1")
    gray = np.asarray(frame, np.float32)
    if gray.ndim != 2:
        raise ValueError(f"checked_diameter takes one (H, W) frame, got shape {gray.shape}")
    bright = bright_objects(gray, model_diameter)
    classical = estimate_diameter(gray, bright=bright)
    found = int(
        np.count_nonzero(np.bincount(segment_nuclei(gray, classical, None, bright).ravel())[1:])
    )
    if found < MIN_CLASSICAL_OBJECTS:
        return CellSize(float(model_diameter), "model", float(model_diameter), None)
    ratio = max(classical / model_diameter, model_diameter / classical)
    if ratio <= max_ratio:
        return CellSize(float(model_diameter), "model", float(model_diameter), float(classical))
    touching = (
        touching_share(segment_at(float(model_diameter))),
        touching_share(segment_at(float(classical))),
    )
    source: Literal["model", "classical"] = "classical" if touching[1] < touching[0] else "model"
    chosen = float(classical if source == "classical" else model_diameter)
    log.info(
        "cell size: the model estimates %.1f px, the classical detector %.1f px (%d objects); "
        "at those sizes %.0f %% and %.0f %% of the model's objects touch another: using "
        "%.1f px (give the diameter to override)",
        model_diameter,
        classical,
        found,
        100 * touching[0],
        100 * touching[1],
        chosen,
    )
    return CellSize(chosen, source, float(model_diameter), float(classical), touching)


def describe_cell_size(detector: Any, given: float | None = None) -> str:
    """The cell size a tracking run used and where it came from, for the user.

    Parameters
    ----------
    detector
        The run's detector (after it ran): a ``ModelDetector`` keeps how it chose the
        size (``.size``, a :class:`CellSize`), the classical one its ``.diameter``.
    given : float, optional
        The diameter the user gave, if any (pixels).

    Returns
    -------
    str
        E.g. ``"Cell size 18 px (estimated)."``; empty where the detector has no size
        (a label stack).
    """
    if given:
        return f"Cell size {given:.0f} px (given)."
    size = getattr(detector, "size", None)
    if isinstance(size, CellSize) and size.source == "classical":
        return (
            f"Cell size {size.diameter:.0f} px (the classical detector's estimate: at the "
            f"model's, {size.model:.0f} px, its objects were fragments touching each other; "
            "set the cell diameter if both are off)."
        )
    diameter = getattr(detector, "diameter", None)
    if diameter:
        return (
            f"Cell size {float(diameter):.0f} px (estimated; set the cell diameter if it is "
            "off)."
        )
    return ""
