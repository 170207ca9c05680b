"""The cell tracker: SAM 2 follows every cell; detection and division cues do the rest.

SAM 2 follows every track (:class:`~sam2_cells.follower.SessionFollower`: one engine
session for the movie, one object per track, in its own window for window models, so the
cost of a frame follows the number of cells, not the frame size). Frame by frame:

1. every live track moves to the frame (all in batches); the frame's label image gives
   each pixel to at most one track, the one SAM 2 is surest of;
2. a track whose object score says the cell is gone, or whose mask vanished, ends;
3. a track whose mask fell apart into two pieces divided: it ends, each piece starts a
   daughter track (SAM 2 follows each daughter from its own mask);
4. every ``detect_every`` frames, cells on unclaimed pixels are detected: one next to a
   track that just shrank is that track's second daughter (the mother ends and the
   track's mask becomes the first daughter), any other starts a new track;
5. the frame's labels are written.

Tracks never overlap and a track's frames are contiguous, so the lineage is CTC-valid
as it is made (:class:`~sam2_cells.track_book.TrackBook`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage as ndi

import sam2_engine as se
from sam2_cells.detection import CellDetector, Detector
from sam2_cells.divisions import backdate_split, daughter_of, split_pieces
from sam2_cells.follower import Follower, SessionFollower
from sam2_cells.lineage import TrackRecord
from sam2_cells.seeds import Seeds
from sam2_cells.track_book import LiveTrack, TrackBook
from sam2_cells.tracker_settings import TrackerSettings

log = logging.getLogger(__name__)

__all__ = ["CellTracker", "FrameDone", "TrackingOutcome"]

ProgressFn = Callable[[int, int], None]
CancelFn = Callable[[], bool]


@dataclass
class TrackingOutcome:
    """What a tracking run produced.

    Attributes
    ----------
    labels
        The (T, H, W) label array written into (frames after ``frames_done`` untouched).
    tracks
        The lineage of the frames done.
    frames_done
        Frames ``0 .. frames_done - 1`` are written.
    cancelled
        The run stopped early on request.
    state
        Plain values to resume from (:meth:`CellTracker.track` with ``resume=``).
    """

    labels: Any
    tracks: list[TrackRecord]
    frames_done: int
    cancelled: bool
    state: dict


class CellTracker:
    """Segment and track every cell of a (T, H, W) movie, with divisions.

    Parameters
    ----------
    model
        A ``sam2_engine.SAM2Model`` (e.g. ``se.build_model("microscopy")``).
    settings
        Detection, ending and division rules.
    """

    def __init__(self, model: Any, settings: TrackerSettings | None = None) -> None:
        self.model = model
        self.settings = settings or TrackerSettings()

    def _parts(self, movie: Any) -> tuple[Follower, Detector]:
        """The follower and the detector of one run (replaceable, e.g. in tests)."""
        source = se.FrameSource(movie)
        s = self.settings
        detector = Detector(
            self.model, source, s.detection_share, s.min_area, s.max_claimed_overlap
        )
        return SessionFollower(self.model, source), detector

    def frames(
        self,
        movie: Any,
        seeds: Seeds | None = None,
        out: Any = None,
        *,
        resume: dict | None = None,
    ) -> Iterator[FrameDone]:
        """Track the movie frame by frame: a generator of :class:`FrameDone`.

        Parameters are those of :meth:`track`. Stopping the iteration keeps the frames
        done (in ``out``); the last :class:`FrameDone` holds the lineage and the state
        to resume from.
        """
        t_total = _check_movie(movie)
        hw = (int(movie.shape[1]), int(movie.shape[2]))
        labels = np.zeros((t_total, *hw), np.int32) if out is None else out
        run = _Run(self._parts(movie), self.settings, movie, labels, seeds or Seeds("auto"))
        if resume:
            start = run.restore(resume)
        else:
            run.seed()
            run.write(0)
            start = 1
            yield run.done(0, t_total)
        for t in range(start, t_total):
            run.step(t)
            yield run.done(t, t_total)

    def track(
        self,
        movie: Any,
        seeds: Seeds | None = None,
        out: Any = None,
        *,
        progress: ProgressFn | None = None,
        cancel: CancelFn | None = None,
        resume: dict | None = None,
    ) -> TrackingOutcome:
        """Track the movie.

        Parameters
        ----------
        movie
            (T, H, W) array-like (numpy, dask, zarr), read one frame at a time.
        seeds
            Where to start (default: automatic detection on frame 0). Point seeds start
            their track on the point's frame.
        out
            (T, H, W) integer array to write the labels into (numpy or zarr; default: a
            new int32 numpy array).
        progress
            ``progress(done, total)`` after every frame.
        cancel
            Polled before every frame; the frames done are kept.
        resume
            ``TrackingOutcome.state`` of a cancelled run with the same ``out``: tracking
            continues after its last frame, from the labels written there.

        Returns
        -------
        TrackingOutcome
        """
        t_total = _check_movie(movie)
        hw = (int(movie.shape[1]), int(movie.shape[2]))
        labels = np.zeros((t_total, *hw), np.int32) if out is None else out
        last: FrameDone | None = None
        cancelled = False
        steps = self.frames(movie, seeds, labels, resume=resume)
        while True:
            if last is not None and cancel is not None and cancel():
                cancelled = last.frame + 1 < t_total
                steps.close()
                break
            try:
                last = next(steps)
            except StopIteration:
                break
            if progress is not None:
                progress(last.frame + 1, t_total)
        if last is None:  # resumed after the last frame: nothing left to do
            return TrackingOutcome(labels, [], t_total, False, resume or {})
        return TrackingOutcome(labels, last.tracks, last.frame + 1, cancelled, last.state)


def _check_movie(movie: Any) -> int:
    if len(movie.shape) not in (3, 4) or int(movie.shape[0]) == 0:
        raise ValueError(
            f"the movie must be (T, H, W) (or (T, H, W, C), channels last) with T >= 1 "
            f"frames, got shape {tuple(movie.shape)}"
        )
    return int(movie.shape[0])


@dataclass
class FrameDone:
    """One frame written by :meth:`CellTracker.frames`.

    Attributes
    ----------
    frame
        Its index.
    labels
        (H, W) int32 labels written for it.
    tracks
        The lineage if the movie ended on this frame.
    state
        Plain values to resume from after this frame.
    total
        Frames in the movie.
    """

    frame: int
    labels: np.ndarray
    tracks: list[TrackRecord]
    state: dict
    total: int


class _Run:
    """One tracking run (see the module docstring for the steps of a frame)."""

    def __init__(
        self,
        parts: tuple[Follower, CellDetector],
        settings: TrackerSettings,
        movie: Any,
        out: Any,
        seeds: Seeds,
    ) -> None:
        self.s = settings
        self.movie = movie
        self.out = out
        self.seeds = seeds
        self.follower, self.detector = parts
        self.book = TrackBook()
        self.current = np.zeros(out.shape[1:], np.int32)  # labels of the frame being made
        self.last_written = -1
        self._pending_points = self._points_by_frame()

    # ------------------------------------------------------------------ start
    def _points_by_frame(self) -> dict[int, list[tuple[float, float]]]:
        pts: dict[int, list[tuple[float, float]]] = {}
        if self.seeds.kind == "points" and self.seeds.points is not None:
            for t, y, x in np.asarray(self.seeds.points, float):
                pts.setdefault(round(t), []).append((float(y), float(x)))
        return pts

    def seed(self) -> None:
        """Start the tracks of frame 0."""
        if self.seeds.kind == "labels" and self.seeds.labels is not None:
            seed_labels = np.asarray(self.seeds.labels)
            for value in np.unique(seed_labels[seed_labels > 0]):
                self._start(0, seed_labels == value)
            self.detector.learn_extent(self.current)
        elif self.seeds.kind == "auto":
            self._detect(0)
        self._add_point_seeds(0)

    def restore(self, state: dict) -> int:
        """Continue a cancelled run: its live tracks restart from their last masks."""
        self.book = TrackBook.from_state(state["book"])
        last = int(state["last_written"])
        self.current = np.asarray(self.out[last]).astype(np.int32)
        for track in self.book.live.values():
            mask = self.current == track.label
            if mask.any():
                self.follower.add(last, track.obj_id, mask)
        if state.get("cell_extent") is not None:
            self.detector.cell_extent = float(state["cell_extent"])
        self.last_written = last
        self._pending_points = {t: p for t, p in self._pending_points.items() if t > last}
        return last + 1

    def state(self) -> dict:
        return {
            "book": self.book.state(),
            "last_written": self.last_written,
            "cell_extent": self.detector.cell_extent,
        }

    def _start(self, frame: int, mask: np.ndarray, parent: int = 0, obj_id: int | None = None
               ) -> LiveTrack | None:
        """A new track from ``mask`` on ``frame`` (only its unclaimed pixels)."""
        mask = mask & (self.current == 0)
        if int(mask.sum()) < self.s.min_area:
            return None
        track = self.book.start(frame, obj_id, parent)
        self.follower.add(frame, track.obj_id, mask)
        self.current[mask] = track.label
        self.book.seen(track.label, int(mask.sum()))
        return track

    def _add_point_seeds(self, frame: int) -> None:
        for y, x in self._pending_points.pop(frame, []):
            if self.current[int(y), int(x)]:
                continue  # on a cell that is tracked already
            mask = self.follower.click(frame, self.book.new_obj_id(), y, x)
            self._start(frame, mask)

    # ------------------------------------------------------------------ a frame
    def step(self, t: int) -> None:
        """Propagate to frame ``t``, end, split and detect tracks, write the frame."""
        by_obj = self.book.by_object()
        self.current = np.zeros_like(self.current)
        if by_obj:
            labels = {o: track.label for o, track in by_obj.items()}
            self.current, present = self.follower.step(t, labels)
            self._end_or_split(t, by_obj, present)
        if self.s.detect_every and t % self.s.detect_every == 0:
            self._detect(t)
        self._add_point_seeds(t)
        self.write(t)

    def _end_or_split(self, t: int, by_obj: dict[int, LiveTrack], present: dict) -> None:
        boxes = ndi.find_objects(self.current)
        for obj_id, track in list(by_obj.items()):
            box = boxes[track.label - 1] if track.label - 1 < len(boxes) else None
            mask = None if box is None else self.current[box] == track.label
            area = 0 if mask is None else int(mask.sum())
            if present.get(obj_id, -1.0) <= self.s.min_object_score or area < self.s.min_area:
                self._end(track, t - 1, box, mask)
                continue
            pieces = split_pieces(mask, self.s.split_min_share, self.s.min_area)
            if pieces:
                self._divide(t, track, box, pieces)
            else:
                self.book.seen(track.label, area)

    def _end(self, track: LiveTrack, last: int, box: Any, mask: np.ndarray | None) -> None:
        if box is not None and mask is not None:
            self.current[box][mask] = 0
        self.book.end(track.label, last)
        self.follower.remove(track.obj_id)

    def _divide(self, t: int, mother: LiveTrack, box: Any, pieces: list[np.ndarray]) -> None:
        """Each piece of the mother's mask starts a daughter on ``t``; the division is
        dated back to the first frame on which the mother's mask already parted into the
        two (the daughters touching), and those written frames are relabelled."""
        full = []
        for piece in pieces:
            m = np.zeros(self.current.shape, bool)
            m[box] = piece
            full.append(m)
        first = max(mother.begin + 1, t - self.s.max_backdate)
        history = [np.asarray(self.out[f]) == mother.label for f in range(t - 1, first - 1, -1)]
        back = backdate_split(history, full)
        born = t - len(back)
        self.current[box][self.current[box] == mother.label] = 0
        self.book.end(mother.label, born - 1)
        self.follower.remove(mother.obj_id)
        daughters = [self._start(t, m, parent=mother.label) for m in full]
        for k, halves in enumerate(back, start=1):
            frame = np.asarray(self.out[t - k]).copy()
            frame[frame == mother.label] = 0
            for daughter, half in zip(daughters, halves, strict=True):
                if daughter is not None:
                    frame[half] = daughter.label
            self.out[t - k] = frame
        for daughter in daughters:
            if daughter is not None:
                daughter.begin = born
        log.debug("frame %d: track %d divided on frame %d (split mask)", t, mother.label, born)

    def _detect(self, t: int) -> None:
        claimed = self.current > 0
        found = self.detector.detect(t, claimed)
        if not found.any():
            return
        live = self._live_geometry()
        for index, box in enumerate(ndi.find_objects(found), start=1):
            if box is None:
                continue
            mask = np.zeros(found.shape, bool)
            mask[box] = found[box] == index
            area = int(mask.sum())
            rows, cols = np.nonzero(mask)
            mother = daughter_of(
                (rows.mean(), cols.mean()), area, live, self.s.division_area_drop,
                self.s.division_distance, self.s.daughter_size_ratio,
            )
            if mother is not None and mother.label in self.book.live and t > mother.begin:
                self._divide_with(t, mother, mask)
                live = [g for g in live if g[0].label != mother.label]
            else:
                self._start(t, mask)

    def _live_geometry(self) -> list[tuple[LiveTrack, tuple[float, float], int]]:
        out = []
        boxes = ndi.find_objects(self.current)
        for track in self.book.live.values():
            box = boxes[track.label - 1] if track.label - 1 < len(boxes) else None
            if box is None:
                continue
            rows, cols = np.nonzero(self.current[box] == track.label)
            centre = (rows.mean() + box[0].start, cols.mean() + box[1].start)
            out.append((track, centre, len(rows)))
        return out

    def _divide_with(self, t: int, mother: LiveTrack, second: np.ndarray) -> None:
        """The mother's mask on ``t`` is one daughter, ``second`` the other."""
        first = self.current == mother.label
        self.current[first] = 0
        self.book.end(mother.label, t - 1)
        self.follower.remove(mother.obj_id)
        self._start(t, first, parent=mother.label)
        self._start(t, second, parent=mother.label)
        log.debug("frame %d: track %d divided (new cell beside it)", t, mother.label)

    def write(self, t: int) -> None:
        self.out[t] = self.current
        self.last_written = t

    def done(self, t: int, total: int) -> FrameDone:
        return FrameDone(t, self.current.copy(), self.book.records(t), self.state(), total)
