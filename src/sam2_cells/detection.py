"""Detections: the cells of each frame, from any source, behind one protocol.

The tracker first segments every frame into instances (a label image per frame), then
links them (:mod:`sam2_cells.linking`). Where the instances come from is a
:class:`Detector`:

* :class:`LabelStackDetector` (``"labels"``): a (T, H, W) label stack you already have
  (Cellpose, StarDist, ilastik, hand-corrected labels; numpy, a TIFF, a folder of TIFFs,
  zarr). The tracker only links it. Best when you trust your segmentation.
* :class:`ClassicalDetector` (``"classical"``): background flattening, a noise-aware
  threshold and a distance-transform watershed (:mod:`sam2_cells.classical`), for
  fluorescent nuclei. No model; a baseline, fast, and good on clean nuclear stains.
* :class:`ModelDetector` (``"model"``): the SAM 2 model. A model with an instance head
  segments each frame in one pass (``sam2_engine.InstanceSegmenter``, when the engine
  and the model have it); any other model uses segment-everything (the automatic mask
  generator), which is slow and, for the models we have, weaker than the classical
  detector on nuclei (see ``docs/tracking.md``).

:func:`make_detector` builds one by name; ``"auto"`` is the model's instance head when
the model has one and recommends it for cell detection (``model.recommended["detector"]
== "model"``, set when a model's detections beat the classical ones on the tracking
benchmark), else the classical detector.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np
from scipy import ndimage as ndi

from sam2_cells.detector_options import check_textured

__all__ = [
    "DETECTION_SOURCES",
    "ClassicalDetector",
    "Detector",
    "LabelStackDetector",
    "ModelDetector",
    "as_label_frame",
    "make_detector",
    "model_has_instance_head",
    "model_recommended_for_detection",
    "needs_model",
]

#: The detection sources a user picks from (CLI ``--detector``, the Track cells tab).
DETECTION_SOURCES = ("auto", "model", "classical", "labels")

DEFAULT_GUESS = 17.0  # pixels: the diameter guessed before one is estimated
PROBE_SIDES = (48, 96, 192, 384, 768)  # segment-everything tile sides when the size is unknown
SIZE_CHECK_SIDE = 512  # pixels: the central crop the model segments to check a size


@runtime_checkable
class Detector(Protocol):
    """Whatever segments the cells of one frame of a movie.

    ``detect(movie, t)`` returns the (H, W) ``int32`` instance labels of frame ``t``
    (0 background, one id per cell; ids need not be consecutive nor stable over time).
    It must be deterministic: the same frame gives the same labels, so that a resumed run
    equals an uninterrupted one. ``name`` says what it is, for messages and reports.
    """

    name: str

    def detect(self, movie: Any, t: int) -> np.ndarray: ...


def as_label_frame(frame: Any, min_area: int = 1) -> np.ndarray:
    """(H, W) ``int32`` labels numbered 1..N from any integer label frame; objects
    smaller than ``min_area`` pixels are dropped."""
    frame = np.asarray(frame)
    ids, inverse = np.unique(frame.ravel(), return_inverse=True)
    counts = np.bincount(inverse)
    keep = (ids != 0) & (counts >= min_area)
    lut = np.zeros(len(ids), np.int32)
    lut[keep] = np.arange(1, int(keep.sum()) + 1)
    return lut[inverse].reshape(frame.shape)


def _central_crop(frame: np.ndarray, side: int) -> np.ndarray:
    """The central (side, side) part of an (H, W[, C]) frame (all of a smaller one)."""
    h, w = frame.shape[:2]
    top, left = max((h - side) // 2, 0), max((w - side) // 2, 0)
    return frame[top : top + side, left : left + side]


def _gray(frame: Any) -> np.ndarray:
    arr = np.asarray(frame)
    return arr.mean(axis=-1) if arr.ndim == 3 else arr


class LabelStackDetector:
    """Detections read from a (T, H, W) label stack the user brings.

    Parameters
    ----------
    labels
        (T, H, W) integer array-like read one frame at a time (numpy, zarr, dask,
        :func:`sam2_cells.read_label_stack`).
    """

    name = "labels"

    def __init__(self, labels: Any) -> None:
        self.labels = labels

    def check(self, movie_shape: tuple[int, ...]) -> None:
        """Raise ``ValueError`` (one sentence) unless the stack fits the movie."""
        shape = tuple(int(n) for n in getattr(self.labels, "shape", ()))
        want = tuple(int(n) for n in movie_shape[:3])
        dtype = np.dtype(getattr(self.labels, "dtype", np.int32))
        if len(shape) != 3:
            raise ValueError(
                f"the label stack has shape {shape}; it must be (time, row, col) like the "
                f"movie {want}"
            )
        if shape[0] != want[0]:
            raise ValueError(f"the label stack has {shape[0]} frames but the movie has {want[0]}")
        if shape[1:] != want[1:]:
            raise ValueError(
                f"the label stack's frames are {shape[1]}x{shape[2]} but the movie's are "
                f"{want[1]}x{want[2]}"
            )
        if not (np.issubdtype(dtype, np.integer) or dtype == np.bool_):
            raise ValueError(
                f"the label stack holds {dtype} values; labels must be integers (one id per "
                "cell, 0 background)"
            )

    def detect(self, movie: Any, t: int) -> np.ndarray:
        frame = np.asarray(self.labels[t])
        if frame.min(initial=0) < 0:
            raise ValueError(f"the label stack has negative labels on frame {t}")
        return as_label_frame(frame)


class ClassicalDetector:
    """The classical nuclei detector (:func:`sam2_cells.classical.segment_nuclei`).

    Parameters
    ----------
    diameter
        Typical nucleus diameter in pixels; None: estimated once, on frame 0.
    params
        ``sam2_cells.classical.ClassicalParams`` (default values otherwise).
    bright
        Whether the nuclei are brighter than the background; None: decided once, on
        frame 0 (:func:`sam2_cells.classical.bright_objects`).
    """

    name = "classical"

    def __init__(
        self, diameter: float | None = None, params: Any = None, bright: bool | None = None
    ) -> None:
        self.diameter = diameter
        self.params = params
        self.bright = bright

    def detect(self, movie: Any, t: int) -> np.ndarray:
        from sam2_cells.classical import bright_objects, estimate_diameter, segment_nuclei

        if self.bright is None or self.diameter is None:
            first = _gray(movie[0])  # frame 0 whatever t is: resumed runs agree
            if self.bright is None:
                self.bright = bright_objects(first, self.diameter or DEFAULT_GUESS)
            if self.diameter is None:
                self.diameter = estimate_diameter(first, params=self.params, bright=self.bright)
        return segment_nuclei(_gray(movie[t]), self.diameter, self.params, self.bright)


def model_has_instance_head(model: Any) -> bool:
    """Whether the engine can segment instances with ``model`` in one pass."""
    import sam2_engine as se

    has = getattr(se, "has_instance_head", None)
    return bool(getattr(se, "InstanceSegmenter", None) is not None and has and has(model))


def model_recommended_for_detection(model: Any) -> bool:
    """Whether ``"auto"`` detection should use ``model``: it has an instance head and its
    weights recommend it for cells (``recommended["detector"] == "model"``)."""
    if model is None or not model_has_instance_head(model):
        return False
    recommended = getattr(model, "recommended", None) or {}
    return recommended.get("detector") == "model"


class ModelDetector:
    """Detections by the SAM 2 model: its instance head, else segment-everything.

    Parameters
    ----------
    model
        A ``sam2_engine.SAM2Model``.
    diameter
        Typical cell diameter in pixels, or None: the instance head estimates it on frame
        0, checked against the classical detector's estimate
        (:func:`sam2_cells.cell_size.checked_diameter`); segment-everything learns it
        from frame 0.
    min_area
        Smallest mask kept (pixels), for segment-everything.
    share
        Share of a segment-everything tile a typical cell fills (window models).
    """

    name = "model"

    def __init__(
        self, model: Any, diameter: float | None = None, min_area: int = 12, share: float = 0.18
    ) -> None:
        self.model = model
        self.diameter = diameter
        self.min_area = min_area
        self.share = share
        #: how the size was chosen when it was estimated
        #: (:class:`sam2_cells.cell_size.CellSize`; None when given or not yet estimated)
        self.size: Any = None
        self._segmenter: Any = None
        self._source: tuple[int, Any] | None = None
        self.instance_head = model_has_instance_head(model)

    @property
    def method(self) -> str:
        """``"instance head"`` or ``"segment-everything"``."""
        return "instance head" if self.instance_head else "segment-everything"

    def detect(self, movie: Any, t: int) -> np.ndarray:
        if self.instance_head:
            import sam2_engine as se

            if self._segmenter is None:
                if self.diameter is None:  # estimated on frame 0 whatever t is
                    self.size = self._estimate_size(np.asarray(movie[0]))
                    self.diameter = self.size.diameter
                self._segmenter = se.InstanceSegmenter(self.model, diameter=self.diameter)
            labels = self._segmenter.segment(np.asarray(movie[t]))
            return as_label_frame(labels)
        return self._segment_everything(movie, t)

    def _estimate_size(self, frame: np.ndarray) -> Any:
        import sam2_engine as se
        from sam2_cells.cell_size import checked_diameter

        estimate = se.InstanceSegmenter(self.model, diameter=None).size_of(frame)

        def segment_at(diameter: float) -> np.ndarray:
            crop = _central_crop(frame, SIZE_CHECK_SIDE)
            return se.InstanceSegmenter(self.model, diameter=diameter).segment(crop)

        return checked_diameter(
            estimate,
            _gray(frame),
            segment_at,
            crop=lambda image: _central_crop(image, SIZE_CHECK_SIDE),
        )

    # ------------------------------------------------------------------ fallback
    def _frames(self, movie: Any) -> Any:
        import sam2_engine as se

        if self._source is None or self._source[0] != id(movie):
            self._source = (id(movie), se.FrameSource(movie))
        return self._source[1]

    def _settings(self, extent: float | None) -> Any:
        import sam2_engine as se

        base = se.MaskGeneratorSettings.for_model(self.model)
        if se.WindowPolicy.from_model(self.model) is None:
            return base
        sides = PROBE_SIDES if extent is None else (max(32, round(extent / self.share)),)
        floor = 0.0 if base.min_object_score is None else base.min_object_score
        return base.replace(tile_sides=sides, min_object_score=floor)

    def _segment_everything(self, movie: Any, t: int) -> np.ndarray:
        import sam2_engine as se

        if self.diameter is None and t != 0:
            self._segment_everything(movie, 0)  # learn the cell size where a fresh run does
        gen = se.AutomaticMaskGenerator(self.model, self._settings(self.diameter))
        found = gen.generate_labels(self._frames(movie).normalized(t), min_area=self.min_area)
        found = as_label_frame(found, self.min_area)
        if self.diameter is None and found.any():
            boxes = [b for b in ndi.find_objects(found) if b is not None]
            extents = [max(b[0].stop - b[0].start, b[1].stop - b[1].start) for b in boxes]
            self.diameter = float(np.median(extents))
        return found


def needs_model(detector: str, seeds_kind: str = "auto", sam2_cue: bool = False) -> bool:
    """Whether a run needs the SAM 2 model: model detections (``"auto"`` asks the model for
    an instance head), the SAM 2 cue, or point seeds (SAM 2 segments the clicks)."""
    return detector in ("auto", "model") or sam2_cue or seeds_kind == "points"


def make_detector(
    kind: str,
    *,
    model: Any = None,
    labels: Any = None,
    diameter: float | None = None,
    min_area: int = 12,
    split_merged: bool = False,
    textured: bool = False,
) -> Detector:
    """A detector by name (one of :data:`DETECTION_SOURCES`).

    Parameters
    ----------
    kind
        ``"labels"`` (needs ``labels``), ``"classical"``, ``"model"`` (needs ``model``) or
        ``"auto"``: the model's instance head when it has one and recommends it
        (``model.recommended["detector"] == "model"``), else classical.
    model
        The SAM 2 model.
    labels
        (T, H, W) label stack, for ``"labels"``.
    diameter
        Typical cell diameter in pixels (None: estimated).
    min_area
        Smallest object kept (pixels).
    split_merged
        Classical detections only: split each object that holds two cells seen apart in
        the neighbouring frames (:class:`sam2_cells.split_merged.SplitMergedDetector`).
    textured
        Classical detections only: very textured nuclei, filled whole
        (``ClassicalParams(texture=TEXTURED)``, :mod:`sam2_cells.classical`). With
        ``"auto"`` it chooses the classical detector; with ``"model"`` or ``"labels"`` it
        is refused (:func:`~sam2_cells.detector_options.check_textured`).

    Raises
    ------
    ValueError
        An unknown kind, what it needs is missing, or ``textured`` where the detections do
        not come from the classical detector.
    """
    if kind not in DETECTION_SOURCES:
        raise ValueError(
            f"unknown detection source {kind!r}; choose one of {', '.join(DETECTION_SOURCES)}"
        )
    check_textured(kind, textured)
    if kind == "labels":
        if labels is None:
            raise ValueError("detection source 'labels' needs a label stack (--labels PATH)")
        return LabelStackDetector(labels)
    if kind == "auto":
        wants_model = not textured and model_recommended_for_detection(model)
        kind = "model" if wants_model else "classical"
    if kind == "classical":
        from sam2_cells.classical import TEXTURED, ClassicalParams

        params = ClassicalParams(texture=TEXTURED) if textured else None
        classical = ClassicalDetector(diameter, params)
        if split_merged:
            from sam2_cells.split_merged import SplitMergedDetector

            return SplitMergedDetector(classical)
        return classical
    if model is None:
        raise ValueError("detection source 'model' needs a SAM 2 model")
    return ModelDetector(model, diameter, min_area=min_area)
