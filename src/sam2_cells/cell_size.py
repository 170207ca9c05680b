"""The cell size a run with model detections works at when the user gives none.

The instance head estimates the object size from where its objects stop changing size
across probe sizes (``sam2_engine.InstanceSegmenter.size_of``). On a sparse field that
can fail: the few objects at the centre, magnified, come apart into fragments of one
consistent size (on the tracking benchmark's 1024 x 1024 field, 8.3 px for 19-20 px
nuclei, which cut every nucleus into pieces), or a plateau twice too large wins (on the
tuning draw of the sparse movie, 39.6 px for 21 px nuclei, where half the nuclei are
missed). The classical detector measures the size another way (the median of the
objects its threshold and watershed find), with other failure modes (it splits strongly
textured nuclei: 12.4 px for 16, and under-fills large textured ones). The two agree
within 1.5x on every benchmark movie but the 1024 x 1024 one and on 38 of 40 generated
nuclear fields (objects of 10-40 px); where they do not, the model segments a central
crop at its size and at the classical one, and

1. where the model, at its own size, misses cells that it finds at the classical size
   (the share of the classical detector's objects not half covered by any of the
   model's objects is more than :data:`MISSED_MARGIN` higher at its size), the
   classical size is used (on the tuning draw of the sparse movie: 0.40 of them missed
   at 39.6 px, 0.27 at the classical 21.8);
2. otherwise the size whose objects touch each other least: fragments of cells lie
   against each other, while the cells of a field that is not crowded do not (the
   1024 x 1024 field: 0.57 at 8.3 px against 0.25 at 18.2; the tuning draw of large
   nuclei: 0.29 at the model's 30.4 px for 24 px nuclei against 0.63 at the classical
   19.7, which under-fills them).

docs/tracking.md has the measurements.
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
    "MISSED_MARGIN",
    "CellSize",
    "checked_diameter",
    "describe_cell_size",
    "missed_share",
]

log = logging.getLogger(__name__)

#: the model's size is kept while the classical one is within this factor of it
MAX_DISAGREEMENT = 1.5
#: the classical size counts only when its detector found at least this many objects
MIN_CLASSICAL_OBJECTS = 5
#: the classical size is used where the model misses this much larger a share of the
#: classical detector's objects at its own size than at the classical size
MISSED_MARGIN = 0.1


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
    missed : tuple of float or None
        Where the two disagreed: the share of the classical detector's objects (in the
        crop the model segmented) not half covered by the model's objects, at the
        model's size and at the classical size; None otherwise.
    decided_by : {"missed", "touching"} or None
        Which test decided where the estimates disagreed; None otherwise.
    """

    diameter: float
    source: Literal["model", "classical"]
    model: float
    classical: float | None
    touching: tuple[float, float] | None = None
    missed: tuple[float, float] | None = None
    decided_by: Literal["missed", "touching"] | None = None


def missed_share(labels: np.ndarray, reference: np.ndarray) -> float:
    """The share of the objects of ``reference`` that ``labels`` misses.

    Parameters
    ----------
    labels, reference : ndarray of int, shape (H, W)
        Two instance label images of one field (row, col); 0 is background.

    Returns
    -------
    float
        The share of ``reference``'s objects less than half of whose pixels lie in an
        object of ``labels``; 0.0 when ``reference`` has none.
    """
    ref = np.asarray(reference).ravel().astype(np.int64)
    inside = np.asarray(labels).ravel() > 0
    if ref.shape != inside.shape:
        raise ValueError(
            f"missed_share takes two label images of one shape, got "
            f"{np.shape(labels)} and {np.shape(reference)}"
        )
    area = np.bincount(ref)
    covered = np.bincount(ref, weights=inside, minlength=len(area))
    present = area[1:] > 0
    if not present.any():
        return 0.0
    return float(np.mean(covered[1:][present] < 0.5 * area[1:][present]))


def checked_diameter(
    model_diameter: float,
    frame: np.ndarray,
    segment_at: Callable[[float], np.ndarray],
    max_ratio: float = MAX_DISAGREEMENT,
    crop: Callable[[np.ndarray], np.ndarray] | None = None,
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
    crop : callable, optional
        ``crop(image)``: the part of an (H, W) image of the frame that ``segment_at``'s
        labels cover (default: all of it), applied to the classical labels.

    Returns
    -------
    CellSize
        The model's estimate where the classical detector found fewer than
        :data:`MIN_CLASSICAL_OBJECTS` objects or the two are within ``max_ratio`` of each
        other. Otherwise the classical estimate where the model misses more than
        :data:`MISSED_MARGIN` more of the classical objects at its own size than at the
        classical one (:func:`missed_share`); else the one of the two at which the
        model's objects touch each other least (:func:`touching_share`; the model's on a
        tie).
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
    objects = segment_nuclei(gray, classical, None, bright)
    found = int(np.count_nonzero(np.bincount(objects.ravel())[1:]))
    if found < MIN_CLASSICAL_OBJECTS:
        return CellSize(float(model_diameter), "model", float(model_diameter), None)
    ratio = max(classical / model_diameter, model_diameter / classical)
    if ratio <= max_ratio:
        return CellSize(float(model_diameter), "model", float(model_diameter), float(classical))
    at_model, at_classical = segment_at(float(model_diameter)), segment_at(float(classical))
    reference = crop(objects) if crop is not None else objects
    touching = (touching_share(at_model), touching_share(at_classical))
    missed = (missed_share(at_model, reference), missed_share(at_classical, reference))
    decided_by: Literal["missed", "touching"] = "missed"
    better = missed[0] > missed[1] + MISSED_MARGIN
    if not better:
        decided_by, better = "touching", touching[1] < touching[0]
    source: Literal["model", "classical"] = "classical" if better else "model"
    chosen = float(classical if source == "classical" else model_diameter)
    log.info(
        "cell size: the model estimates %.1f px, the classical detector %.1f px (%d "
        "objects); at those sizes the model misses %.0f %% and %.0f %% of the classical "
        "objects, and %.0f %% and %.0f %% of its objects touch another: using %.1f px (by "
        "%s; give the diameter to override)",
        model_diameter,
        classical,
        found,
        100 * missed[0],
        100 * missed[1],
        100 * touching[0],
        100 * touching[1],
        chosen,
        decided_by,
    )
    return CellSize(
        chosen, source, float(model_diameter), float(classical), touching, missed, decided_by
    )


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
        why = "were fragments touching each other"
        if size.decided_by == "missed" and size.missed is not None:
            why = f"missed {size.missed[0]:.0%} of the cells the classical detector finds"
        return (
            f"Cell size {size.diameter:.0f} px (the classical detector's estimate: at the "
            f"model's, {size.model:.0f} px, its objects {why}; set the cell diameter if "
            "both are off)."
        )
    diameter = getattr(detector, "diameter", None)
    if diameter:
        return (
            f"Cell size {float(diameter):.0f} px (estimated; set the cell diameter if it is off)."
        )
    return ""
