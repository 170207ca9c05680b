"""Settings of the cell tracker, with the defaults and what each one decides."""

from __future__ import annotations

from dataclasses import dataclass

from sam2_cells.linking import LinkSettings

__all__ = ["TrackerSettings"]


@dataclass(frozen=True)
class TrackerSettings:
    """How :class:`~sam2_cells.tracker.CellTracker` detects and links cells.

    Distances are in cell diameters, so the defaults suit any magnification.

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
        frame's detections lower the linking cost (slower; needs a model).
    max_speed : float
        Largest move between two frames (diameters).
    gap_frames : int
        Missed frames a track may bridge (0: none).
    divisions : bool
        Find divisions.
    split_distance : float
        Largest distance from a mother to a daughter's first position (diameters).
    split_follows_motion : bool
        Widen ``split_distance`` by the movie's typical frame-to-frame move (the
        daughters of fast movers land farther from where their mother was).
    merge_window : int
        A division whose mother took in a track that ended beside her at most this many
        frames before is undone (two touching cells that parted again); 0: never.
    start_cost : float
        Cost of a track starting or ending (squared diameters): higher gives fewer,
        longer tracks.
    cue_weight : float
        How much a full SAM 2 overlap lowers a link's cost (0..1).
    min_track_length : int
        Isolated tracks (no mother, no daughter, not at the movie's first or last frame)
        shorter than this many frames are dropped as spurious.
    min_area : int
        Detections smaller than this many pixels are dropped.
    """

    detection: str = "auto"
    diameter: float | None = None
    sam2_cue: bool = False
    max_speed: float = 1.0
    gap_frames: int = 1
    divisions: bool = True
    split_distance: float = 0.8
    split_follows_motion: bool = True
    merge_window: int = 4
    start_cost: float = 1.0
    cue_weight: float = 0.8
    min_track_length: int = 1
    min_area: int = 12

    def __post_init__(self) -> None:
        from sam2_cells.detection import DETECTION_SOURCES

        if self.detection not in DETECTION_SOURCES or self.detection == "labels":
            raise ValueError(
                f"detection={self.detection!r}: choose auto, model or classical (a label "
                "stack is passed to the tracker as a detector)"
            )
        if self.diameter is not None and not self.diameter > 0:
            raise ValueError(f"diameter={self.diameter} must be > 0 pixels (or None)")
        if self.min_area < 1:
            raise ValueError(f"min_area={self.min_area} must be at least 1 pixel")
        self.link_settings()  # checks the linking values

    def link_settings(self) -> LinkSettings:
        """The linker's part of these settings."""
        return LinkSettings(
            max_speed=self.max_speed,
            gap_frames=self.gap_frames,
            divisions=self.divisions,
            split_distance=self.split_distance,
            split_follows_motion=self.split_follows_motion,
            merge_window=self.merge_window,
            start_cost=self.start_cost,
            cue_weight=self.cue_weight if self.sam2_cue else 0.0,
            min_track_length=self.min_track_length,
        )
