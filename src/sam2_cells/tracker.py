"""The cell tracker: detect every frame, link globally, write CTC-valid tracks.

1. **Detect** (:mod:`sam2_cells.detection`): each frame's cells from a
   :class:`~sam2_cells.detection.Detector` (a label stack, the classical detector or the
   SAM 2 model). Seeds join in: a seed label image replaces frame 0's detections where
   it has cells; a point seed on no detection becomes one, the mask SAM 2 gives the click.
   Each frame's detections are written into the output as they come (ids 1..N).
2. **Evidence** (optional, :mod:`sam2_cells.evidence`): SAM 2 carries every detection of
   frame ``t - 1`` to ``t``; the overlaps become part of the linking costs.
3. **Link** (:mod:`sam2_cells.linking`): one global LAP over the movie (laptrack):
   frame-to-frame moves, gaps of missed frames, divisions, starts and ends; a movie
   longer than ``window_frames`` in overlapping windows, so memory stays flat.
4. **Write**: every frame's detection ids are replaced by track labels; the lineage is
   CTC-valid by construction.

:meth:`CellTracker.steps` yields a :class:`FrameDone` per frame detected (stage
``"detected"``: detection labels, no lineage yet) and then per frame written (stage
``"tracked"``); stopping the iteration keeps what is done and its ``state`` resumes it,
with the same result as an uninterrupted run (detections and evidence depend on their
frames only; the linking runs once, over all frames).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from sam2_cells.detection import Detector, as_label_frame, make_detector
from sam2_cells.evidence import CueSource, Sam2Cue
from sam2_cells.lineage import TrackRecord
from sam2_cells.linking import Cue, FrameCells, LapLinker, Linker
from sam2_cells.seeds import Seeds
from sam2_cells.tracker_settings import TrackerSettings
from sam2_engine import CancelCallback, ProgressCallback

log = logging.getLogger(__name__)

__all__ = ["CellTracker", "FrameDone", "TrackingOutcome"]


@dataclass
class TrackingOutcome:
    """What a tracking run produced.

    Attributes
    ----------
    labels
        The (T, H, W) label array written into.
    tracks
        The lineage (empty if the run stopped before linking).
    frames_done
        Frames ``0 .. frames_done - 1`` are written as tracks.
    cancelled
        The run stopped early on request.
    state
        What to resume from (:meth:`CellTracker.track` with ``resume=``): lists,
        numbers and per-frame numpy arrays (no copy of a frame's pixels).
    """

    labels: Any
    tracks: list[TrackRecord]
    frames_done: int
    cancelled: bool
    state: dict


@dataclass
class FrameDone:
    """One frame done by :meth:`CellTracker.steps`.

    Attributes
    ----------
    frame
        Its index.
    labels
        (H, W) int32 labels written for it: detection ids (stage ``"detected"``) or track
        labels (``"tracked"``).
    tracks
        The lineage if the movie ended on this frame (empty while detecting).
    state
        What to resume from after this frame (as ``TrackingOutcome.state``).
    total
        Frames in the movie.
    stage
        ``"detected"`` (first pass) or ``"tracked"`` (second pass, final labels).
    """

    frame: int
    labels: np.ndarray
    tracks: list[TrackRecord]
    state: dict
    total: int
    stage: str = "tracked"

    @property
    def progress(self) -> tuple[int, int]:
        """(steps done, steps in all): detecting and writing each count one per frame."""
        done = self.frame + 1 + (self.total if self.stage == "tracked" else 0)
        return done, 2 * self.total


class CellTracker:
    """Segment and track every cell of a (T, H, W) movie, with divisions.

    Parameters
    ----------
    model
        A ``sam2_engine.SAM2Model`` (for model detections, the SAM 2 cue and point
        seeds), or None.
    settings
        Detection source and linking rules.
    detector
        Where the cells of each frame come from (default: ``settings.detection``), e.g. a
        :class:`~sam2_cells.detection.LabelStackDetector` for the user's own labels.
    linker
        Default: :class:`~sam2_cells.linking.LapLinker` with the settings' values.
    cue
        Evidence between consecutive frames (default with ``settings.sam2_cue``:
        :class:`~sam2_cells.evidence.Sam2Cue`).
    embedding_cache
        A ``sam2_engine.EmbeddingCache`` for the SAM 2 sessions (the cue and point
        seeds): tracking the same movie again reads the frames' embeddings from disk.
        None (default): no cache.
    """

    def __init__(
        self,
        model: Any = None,
        settings: TrackerSettings | None = None,
        *,
        detector: Detector | None = None,
        linker: Linker | None = None,
        cue: CueSource | None = None,
        embedding_cache: Any = None,
    ) -> None:
        self.model = model
        self.embedding_cache = embedding_cache
        self.settings = settings or TrackerSettings()
        s = self.settings
        self.detector = detector or make_detector(
            s.detection,
            model=model,
            diameter=s.diameter,
            min_area=s.min_area,
            split_merged=s.split_merged,
            textured=s.textured,
        )
        self.linker = linker or LapLinker(s.link_settings())
        if cue is None and s.sam2_cue:
            if model is None:
                raise ValueError("the SAM 2 cue needs a model")
            cue = Sam2Cue(model, reach=s.max_speed, embedding_cache=embedding_cache)
        self.cue = cue

    def steps(
        self,
        movie: Any,
        seeds: Seeds | None = None,
        out: Any = None,
        *,
        resume: dict | None = None,
    ) -> Iterator[FrameDone]:
        """Track the movie: a generator of :class:`FrameDone` (see the module docstring).

        Parameters are those of :meth:`track`.
        """
        t_total = check_movie(movie)
        hw = (int(movie.shape[1]), int(movie.shape[2]))
        labels = np.zeros((t_total, *hw), np.int32) if out is None else out
        check = getattr(self.detector, "check", None)
        if check is not None:
            check(tuple(int(n) for n in movie.shape))
        run = _Run(self, movie, labels, seeds or Seeds("auto"))
        yield from run.go(resume)

    def track(
        self,
        movie: Any,
        seeds: Seeds | None = None,
        out: Any = None,
        *,
        progress: ProgressCallback | None = None,
        cancel: CancelCallback | None = None,
        resume: dict | None = None,
    ) -> TrackingOutcome:
        """Track the movie.

        Parameters
        ----------
        movie
            (T, H, W) array-like (numpy, dask, zarr), read one frame at a time; T >= 2.
        seeds
            Cells to add to the detections: a label image of frame 0 (it replaces the
            detections it overlaps) or points (a click where no cell is detected adds the
            cell SAM 2 segments there). Default: the detections alone.
        out
            (T, H, W) integer array to write the labels into (numpy or zarr; default: a
            new int32 numpy array).
        progress
            ``progress(done, total)`` after every step (a frame detected, a frame written).
        cancel
            Polled before every step; what is done is kept.
        resume
            ``TrackingOutcome.state`` of a cancelled run with the same ``out``.

        Returns
        -------
        TrackingOutcome
        """
        t_total = check_movie(movie)
        hw = (int(movie.shape[1]), int(movie.shape[2]))
        labels = np.zeros((t_total, *hw), np.int32) if out is None else out
        last: FrameDone | None = None
        cancelled = False
        steps = self.steps(movie, seeds, labels, resume=resume)
        while True:
            if last is not None and cancel is not None and cancel():
                cancelled = True
                steps.close()
                break
            try:
                last = next(steps)
            except StopIteration:
                break
            if progress is not None:
                progress(*last.progress)
        if last is None:  # resumed after the last frame: nothing left to do
            return TrackingOutcome(labels, [], t_total, False, resume or {})
        written = last.frame + 1 if last.stage == "tracked" else 0
        cancelled = cancelled and not (written == t_total)
        return TrackingOutcome(labels, last.tracks, written, cancelled, last.state)


def check_movie(movie: Any) -> int:
    """The number of frames of a movie that can be tracked (``ValueError`` otherwise)."""
    shape = tuple(int(n) for n in getattr(movie, "shape", ()))
    if len(shape) not in (3, 4):
        raise ValueError(
            f"the movie must be (T, H, W) (or (T, H, W, C), channels last), got shape {shape}"
        )
    if shape[0] < 2:
        raise ValueError(
            f"the movie has {shape[0]} frame(s): tracking needs at least 2 frames "
            "(segment a single image instead)"
        )
    return shape[0]


def clip_lineage(tracks: list[TrackRecord], last: int) -> list[TrackRecord]:
    """The lineage if the movie ended on frame ``last``."""
    out = [r._replace(end=min(r.end, last)) for r in tracks if r.begin <= last]
    labels = {r.label for r in out}
    return [r if r.parent in labels else r._replace(parent=0) for r in out]


class _Run:
    """One tracking run: detect every frame, then link and write (module docstring)."""

    def __init__(self, tracker: CellTracker, movie: Any, out: Any, seeds: Seeds) -> None:
        self.t = tracker
        self.s = tracker.settings
        self.movie = movie
        self.out = out
        self.seeds = seeds
        self.n = int(movie.shape[0])
        self.cells: list[FrameCells] = []
        self.cues: list[Cue | None] = []
        self._saved: tuple[list, list] = ([], [])  # cells (their arrays) and cues, for the state
        self._points = self._points_by_frame()
        self._clicker: Any = None

    def _points_by_frame(self) -> dict[int, list[tuple[float, float]]]:
        pts: dict[int, list[tuple[float, float]]] = {}
        if self.seeds.kind == "points" and self.seeds.points is not None:
            for t, y, x in np.asarray(self.seeds.points, float):
                pts.setdefault(round(t), []).append((float(y), float(x)))
        return pts

    # ------------------------------------------------------------------ the passes
    def go(self, resume: dict | None) -> Iterator[FrameDone]:
        stage, start = "detect", 0
        links = None
        if resume:
            stage, start = str(resume["stage"]), int(resume["next"])
            self._saved = (list(resume["cells"]), list(resume["cues"]))
            self.cells = [FrameCells.from_state(c) for c in resume["cells"]]
            self.cues = [None if c is None else Cue.from_state(c) for c in resume["cues"]]
            if stage == "write":
                links = (
                    [np.asarray(lut, np.int32) for lut in resume["luts"]],
                    [TrackRecord(*map(int, r)) for r in resume["tracks"]],
                )
        if stage == "detect":
            for t in range(start, self.n):
                found = self._detect(t)
                self.out[t] = found
                if t < self.n - 1:
                    yield FrameDone(t, found, [], self._detect_state(t + 1), self.n, "detected")
            links = self._link()
            start = 0
        assert links is not None
        luts, tracks = links
        saved = (list(luts), [list(r) for r in tracks])  # the arrays, not per-label lists
        for t in range(start, self.n):
            frame = luts[t][np.asarray(self.out[t]).astype(np.int64)]
            self.out[t] = frame
            state = self._write_state(t + 1, *saved) if t < self.n - 1 else {}
            yield FrameDone(t, frame, clip_lineage(tracks, t), state, self.n, "tracked")

    def _detect(self, t: int) -> np.ndarray:
        given = getattr(self.t.detector, "name", "") == "labels"  # the user's labels: all kept
        found = self.t.detector.detect(self.movie, t)
        found = as_label_frame(found, 1 if given else self.s.min_area)
        if t == 0 and self.seeds.kind == "labels" and self.seeds.labels is not None:
            found = merge_seed_labels(np.asarray(self.seeds.labels), found)
        for y, x in self._points.get(t, []):
            found = self._add_click(found, t, y, x)
        cells = FrameCells.from_labels(found)
        cue = None
        if self.t.cue is not None and t > 0:
            before = np.asarray(self.out[t - 1]).astype(np.int32)
            cue = self.t.cue.cue(self.movie, t, before, found)
        self.cells.append(cells)
        self.cues.append(cue)
        self._saved[0].append(cells.to_state())
        self._saved[1].append(None if cue is None else cue.to_state())
        return found

    def _add_click(self, found: np.ndarray, t: int, y: float, x: float) -> np.ndarray:
        r, c = round(y), round(x)
        if found[r, c]:
            return found  # on a detected cell already
        if self.t.model is None:
            raise ValueError("point seeds need a SAM 2 model (to segment the clicked cells)")
        if self._clicker is None:
            from sam2_cells.evidence import ClickSegmenter

            self._clicker = ClickSegmenter(self.t.model, self.t.embedding_cache)
        mask = self._clicker.mask(self.movie, t, y, x) & (found == 0)
        if int(mask.sum()) >= self.s.min_area:
            found = found.copy()
            found[mask] = int(found.max()) + 1
        return found

    def _diameter(self) -> float:
        if self.s.diameter:
            return float(self.s.diameter)
        known = getattr(self.t.detector, "diameter", None)
        if known:
            return float(known)
        areas = np.concatenate([c.areas for c in self.cells]) if self.cells else np.zeros(0)
        return float(2 * np.sqrt(np.median(areas) / np.pi)) if areas.size else 10.0

    def _link(self) -> tuple[list[np.ndarray], list[TrackRecord]]:
        links = self.t.linker.link(self.cells, self.cues, self._diameter())
        log.debug("linked %d tracks over %d frames", len(links.tracks), self.n)
        return links.luts, links.tracks

    # ------------------------------------------------------------------ resume
    def _detect_state(self, next_frame: int) -> dict:
        return {
            "stage": "detect",
            "next": next_frame,
            "cells": list(self._saved[0]),
            "cues": list(self._saved[1]),
        }

    @staticmethod
    def _write_state(next_frame: int, luts: list, tracks: list) -> dict:
        return {
            "stage": "write",
            "next": next_frame,
            "cells": [],
            "cues": [],
            "luts": luts,
            "tracks": tracks,
        }


def merge_seed_labels(seeds: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Seed labels (kept whole, ids 1..K) plus the detections that lie mostly off them."""
    out = as_label_frame(seeds)
    k = int(out.max(initial=0))
    on_seed = out > 0
    n = k
    for i in range(1, int(found.max(initial=0)) + 1):
        mask = found == i
        area = int(mask.sum())
        free = mask & ~on_seed
        if area and free.sum() > 0.8 * area:
            n += 1
            out[free] = n
    return out
