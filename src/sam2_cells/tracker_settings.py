"""Settings of the cell tracker, with the defaults and what each one decides."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TrackerSettings"]


@dataclass(frozen=True)
class TrackerSettings:
    """How :class:`~sam2_cells.tracker.CellTracker` follows, finds, ends and splits cells.

    Attributes
    ----------
    detect_every : int
        Look for cells that no track claims (entering the field, missed so far) every this
        many frames (0: only when seeding automatically).
    detection_share : float
        Share of a detection tile a typical cell fills (smaller: bigger, fewer tiles).
    min_object_score : float
        A track ends when SAM 2's object-presence logit for it is not above this.
    min_area : int
        A mask smaller than this many pixels counts as lost (and as no detection).
    max_claimed_overlap : float
        A detection lying more than this share on pixels of existing tracks (grown by two
        pixels) is a duplicate and dropped.
    split_min_share : float
        A track whose mask falls apart into two pieces, the smaller holding at least this
        share, divided: the mother ends and the pieces become daughters.
    division_area_drop : float
        A new detection next to a track whose area fell below this share of its recent
        mean is that track's second daughter (the first is what the track still follows).
    division_distance : float
        "Next to": centroids at most this many mother diameters apart.
    daughter_size_ratio : float
        A second daughter is at most twice this factor smaller than her mother was
        (daughters cut by the image border are small), and not larger.
    max_backdate : int
        When a mask falls apart, look back at most this many frames for the frame on
        which the daughters were already there, touching (the division is dated there).
    """

    detect_every: int = 5
    detection_share: float = 0.18
    min_object_score: float = 0.0
    min_area: int = 12
    max_claimed_overlap: float = 0.25
    split_min_share: float = 0.25
    division_area_drop: float = 0.8
    division_distance: float = 1.6
    daughter_size_ratio: float = 2.5
    max_backdate: int = 3

    def __post_init__(self) -> None:
        if self.detect_every < 0:
            raise ValueError(f"detect_every={self.detect_every} must be >= 0")
        for name in ("detection_share", "max_claimed_overlap", "split_min_share"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"{name}={value} must be in (0, 1]")
        if self.min_area < 1:
            raise ValueError(f"min_area={self.min_area} must be at least 1 pixel")
        if self.daughter_size_ratio < 1.0 or self.division_distance <= 0:
            raise ValueError("daughter_size_ratio must be >= 1 and division_distance > 0")
