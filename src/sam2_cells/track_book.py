"""The tracker's bookkeeping: which tracks are alive, their labels, ends and parents.

Every track has a CTC label that never changes. SAM 2 follows a track through a session
object; when a cell divides, the mother's track ends and each daughter starts a track
with a new label (the session object may carry on as one daughter). :class:`TrackBook`
turns the history into CTC-valid :class:`~sam2_cells.lineage.TrackRecord` lines: a
track is written on the contiguous frames from its first to its last, and a daughter
begins the frame after its mother ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sam2_cells.lineage import TrackRecord

__all__ = ["LiveTrack", "TrackBook"]


@dataclass
class LiveTrack:
    """A track being followed.

    Attributes
    ----------
    label : int
        Its CTC label.
    obj_id : int
        The SAM 2 session object that follows it.
    begin : int
        First frame.
    parent : int
        Mother's label (0: none).
    areas : list of int
        Mask areas of the last few frames (for division cues).
    """

    label: int
    obj_id: int
    begin: int
    parent: int = 0
    areas: list[int] = field(default_factory=list)

    def recent_area(self) -> float:
        """Mean area over the remembered frames before the latest (0 if none)."""
        before = self.areas[:-1]
        return sum(before) / len(before) if before else 0.0


class TrackBook:
    """Live and finished tracks, label allocation and the resulting lineage."""

    REMEMBERED_AREAS = 4

    def __init__(self, first_label: int = 1) -> None:
        self.live: dict[int, LiveTrack] = {}  # by label
        self.finished: list[TrackRecord] = []
        self._next_label = int(first_label)
        self._next_obj = 1

    def new_label(self) -> int:
        label = self._next_label
        self._next_label += 1
        return label

    def new_obj_id(self) -> int:
        obj = self._next_obj
        self._next_obj += 1
        return obj

    def start(self, frame: int, obj_id: int | None = None, parent: int = 0) -> LiveTrack:
        """A new track from ``frame`` (a new session object unless ``obj_id`` is given)."""
        track = LiveTrack(self.new_label(), obj_id or self.new_obj_id(), frame, parent)
        self.live[track.label] = track
        return track

    def end(self, label: int, last_frame: int) -> None:
        """The track ``label`` was last seen on ``last_frame`` (dropped if it never was)."""
        track = self.live.pop(label)
        if last_frame >= track.begin:
            self.finished.append(TrackRecord(track.label, track.begin, last_frame, track.parent))

    def by_object(self) -> dict[int, LiveTrack]:
        return {t.obj_id: t for t in self.live.values()}

    def seen(self, label: int, area: int) -> None:
        areas = self.live[label].areas
        areas.append(int(area))
        del areas[: -self.REMEMBERED_AREAS]

    def records(self, last_frame: int) -> list[TrackRecord]:
        """The lineage if the movie stopped at ``last_frame`` (live tracks end there).

        A daughter whose mother was dropped (never seen) keeps no parent.
        """
        out = list(self.finished)
        out += [
            TrackRecord(t.label, t.begin, last_frame, t.parent)
            for t in self.live.values()
            if last_frame >= t.begin
        ]
        labels = {r.label for r in out}
        out = [r if r.parent in labels else r._replace(parent=0) for r in out]
        return sorted(out, key=lambda r: r.label)

    # ------------------------------------------------------------------ resume
    def state(self) -> dict:
        """Plain values to resume from (see :meth:`from_state`)."""
        return {
            "next_label": self._next_label,
            "next_obj": self._next_obj,
            "finished": [list(r) for r in self.finished],
            "live": [[t.label, t.obj_id, t.begin, t.parent, t.areas] for t in self.live.values()],
        }

    @classmethod
    def from_state(cls, state: dict) -> TrackBook:
        book = cls()
        book._next_label = int(state["next_label"])
        book._next_obj = int(state["next_obj"])
        book.finished = [TrackRecord(*map(int, r)) for r in state["finished"]]
        for label, obj, begin, parent, areas in state["live"]:
            book.live[int(label)] = LiveTrack(
                int(label), int(obj), int(begin), int(parent), [int(a) for a in areas]
            )
        return book
