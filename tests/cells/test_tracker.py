"""The cell tracker's machinery, driven by oracle parts that follow and detect the
ground truth (so that every assertion is about the tracker's own rules: ends, divisions,
new cells, no overlap, CTC-valid lineage, resume after a cancel)."""

from __future__ import annotations

import numpy as np
import pytest

from sam2_cells import Seeds, check_lineage, score_arrays
from sam2_cells.divisions import daughter_of, split_pieces
from sam2_cells.track_book import LiveTrack, TrackBook
from sam2_cells.tracker import CellTracker
from sam2_cells.tracker_settings import TrackerSettings
from sam2_synthetic import microscopy_timelapse


class OracleFollower:
    """Follows ground-truth cells: after a division it returns both daughters as one
    mask (``both=True``, SAM 2 following the pair) or only the first one."""

    def __init__(self, gt: np.ndarray, tracks, both: bool) -> None:
        self.gt, self.both = gt, both
        self.children: dict[int, list[int]] = {}
        for t in tracks:
            if t.parent:
                self.children.setdefault(t.parent, []).append(t.label)
        self.follows: dict[int, list[int]] = {}  # obj -> gt labels

    def _gt_of(self, frame: int, mask: np.ndarray) -> list[int]:
        values, counts = np.unique(self.gt[frame][mask], return_counts=True)
        keep = [(c, v) for v, c in zip(values, counts, strict=True) if v]
        return [int(max(keep)[1])] if keep else []

    def add(self, frame: int, obj_id: int, mask: np.ndarray) -> None:
        self.follows[obj_id] = self._gt_of(frame, mask)

    def remove(self, obj_id: int) -> None:
        self.follows.pop(obj_id)

    def click(self, frame: int, obj_id: int, row: float, col: float) -> np.ndarray:
        value = self.gt[frame][int(row), int(col)]
        return self.gt[frame] == value if value else np.zeros(self.gt.shape[1:], bool)

    def step(self, frame: int, labels: dict[int, int]):
        out = np.zeros(self.gt.shape[1:], np.int32)
        present = {}
        for obj, ids in self.follows.items():
            now = [i for i in ids if (self.gt[frame] == i).any()]
            if not now:  # ended: follow the daughters, if any
                kids = [k for i in ids for k in self.children.get(i, [])]
                now = kids if self.both else kids[:1]
                self.follows[obj] = now
            mask = np.isin(self.gt[frame], now) if now else np.zeros(out.shape, bool)
            present[obj] = 5.0 if mask.any() else -5.0
            out[mask & (out == 0)] = labels[obj]
        return out, present


class OracleDetector:
    def __init__(self, gt: np.ndarray) -> None:
        self.gt = gt
        self.cell_extent = None

    def learn_extent(self, labels: np.ndarray) -> None:
        self.cell_extent = 10.0

    def detect(self, frame: int, claimed: np.ndarray | None) -> np.ndarray:
        labels = self.gt[frame].copy()
        if claimed is not None:
            for v in np.unique(labels[claimed]):
                if v and claimed[labels == v].mean() > 0.25:
                    labels[labels == v] = 0
        return labels


class OracleTracker(CellTracker):
    def __init__(self, gt, tracks, both=True, settings=None) -> None:
        super().__init__(model=None, settings=settings)
        self.gt, self.gt_tracks, self.both = gt, tracks, both

    def _parts(self, movie):
        return OracleFollower(self.gt, self.gt_tracks, self.both), OracleDetector(self.gt)


def _movie(seed: int):
    tl = microscopy_timelapse(12, (128, 128), seed=seed, modality="nuclear", n_cells=10)
    assert len({t.parent for t in tl.tracks if t.parent}) >= 3, "divisions to find"
    assert any(t.begin > 0 and t.parent == 0 for t in tl.tracks), "cells that enter"
    return tl


@pytest.fixture(scope="module")
def movie():
    """Daughters that part within a few frames (touching at first)."""
    return _movie(8)


def _check(movie, outcome, bc: float = 0.99) -> None:
    check_lineage(outcome.tracks, outcome.labels)
    scores = score_arrays(
        outcome.labels, outcome.tracks, movie.labels, movie.tracks, gt_seg=movie.labels
    )
    assert scores.det > 0.99 and scores.seg > 0.97 and scores.tra > 0.98
    assert scores.bc[0] >= bc, "divisions found at their frame"


def test_split_masks_become_daughters_and_entering_cells_tracks(movie):
    settings = TrackerSettings(detect_every=1, min_area=1)
    out = OracleTracker(movie.labels, movie.tracks, both=True, settings=settings).track(
        movie.movie, Seeds("labels", labels=movie.labels[0])
    )
    _check(movie, out)
    assert out.frames_done == 12 and not out.cancelled


def test_a_new_cell_beside_a_shrunken_track_is_its_second_daughter():
    movie = _movie(6)
    settings = TrackerSettings(detect_every=1, min_area=1)
    out = OracleTracker(movie.labels, movie.tracks, both=False, settings=settings).track(
        movie.movie, Seeds("labels", labels=movie.labels[0])
    )
    _check(movie, out)


def test_a_late_split_is_dated_back_to_when_the_daughters_appeared(movie):
    no_backdate = TrackerSettings(detect_every=1, min_area=1, max_backdate=0)
    late = OracleTracker(movie.labels, movie.tracks, both=True, settings=no_backdate).track(
        movie.movie, Seeds("labels", labels=movie.labels[0])
    )
    scores = score_arrays(late.labels, late.tracks, movie.labels, movie.tracks)
    assert scores.bc[0] < 0.99, "without looking back the divisions come late"


def test_automatic_and_point_seeds_start_the_same_tracks(movie):
    settings = TrackerSettings(detect_every=1, min_area=1)
    auto = OracleTracker(movie.labels, movie.tracks, settings=settings).track(movie.movie)
    _check(movie, auto)
    rows, cols = np.nonzero(movie.labels[0])
    first = {}
    for r, c in zip(rows, cols, strict=True):
        first.setdefault(movie.labels[0][r, c], (0.0, float(r), float(c)))
    points = Seeds("points", points=np.array(list(first.values())))
    clicked = OracleTracker(movie.labels, movie.tracks, settings=settings).track(
        movie.movie, points
    )
    _check(movie, clicked)


def test_tracks_never_overlap_and_end_when_the_cell_leaves(movie):
    out = OracleTracker(movie.labels, movie.tracks, settings=TrackerSettings(min_area=1)).track(
        movie.movie, Seeds("labels", labels=movie.labels[0])
    )
    labels = np.asarray(out.labels)
    for record in out.tracks:
        frames = np.nonzero([(labels[t] == record.label).any() for t in range(12)])[0]
        assert frames.min() == record.begin and frames.max() == record.end
        assert len(frames) == record.end - record.begin + 1, "contiguous"


def test_a_cancelled_run_keeps_its_frames_and_resumes_to_the_same_result(movie):
    settings = TrackerSettings(detect_every=1, min_area=1)
    seeds = Seeds("labels", labels=movie.labels[0])
    whole = OracleTracker(movie.labels, movie.tracks, settings=settings).track(movie.movie, seeds)
    calls = []
    out = np.zeros_like(movie.labels)
    part = OracleTracker(movie.labels, movie.tracks, settings=settings).track(
        movie.movie, seeds, out, cancel=lambda: len(calls) >= 5,
        progress=lambda done, total: calls.append(done),
    )
    assert part.cancelled and part.frames_done == 5 and not out[5:].any()
    check_lineage(part.tracks, out[:5])
    rest = OracleTracker(movie.labels, movie.tracks, settings=settings).track(
        movie.movie, seeds, out, resume=part.state
    )
    assert rest.frames_done == 12
    np.testing.assert_array_equal(np.asarray(rest.labels), np.asarray(whole.labels))
    assert rest.tracks == whole.tracks


def test_split_pieces_needs_two_substantial_pieces():
    mask = np.zeros((20, 40), bool)
    mask[5:15, 2:12] = True
    assert split_pieces(mask, 0.25, 5) == []
    mask[5:15, 20:28] = True
    big, small = split_pieces(mask, 0.25, 5)
    assert big.sum() == 100 and small.sum() == 80
    mask[0, 39] = True  # a speck is not a daughter
    assert len(split_pieces(mask, 0.25, 5)) == 2
    tiny = np.zeros((20, 40), bool)
    tiny[5:15, 2:12] = True
    tiny[5:7, 20:22] = True
    assert split_pieces(tiny, 0.25, 5) == []


def test_daughter_of_wants_a_shrunken_neighbour_of_similar_size():
    mother = LiveTrack(1, 1, 0, areas=[100, 100, 100, 50])
    far = LiveTrack(2, 2, 0, areas=[100, 100, 100, 50])
    steady = LiveTrack(3, 3, 0, areas=[100, 100, 100, 100])
    cands = [(mother, (10.0, 10.0), 50), (far, (80.0, 80.0), 50), (steady, (12.0, 12.0), 100)]
    assert daughter_of((10.0, 20.0), 50, cands, 0.8, 1.6, 2.5) is mother
    assert daughter_of((10.0, 20.0), 500, cands, 0.8, 1.6, 2.5) is None, "larger than mother"
    assert daughter_of((10.0, 20.0), 25, cands, 0.8, 1.6, 2.5) is mother, "cut by the border"
    assert daughter_of((10.0, 20.0), 5, cands, 0.8, 1.6, 2.5) is None, "a speck"
    assert daughter_of((50.0, 50.0), 50, cands, 0.8, 1.6, 2.5) is None, "too far"


def test_the_book_writes_ctc_rules_and_round_trips_its_state():
    book = TrackBook()
    a = book.start(0)
    book.seen(a.label, 10)
    book.end(a.label, 3)
    b, c = book.start(4, parent=a.label), book.start(4, parent=a.label)
    ghost = book.start(5)
    book.end(ghost.label, 4)  # ended before it was ever written: dropped
    records = book.records(6)
    assert [tuple(r) for r in records] == [
        (a.label, 0, 3, 0), (b.label, 4, 6, a.label), (c.label, 4, 6, a.label)
    ]
    again = TrackBook.from_state(book.state())
    assert again.records(6) == records and again.new_label() == book.new_label()
