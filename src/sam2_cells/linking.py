"""Linking detections into tracks: a global LAP over the movie (laptrack), in windows.

:class:`FrameCells` holds what linking needs of one frame's detections (centroids and
areas); :class:`Cue` is optional evidence between consecutive frames (how much of each
detection of frame ``t - 1``, carried one frame on by SAM 2, lands on each detection of
frame ``t``: :mod:`sam2_cells.evidence`). A :class:`Linker` turns them into
:class:`Links`: a track label for every detection and the lineage.

:class:`LapLinker` is the linker: ``laptrack.LapTrack`` (Jaqaman et al. 2008), i.e.
frame-to-frame assignment, then one global assignment that closes gaps (a cell missed on
one frame), finds divisions (a track starting next to a live track: splitting) and
decides every start and end, all at once. A movie longer than
``LinkSettings.window_frames`` is linked in overlapping windows stitched into one graph
(:mod:`sam2_cells.link_windows`): laptrack's graph holds about 2.5 KB a detection, so one
LAP over a long movie would grow with it; a window's LAP decides the frames away from its
edges, where it sees as much of the movie as every rule looks at.

Costs are squared centroid distances in units of the cell diameter, so one set of
settings suits any magnification. With a SAM 2 cue,
a link's cost blends the distance with the evidence: ``(1 - w) d^2 + w (1 - IoU) v^2``
(``v`` the largest move), so a pair SAM 2 carried onto each other is cheap even after a
long move, and a pair it did not is dearer; a daughter's uses the share of her mask the
mother's propagated mask covers.

The lineage is CTC-valid by construction: every chain of the LAP graph is one track on
contiguous frames, a division ends the mother the frame before her daughters begin, and a
closed gap starts a new track whose parent is the track before the gap (the CTC's way).

Divisions (:mod:`sam2_cells.divisions`): the division distance grows with the movie's
own motion; a daughter is smaller than her mother and than a typical cell; daughters that
vanish within a few frames, daughters of very different sizes, and two touching cells
that parted again after being detected as one are no division.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from sam2_cells.divisions import (
    MOTHER_HISTORY,
    CondensationVote,
    condensation_vote,
    mothers_condense,
    prune_short_daughters,
    typical_area,
    typical_motion,
    undo_merge_splits,
    undo_static_mothers,
    undo_uneven_divisions,
)
from sam2_cells.lineage import TrackRecord
from sam2_cells.link_windows import LinkGraph, Window, plan_windows
from sam2_cells.motion import track_velocities

NO_ZERO = 1e-9  # the least cost of a link: laptrack's sparse cost matrices drop a cost of 0

__all__ = [
    "Cue",
    "FrameCells",
    "LapLinker",
    "LinkSettings",
    "Linker",
    "Links",
]


@dataclass
class FrameCells:
    """The detections of one frame: detection ``i + 1`` of the label image has centroid
    ``centroids[i]`` (row, col) and ``areas[i]`` pixels."""

    centroids: np.ndarray  # (N, 2) float
    areas: np.ndarray  # (N,) int

    @classmethod
    def from_labels(cls, labels: np.ndarray) -> FrameCells:
        """From a label image numbered 1..N (:func:`sam2_cells.detection.as_label_frame`)."""
        labels = np.asarray(labels)
        n = int(labels.max(initial=0))
        if n == 0:
            return cls(np.zeros((0, 2)), np.zeros(0, np.int64))
        flat = labels.ravel()
        idx = np.flatnonzero(flat)
        ids = flat[idx].astype(np.int64) - 1
        areas = np.bincount(ids, minlength=n)
        rows, cols = np.divmod(idx, labels.shape[1])
        safe = np.maximum(areas, 1)
        cy = np.bincount(ids, weights=rows, minlength=n) / safe
        cx = np.bincount(ids, weights=cols, minlength=n) / safe
        return cls(np.column_stack([cy, cx]), areas.astype(np.int64))

    def __len__(self) -> int:
        return len(self.areas)

    def to_state(self) -> list:
        """``[centroids, areas]``: the arrays themselves (compact; not copied)."""
        return [self.centroids, self.areas]

    @classmethod
    def from_state(cls, value: list) -> FrameCells:
        """From :meth:`to_state` (arrays or nested lists)."""
        c, a = value
        return cls(np.asarray(c, float).reshape(-1, 2), np.asarray(a, np.int64))


@dataclass
class Cue:
    """SAM 2 evidence from frame ``t - 1`` to ``t``: ``overlap[(i, j)]`` is the IoU of
    detection ``i`` of ``t - 1`` propagated one frame with detection ``j`` of ``t``, and
    ``cover[(i, j)]`` the share of ``j`` it covers (0-based indices)."""

    overlap: dict[tuple[int, int], float] = field(default_factory=dict)
    cover: dict[tuple[int, int], float] = field(default_factory=dict)

    def to_state(self) -> list:
        return [[i, j, o, self.cover.get((i, j), 0.0)] for (i, j), o in self.overlap.items()]

    @classmethod
    def from_state(cls, rows: list) -> Cue:
        cue = cls()
        for i, j, o, c in rows:
            cue.overlap[(int(i), int(j))] = float(o)
            cue.cover[(int(i), int(j))] = float(c)
        return cue


@dataclass
class Links:
    """Detections linked into tracks.

    Attributes
    ----------
    luts
        Per frame, an ``int32`` array: ``luts[t][i]`` is the track label of detection
        ``i`` (1-based, as in the label image; ``luts[t][0] == 0``), 0 when dropped.
    tracks
        The CTC lineage.
    """

    luts: list[np.ndarray]
    tracks: list[TrackRecord]


class Linker(Protocol):
    """What links the detections of a movie into tracks."""

    def link(
        self, frames: Sequence[FrameCells], cues: Sequence[Cue | None], diameter: float
    ) -> Links: ...


@dataclass(frozen=True)
class LinkSettings:
    """Costs and limits of :class:`LapLinker`; distances in cell diameters.

    Attributes
    ----------
    max_speed : float
        Largest frame-to-frame move linked.
    gap_frames : int
        Missed frames a track may bridge (0: no gap closing).
    divisions : bool
        Find divisions (LAP splitting).
    split_distance : float
        Largest distance from a mother's last centroid to a daughter's first.
    start_cost : float
        Cost of starting or ending a track segment (squared diameters); higher: fewer,
        longer tracks.
    cue_weight : float
        With a SAM 2 cue, the weight ``w`` of the evidence in a link's cost (see the
        module docstring); 0 ignores the cue.
    min_track_length : int
        Tracks shorter than this many frames with no mother and no daughters are dropped
        (spurious detections), except where they touch the first or last frame.
    min_daughter_frames : int
        A division one of whose daughters lasts fewer frames than this (and does not
        divide, nor reach the movie's last frame) is no division: that daughter was a
        fragment or a flicker of the detector and is dropped, the mother goes on as the
        other daughter.
    max_daughter_area : float
        A daughter's first area is at most this share of her mother's last.
    split_follows_motion : bool
        Widen the division distance by the movie's own motion: the largest distance
        becomes ``sqrt(split_distance**2 + m**2)``, ``m`` the 90th percentile of the
        frame-to-frame moves (:func:`~sam2_cells.divisions.typical_motion`), so the
        daughters of fast movers are still within reach; the cost is scaled alike (a
        division at the widened distance costs what one at ``split_distance`` did).
    merge_window : int
        A division whose mother took in a track that ended beside her at most this many
        frames before is undone as two cells that touched and parted
        (:func:`~sam2_cells.divisions.undo_merge_splits`); 0 keeps every division.
    max_daughter_size : float
        A daughter's first area is at most this share of the movie's typical detection
        area (:func:`~sam2_cells.divisions.typical_area`): daughters are smaller than a
        typical cell, and two whole cells parting after being detected as one object are
        no division.
    min_daughter_ratio : float
        A division whose smaller daughter is less than this share of the larger one (in
        first areas) is undone: the larger daughter goes on as the mother, the smaller
        starts a track of her own (a fragment, or a neighbour parting).
    mother_shrink : float
        A division is kept only when the mother's area in her last frame is at most this
        share of her largest area over the five frames before (a dividing cell rounds up and
        condenses: :func:`~sam2_cells.divisions.undo_static_mothers`), in a movie whose
        mothers show that condensation (:func:`~sam2_cells.divisions.mothers_condense`;
        elsewhere the rule is not applied; decided once for the whole movie, also when
        it is linked in windows); 0 keeps every division.
    window_frames : int
        A movie longer than this is linked in overlapping windows of this many frames
        (:mod:`sam2_cells.link_windows`): the linker's memory follows the window, not
        the movie's length. Each window decides the frames at least
        :attr:`window_margin` from its edges; a movie no longer than one window is
        linked in one piece. 0: always in one piece (memory grows with the movie). With
        the condensation rule (:attr:`mother_shrink`), the windows are linked twice:
        once to add up the movie's evidence, once to decide.
    predict_motion : bool
        Link twice: the second time a cell may be found either where she was or where
        her last move (from the first linking) leads, whichever is nearer
        (:func:`~sam2_cells.motion.track_velocities`): cells moving about a diameter a
        frame stay on their tracks.
    keep_absorbed : bool
        A daughter shorter than :attr:`min_daughter_frames` is kept when her track ends
        because she merged into a neighbour's object (the neighbour's next object at
        least 0.75 of the two objects' summed areas, within :attr:`max_speed` of her:
        :func:`~sam2_cells.divisions.absorbed`); False drops every short daughter.
    """

    max_speed: float = 1.0
    gap_frames: int = 1
    divisions: bool = True
    split_distance: float = 0.8
    start_cost: float = 1.0
    cue_weight: float = 0.8
    min_track_length: int = 1
    min_daughter_frames: int = 5
    max_daughter_area: float = 0.9
    split_follows_motion: bool = True
    merge_window: int = 4
    max_daughter_size: float = 1.0
    min_daughter_ratio: float = 0.5
    mother_shrink: float = 0.8
    window_frames: int = 60
    predict_motion: bool = True
    keep_absorbed: bool = True

    @property
    def window_margin(self) -> int:
        """Frames of context each side of what a linking window decides: the farthest
        any rule looks back (a mother's history and the frame before it, the merge
        window) or ahead (a daughter's first frames, a closed gap), plus 4 frames for
        the LAP to settle."""
        reach = max(
            MOTHER_HISTORY + 1, self.merge_window, self.min_daughter_frames, self.gap_frames + 1
        )
        return reach + 4

    def __post_init__(self) -> None:
        if self.max_speed <= 0 or self.split_distance <= 0:
            raise ValueError("max_speed and split_distance must be > 0 (cell diameters)")
        if self.gap_frames < 0 or self.min_track_length < 1:
            raise ValueError("gap_frames must be >= 0 and min_track_length >= 1")
        if not 0.0 <= self.cue_weight <= 1.0:
            raise ValueError(f"cue_weight={self.cue_weight} must be in [0, 1]")
        if self.window_frames < 0 or 0 < self.window_frames <= 2 * self.window_margin:
            raise ValueError(
                f"window_frames={self.window_frames} must be 0 (one piece) or more than "
                f"{2 * self.window_margin} frames (twice the window margin)"
            )


class LapLinker:
    """Global LAP linking with gap closing and divisions, by ``laptrack``; a movie longer
    than ``settings.window_frames`` is linked in overlapping windows
    (:mod:`sam2_cells.link_windows`), so memory follows the window, not the movie."""

    def __init__(self, settings: LinkSettings | None = None) -> None:
        self.s = settings or LinkSettings()

    def link(
        self, frames: Sequence[FrameCells], cues: Sequence[Cue | None], diameter: float
    ) -> Links:
        """Link every frame's detections; see :class:`Links`.

        Parameters
        ----------
        frames
            The detections of frames 0..T-1.
        cues
            ``cues[t]``: evidence from ``t - 1`` to ``t`` or None (``cues[0]`` unused).
        diameter
            Typical cell diameter (pixels): the unit of every distance.
        """
        s = self.s
        d = max(float(diameter), 1.0)
        areas = [c.areas for c in frames]
        typical = typical_area(areas)  # the movie's, in every window
        reach = s.split_distance
        if s.divisions and s.split_follows_motion:
            motion = typical_motion([c.centroids for c in frames], d, s.max_speed)
            reach = float(np.hypot(reach, motion))
        self.split_reach = reach  # diameters, for reports
        counts = [len(c) for c in frames]
        if sum(counts) == 0:
            return Links([np.zeros(1, np.int32) for _ in frames], [])
        graph = LinkGraph(counts)
        plan = plan_windows(len(frames), s.window_frames, s.window_margin)
        condense = None  # one window decides it on its own graph
        if len(plan) > 1 and s.divisions and s.mother_shrink > 0:
            condense = self._condensation(frames, cues, plan, d, typical, reach).holds
        for k, w in enumerate(plan):
            window_cues = [None, *cues[w.start + 1 : w.stop]]
            tree = self._lap(frames[w.start : w.stop], window_cues, d, typical, reach, condense)
            graph.add(tree, w, k)
            _release(tree, len(plan))
        return self._tracks(graph)

    def _condensation(
        self,
        frames: Sequence[FrameCells],
        cues: Sequence[Cue | None],
        plan: list[Window],
        d: float,
        typical: float,
        reach: float,
    ) -> CondensationVote:
        """The whole movie's evidence that its mothers condense
        (:func:`~sam2_cells.divisions.condensation_vote`), added up over the windows'
        graphs before the condensation rule, each counted on the frames it decides: a
        long movie decides once, as in one piece, not once a window (a window with few
        divisions would decide on two or three candidates)."""
        vote = CondensationVote()
        for w in plan:
            window_cues = [None, *cues[w.start + 1 : w.stop]]
            tree = self._lap(frames[w.start : w.stop], window_cues, d, typical, reach, False)
            areas = [c.areas for c in frames[w.start : w.stop]]
            owned = (w.own_from - w.start, w.own_to - w.start)
            vote += condensation_vote(tree, areas, self.s.mother_shrink, frames=owned)
            _release(tree, len(plan))
        return vote

    def _lap(
        self,
        frames: Sequence[FrameCells],
        cues: Sequence[Cue | None],
        d: float,
        typical: float,
        reach: float,
        condense: bool | None = None,
    ) -> object:
        """laptrack's graph over ``frames`` (a window), after the division rules; nodes
        ``(frame in the window, index)``. ``condense``: whether the condensation rule
        applies (None: as this graph's own mothers show,
        :func:`~sam2_cells.divisions.mothers_condense`)."""
        from laptrack import LapTrack

        s = self.s
        coords = []
        for t, cells in enumerate(frames):
            n = len(cells)
            c = np.zeros((n, 4))
            if n:
                c[:, :2] = cells.centroids / d
                c[:, 2] = t
                c[:, 3] = np.arange(n)
            coords.append(c)
        cue_of = {t: c for t, c in enumerate(cues) if c is not None and t > 0}

        def move(a: np.ndarray, b: np.ndarray) -> float:
            if a[2] > b[2]:
                a, b = b, a
            cost = float((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2)
            if len(a) > 4:  # predicted motion: the cheaper of staying and moving on
                cost = min(cost, float((a[0] + a[4] - b[0]) ** 2 + (a[1] + a[5] - b[1]) ** 2))
            cue = cue_of.get(int(b[2]))
            if cue is not None and s.cue_weight and int(b[2]) - int(a[2]) == 1:
                iou = cue.overlap.get((int(a[3]), int(b[3])), 0.0)
                w = s.cue_weight
                cost = (1.0 - w) * cost + w * (1.0 - iou) * s.max_speed**2
            return max(cost, NO_ZERO)

        areas = [c.areas for c in frames]
        shrink = (s.split_distance / reach) ** 2

        def split(a: np.ndarray, b: np.ndarray) -> float:
            if a[2] > b[2]:
                a, b = b, a
            mother, daughter = areas[int(a[2])][int(a[3])], areas[int(b[2])][int(b[3])]
            if daughter > s.max_daughter_area * mother or daughter > s.max_daughter_size * typical:
                return float("inf")  # a daughter is smaller than her mother and than a cell
            cost = shrink * float((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2)
            cue = cue_of.get(int(b[2]))
            if cue is not None and s.cue_weight:
                cover = cue.cover.get((int(a[3]), int(b[3])), 0.0)
                w = s.cue_weight
                cost = (1.0 - w) * cost + w * (1.0 - cover) * s.split_distance**2
            return max(cost, NO_ZERO)

        def gap(a: np.ndarray, b: np.ndarray) -> float:
            return max(float((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2), NO_ZERO)

        start = float(s.start_cost)
        tracker = LapTrack(
            metric=move,
            cutoff=s.max_speed**2,
            gap_closing_metric=gap,
            gap_closing_cutoff=(s.max_speed * (s.gap_frames + 1)) ** 2 if s.gap_frames else False,
            gap_closing_max_frame_count=s.gap_frames + 1,
            splitting_metric=split,
            splitting_cutoff=s.split_distance**2 if s.divisions else False,  # after shrink
            merging_cutoff=False,
            segment_start_cost=start,
            segment_end_cost=start,
            no_splitting_cost=start,
        )
        if sum(len(c) for c in coords) == 0:
            import networkx as nx

            return nx.DiGraph()
        tree = tracker.predict(coords)
        if s.predict_motion:  # link again, each cell expected where her last move leads
            moves = track_velocities(tree, [c[:, :2] for c in coords])
            coords = [np.column_stack([c, m]) for c, m in zip(coords, moves, strict=True)]
            tree = tracker.predict(coords)
        positions = [np.delete(c, [2, 3], axis=1) for c in coords]  # (row, col[, move])
        prune_short_daughters(
            tree,
            len(frames),
            s.min_daughter_frames,
            *((areas, positions, s.max_speed) if s.keep_absorbed else ()),
        )
        if s.divisions and s.min_daughter_ratio > 0:
            undo_uneven_divisions(tree, areas, s.min_daughter_ratio)
        if s.divisions and s.merge_window:
            undo_merge_splits(tree, [c.centroids / d for c in frames], s.merge_window)
        if s.divisions and s.mother_shrink > 0:
            if condense is None:
                condense = mothers_condense(tree, areas, s.mother_shrink)
            if condense:
                undo_static_mothers(tree, areas, s.mother_shrink)
        return tree

    def _tracks(self, graph: LinkGraph) -> Links:
        """The stitched graph -> contiguous CTC tracks (see the module docstring)."""
        label_of, records = graph.chains()
        tracks = [TrackRecord(k, b, e, p) for k, (b, e, p) in enumerate(records, start=1)]
        n_frames = len(graph.offsets) - 1
        tracks, new = self._drop_short(tracks, n_frames)
        remap = np.zeros(len(records) + 1, np.int32)
        for old, label in new.items():
            remap[old] = label
        final = remap[label_of]  # 0 where not kept or dropped
        luts = []
        for t in range(n_frames):
            lut = np.zeros(int(graph.offsets[t + 1] - graph.offsets[t]) + 1, np.int32)
            lut[1:] = final[graph.offsets[t] : graph.offsets[t + 1]]
            luts.append(lut)
        return Links(luts, tracks)

    def _drop_short(
        self, tracks: list[TrackRecord], n_frames: int
    ) -> tuple[list[TrackRecord], dict[int, int]]:
        """Drop isolated short tracks (no mother, no daughter, not at the movie's ends);
        then renumber 1..N in order of appearance."""
        n = self.s.min_track_length
        mothers = {r.parent for r in tracks if r.parent}
        keep = [
            r
            for r in tracks
            if r.end - r.begin + 1 >= n
            or r.parent
            or r.label in mothers
            or r.begin == 0
            or r.end == n_frames - 1
        ]
        order = sorted(keep, key=lambda r: (r.begin, r.label))
        new = {r.label: i for i, r in enumerate(order, start=1)}
        out = [TrackRecord(new[r.label], r.begin, r.end, new.get(r.parent, 0)) for r in order]
        return out, new


def _release(tree: object, windows: int) -> None:
    """Free a window's LAP graph. laptrack's graphs and tables hold reference cycles:
    without a collection every window's would stay until Python's next full one (about
    0.15 s of CPU each), and memory would grow with the movie again (one window: Python's
    own collections will do)."""
    tree.clear()  # type: ignore[attr-defined]
    if windows > 1:
        gc.collect()
