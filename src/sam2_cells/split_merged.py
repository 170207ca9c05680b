"""Split a detection that holds two cells, using the detections of the neighbouring frames.

A detector that sees one frame at a time merges nuclei that touch: two neighbours pressed
together, or a daughter and her neighbour right after a division. The frames around it
often show them apart. Tracking-by-detection practice (history-based splitting) uses that:
an object of frame ``t`` that holds most of *two* objects of the frame before (each a
plausible cell, not a fragment) is cut in two by a seeded watershed whose markers are
those objects' cores, placed where they overlap it.

:func:`split_by_reference` does one such pass between a frame and a reference frame;
:class:`SplitMergedDetector` wraps any :class:`~sam2_cells.detection.Detector` and
splits each frame's objects with the (already split) frames before it, over a fixed
window of ``back`` frames, and optionally with the frames after it (``ahead``: two
daughters still detected as one object in their first frames are cut when they part up
to ``ahead`` frames later). The window is fixed, so the labels of frame ``t`` depend on
the raw detections of frames ``t - back .. t + ahead`` only: a run resumed at any frame
gives the same labels as an uninterrupted one.

The frames after ``t`` are read more carefully than those before, because a mistake of
the detector there would be carried back: a nucleus that it cuts in two a few frames
later, or a mother that divides, would be cut before its time. So an object is cut with
later frames only when it is elongated (:data:`MIN_ELONGATION`: two cells side by side,
not one round one); and it may be smaller than with earlier frames, because two
daughters in their first frames are about one mother in area
(:data:`AHEAD_MIN_AREA`, :data:`AHEAD_MIN_CELL`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage as ndi

from sam2_cells.classical import ellipse_axes

__all__ = [
    "AHEAD_MIN_AREA",
    "AHEAD_MIN_CELL",
    "MIN_ELONGATION",
    "SplitMergedDetector",
    "split_by_reference",
]

COMPACTNESS = 0.03  # compact watershed: a cut across a band without a waist falls midway
#: With the frames after it, an object is cut only if its second-moment ellipse is at
#: least this many times as long as wide. Chosen on the tuning draws
#: (``bench_tracking.py --sequences tuning``): 1.2 / 1.4 / 1.6 gave mean BC(1) 0.544 /
#: 0.548 / 0.548 and mean TRA 0.786 / 0.785 / 0.784.
MIN_ELONGATION = 1.4
#: With the frames after it, an object of this many typical cells or more can be cut ...
AHEAD_MIN_AREA = 0.5
#: ... into pieces of at least this many typical cells each (a newborn daughter).
AHEAD_MIN_CELL = 0.18


def _pair_counts(labels: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K, 2) (object, reference object) pairs that overlap and their (K,) pixel counts."""
    both = (labels > 0) & (reference > 0)
    a = labels[both].astype(np.int64)
    b = reference[both].astype(np.int64)
    if a.size == 0:
        return np.zeros((0, 2), np.int64), np.zeros(0, np.int64)
    width = int(reference.max()) + 1
    counts = np.bincount(a * width + b)
    keys = np.flatnonzero(counts)
    return np.stack([keys // width, keys % width], axis=1), counts[keys]


def _core(mask: np.ndarray, share: float = 0.5) -> np.ndarray:
    """The pixels of ``mask`` at least ``share`` of its largest inner distance from its
    edge (a marker that does not reach the border with a neighbour)."""
    edt = ndi.distance_transform_edt(mask)
    top = float(edt.max())
    return edt >= max(1.0, share * top) if top > 1.0 else mask


def split_by_reference(
    labels: np.ndarray,
    reference: np.ndarray,
    *,
    typical_area: float | None = None,
    inside: float = 0.5,
    min_cell: float = 0.4,
    min_area: float = 1.1,
    min_elongation: float = 0.0,
) -> np.ndarray:
    """Cut every object of ``labels`` that holds most of two or more reference objects.

    An object is split when at least two objects of ``reference`` (the same field one
    frame earlier or later) each lie more than ``inside`` of their area inside it, each
    is at least ``min_cell`` typical cells large (a cell, not a fragment of one), the
    object is at least ``min_area`` typical cells large (room for two) and at least
    ``min_elongation`` times as long as wide (0: any shape). The cut is a
    seeded watershed on the object's distance transform, one marker per such reference
    object (the core of its overlap with the object); it is kept only if every piece is at
    least ``min_cell`` typical cells large. The input is not modified.

    Parameters
    ----------
    labels
        (H, W) integer instance labels of the frame to split, axes (row, col); 0 is
        background.
    reference
        (H, W) integer instance labels of a neighbouring frame, axes (row, col).
    typical_area
        Area of a typical cell in pixels; None: the median area of ``labels``' objects.
    inside, min_cell, min_area
        The thresholds above (shares of a reference object's area; multiples of
        ``typical_area``).
    min_elongation
        Ratio of the major to the minor axis of the object's second-moment ellipse.

    Returns
    -------
    numpy.ndarray
        (H, W) ``int32`` labels: the objects of ``labels`` (same ids) with each split
        object's extra pieces given new ids above the largest.

    Examples
    --------
    >>> import numpy as np
    >>> before = np.zeros((10, 20), int)
    >>> before[2:8, 2:9], before[2:8, 11:18] = 1, 2
    >>> now = np.zeros((10, 20), int)
    >>> now[2:8, 3:17] = 1  # the two touch: one object
    >>> len(np.unique(split_by_reference(now, before, typical_area=42.0))) - 1
    2
    """
    from skimage.segmentation import watershed

    labels = np.asarray(labels)
    reference = np.asarray(reference)
    if labels.shape != reference.shape or labels.ndim != 2:
        raise ValueError(
            f"split_by_reference takes two (H, W) label frames of one shape, got "
            f"{labels.shape} and {reference.shape}"
        )
    out = labels.astype(np.int32, copy=True)
    if not out.any() or not reference.any():
        return out
    areas = np.bincount(out.ravel())
    ref_areas = np.bincount(reference.ravel().astype(np.int64))
    if typical_area is None:
        present = areas[1:][areas[1:] > 0]
        typical_area = float(np.median(present))
    pairs, counts = _pair_counts(out, reference)
    held = counts > inside * ref_areas[pairs[:, 1]]
    held &= ref_areas[pairs[:, 1]] >= min_cell * typical_area
    candidates: dict[int, list[int]] = {}
    for obj, ref in pairs[held].tolist():
        candidates.setdefault(obj, []).append(ref)
    boxes = ndi.find_objects(out)
    next_id = int(out.max()) + 1
    for obj, refs in sorted(candidates.items()):
        if len(refs) < 2 or areas[obj] < min_area * typical_area:
            continue
        box = tuple(slice(max(0, s.start - 1), s.stop + 1) for s in boxes[obj - 1])
        mask = out[box] == obj
        if min_elongation > 0:
            small, large = ellipse_axes(mask)
            if large < min_elongation * small:
                continue
        ref_box = reference[box]
        markers = np.zeros(mask.shape, np.int32)
        for k, ref in enumerate(refs, start=1):
            markers[_core(mask & (ref_box == ref))] = k
        dist = ndi.gaussian_filter(ndi.distance_transform_edt(mask).astype(np.float32), 1.0)
        pieces = watershed(-dist, markers, mask=mask, compactness=COMPACTNESS)
        sizes = np.bincount(pieces.ravel(), minlength=len(refs) + 1)[1:]
        if sizes.min() < min_cell * typical_area:
            continue
        view = out[box]
        for k in range(2, len(refs) + 1):
            view[pieces == k] = next_id
            next_id += 1
    return out


class SplitMergedDetector:
    """A detector whose objects holding two cells are split with the neighbouring frames.

    Frame ``t`` is detected by ``inner``; then, frame by frame from ``t - back`` up to
    ``t``, each frame's objects are split with the (already split) frame before
    (:func:`split_by_reference`), so that two cells once seen apart stay apart while
    they touch, for up to ``back`` frames; then with the frames after it, from
    ``t + ahead`` down to ``t + 1`` (two daughters detected as one object in their first
    frames, parting later), elongated objects only (see the module docstring). Raw
    detections are kept for the window only.

    Parameters
    ----------
    inner
        The detector whose frames are split (``detect(movie, t)`` -> (H, W) labels).
    back
        Frames before ``t`` whose detections split it (0: none).
    ahead
        Frames after ``t`` whose detections split it (0: none). Chosen on the tuning
        draws: 3 / 4 / 5 gave mean BC(1) 0.497 / 0.548 / 0.548.
    inside, min_cell, min_area
        As in :func:`split_by_reference`, for the frames before; the typical cell area is
        a disk of the inner detector's ``diameter`` when it has one, else the frame's
        median object.
    ahead_min_cell, ahead_min_area, min_elongation
        ``min_cell``, ``min_area`` and ``min_elongation`` of :func:`split_by_reference`
        for the frames after (defaults :data:`AHEAD_MIN_CELL`, :data:`AHEAD_MIN_AREA`,
        :data:`MIN_ELONGATION`).
    """

    def __init__(
        self,
        inner: Any,
        back: int = 3,
        ahead: int = 4,
        *,
        inside: float = 0.5,
        min_cell: float = 0.4,
        min_area: float = 1.1,
        ahead_min_cell: float = AHEAD_MIN_CELL,
        ahead_min_area: float = AHEAD_MIN_AREA,
        min_elongation: float = MIN_ELONGATION,
    ) -> None:
        if back < 0 or ahead < 0:
            raise ValueError(f"back={back} and ahead={ahead} must be 0 or more frames")
        self.inner = inner
        self.name = inner.name
        self.back = back
        self.ahead = ahead
        self.thresholds = {"inside": inside, "min_cell": min_cell, "min_area": min_area}
        self.ahead_thresholds = {
            "inside": inside,
            "min_cell": ahead_min_cell,
            "min_area": ahead_min_area,
            "min_elongation": min_elongation,
        }
        self._raw: dict[int, np.ndarray] = {}
        self._movie: int | None = None  # id of the movie whose frames _raw holds

    @property
    def diameter(self) -> float | None:
        """The inner detector's typical cell diameter in pixels (None: not known yet)."""
        return getattr(self.inner, "diameter", None)

    def _detect_raw(self, movie: Any, t: int) -> np.ndarray:
        if t not in self._raw:
            self._raw[t] = np.asarray(self.inner.detect(movie, t))
        return self._raw[t]

    def _split(self, labels: np.ndarray, reference: np.ndarray, later: bool) -> np.ndarray:
        """``labels`` split with ``reference``, a frame before it (``later`` False) or
        after it (True)."""
        d = self.diameter
        typical = float(np.pi * d * d / 4) if d else None
        thresholds = self.ahead_thresholds if later else self.thresholds
        return split_by_reference(labels, reference, typical_area=typical, **thresholds)

    def detect(self, movie: Any, t: int) -> np.ndarray:
        """(H, W) ``int32`` labels of frame ``t``, merged cells split (see the class)."""
        shape = getattr(movie, "shape", None)
        n = int(shape[0]) if shape is not None else len(movie)
        first, last = max(0, t - self.back), min(n - 1, t + self.ahead)
        if self._movie != id(movie):  # another movie: nothing kept is its
            self._raw.clear()
            self._movie = id(movie)
        for old in [k for k in self._raw if k < first or k > last]:
            del self._raw[old]  # only the window is kept
        before = self._detect_raw(movie, first)
        for u in range(first + 1, t + 1):
            before = self._split(self._detect_raw(movie, u), before, later=False)
        if last == t:
            return np.asarray(before, np.int32)
        after = self._detect_raw(movie, last)
        for u in range(last - 1, t, -1):
            after = self._split(self._detect_raw(movie, u), after, later=True)
        return self._split(before, after, later=True)
