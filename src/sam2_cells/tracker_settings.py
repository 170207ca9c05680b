"""Settings of the cell tracker, with the defaults and what each one decides."""

from __future__ import annotations

from dataclasses import dataclass, fields

from sam2_cells.detector_options import check_textured
from sam2_cells.linking import LinkSettings

__all__ = ["TrackerSettings"]


@dataclass(frozen=True)
class TrackerSettings(LinkSettings):
    """How :class:`~sam2_cells.tracker.CellTracker` detects and links cells.

    The linking settings are those of :class:`~sam2_cells.linking.LinkSettings`
    (``max_speed``, ``gap_frames``, ``divisions``, ``split_distance``, ``start_cost``,
    ``cue_weight``, ``min_track_length``, the division rules, ...; distances in cell
    diameters, so the defaults suit any magnification), with the same defaults; the
    tracker adds where the cells come from.

    Attributes
    ----------
    detection : str
        Where each frame's cells come from (:data:`sam2_cells.detection.DETECTION_SOURCES`
        but ``"labels"``, which takes a stack: pass a detector): ``"auto"`` (the model's
        instance head if it has one, else classical), ``"model"`` or ``"classical"``.
    diameter : float or None
        Typical cell diameter in pixels; None: estimated from the detections.
    sam2_cue : bool
        Carry every detection one frame on with SAM 2 and let the overlap with the next
        frame's detections lower the linking cost by ``cue_weight`` (slower; needs a model).
    min_area : int
        Detections smaller than this many pixels are dropped.
    split_merged : bool
        Classical detections: an object that holds two cells seen apart in the frames
        around it (most of two objects of the frame before inside it, or of the frames
        after) is cut in two (:class:`sam2_cells.split_merged.SplitMergedDetector`).
        On by default: on the tracking benchmark it raised TRA on five of the eight
        movies (most on crowded ones) and moved it by at most 0.001 on the other three
        (``docs/tracking.md``).
    textured : bool
        Classical detections: the nuclei are very textured (bright chromocentres,
        condensed chromatin), so the threshold reads their brightness from a smoothed
        image (:data:`sam2_cells.classical.TEXTURED`) and fills them whole instead of
        following the texture. Off by default: on the tracking benchmark it raises TRA
        where nuclei are textured or large and lowers SEG where they are small and
        smooth, and finds fewer divisions (``docs/tracking.md``). Refused with
        ``detection="model"``.
    """

    detection: str = "auto"
    diameter: float | None = None
    sam2_cue: bool = False
    min_area: int = 12
    split_merged: bool = True
    textured: bool = False

    def __post_init__(self) -> None:
        from sam2_cells.detection import DETECTION_SOURCES

        super().__post_init__()  # the linking values
        if self.detection not in DETECTION_SOURCES or self.detection == "labels":
            raise ValueError(
                f"detection={self.detection!r}: choose auto, model or classical (a label "
                "stack is passed to the tracker as a detector)"
            )
        if self.diameter is not None and not self.diameter > 0:
            raise ValueError(f"diameter={self.diameter} must be > 0 pixels (or None)")
        if self.min_area < 1:
            raise ValueError(f"min_area={self.min_area} must be at least 1 pixel")
        check_textured(self.detection, self.textured)

    def link_settings(self) -> LinkSettings:
        """The linker's part of these settings (no cue weight without the SAM 2 cue)."""
        linking = {f.name: getattr(self, f.name) for f in fields(LinkSettings)}
        linking["cue_weight"] = self.cue_weight if self.sam2_cue else 0.0
        return LinkSettings(**linking)
