"""Divisions: the division distance follows the movie's motion; uneven daughters, whole
cells as daughters, two touching cells that part again and a "mother" that did not
condense before dividing are no division, but two daughters detected as one object that
grew out of a condensed mother are; and where no mother condenses (a marker that does
not show mitosis) the condensation rule is not applied."""

from __future__ import annotations

from itertools import pairwise

import networkx as nx
import numpy as np

from sam2_cells.divisions import (
    mothers_condense,
    typical_area,
    typical_motion,
    undo_merge_splits,
    undo_static_mothers,
    undo_uneven_divisions,
)
from sam2_cells.linking import FrameCells, LapLinker, LinkSettings


def test_typical_motion_is_the_cells_own_frame_to_frame_move():
    start = np.stack(np.meshgrid(np.arange(0, 150, 30.0), np.arange(0, 90, 30.0)), -1)
    start = start.reshape(-1, 2)
    frames = [start + np.array([3.0 * t, 0.0]) for t in range(6)]
    assert abs(typical_motion(frames, 10.0, 1.0) - 0.3) < 1e-6
    assert typical_motion(frames, 10.0, 0.2) == 0.0  # moves beyond the limit are not counted


def test_typical_area_is_not_pulled_down_by_many_fragments():
    areas = [np.array([100, 100, 100, 5, 5, 5, 5, 5])]
    assert np.median(areas[0]) == 5 and typical_area(areas) == 100


def fast_division(split_follows_motion: bool) -> int:
    """A cell moving 0.8 diameter a frame condenses and divides; her daughters land 0.9
    diameter from her last position. The number of divisions the linker finds."""
    frames = []
    for t in range(4):
        area = 100 if t < 3 else 70
        frames.append(FrameCells(np.array([[50.0, 10.0 + 8 * t]]), np.array([area])))
    for t in range(4, 10):
        x = 10.0 + 8 * t
        frames.append(FrameCells(np.array([[46.0, x], [54.0, x]]), np.array([60, 60])))
    settings = LinkSettings(split_follows_motion=split_follows_motion, gap_frames=0)
    links = LapLinker(settings).link(frames, [None] * len(frames), 10.0)
    return len({r.parent for r in links.tracks if r.parent})


def test_the_daughters_of_a_fast_mover_are_within_reach_when_the_reach_follows_motion():
    assert fast_division(split_follows_motion=False) == 0
    assert fast_division(split_follows_motion=True) == 1


def test_daughters_of_very_different_sizes_are_no_division():
    g = nx.DiGraph([((0, 0), (1, 0)), ((0, 0), (1, 1)), ((0, 1), (1, 2)), ((0, 1), (1, 3))])
    areas = [np.array([100, 100]), np.array([60, 15, 50, 45])]
    assert undo_uneven_divisions(g, areas, 0.5) == 1
    assert list(g.successors((0, 0))) == [(1, 0)]  # the larger daughter goes on
    assert sorted(g.successors((0, 1))) == [(1, 2), (1, 3)]  # an even division stays


def test_two_cells_that_touched_and_parted_are_no_division():
    """Cell A (row 0) ends on frame 2 beside cell B; B is detected as one object with A
    on frames 3-4 and the object 'divides' on frame 5 into A and B again."""
    pos = {
        0: [[0.0, 0.0], [0.0, 0.4]],
        1: [[0.0, 0.0], [0.0, 0.4]],
        2: [[0.0, 0.0], [0.0, 0.4]],
        3: [[0.0, 0.2]],
        4: [[0.0, 0.2]],
        5: [[0.0, 0.4], [0.0, -0.05]],
    }
    centroids = [np.asarray(pos[t]) for t in range(6)]
    a = [(0, 0), (1, 0), (2, 0)]
    b = [(0, 1), (1, 1), (2, 1), (3, 0), (4, 0)]
    g = nx.DiGraph([*pairwise(a), *pairwise(b)])
    g.add_edges_from([((4, 0), (5, 0)), ((4, 0), (5, 1))])
    assert undo_merge_splits(g, centroids, window=4) == 1
    assert list(g.successors((2, 0))) == [(5, 1)]  # A goes on where A was
    assert list(g.successors((4, 0))) == [(5, 0)]
    far = nx.DiGraph([*pairwise(a), *pairwise(b)])
    far.add_edges_from([((4, 0), (5, 0)), ((4, 0), (5, 1))])
    assert undo_merge_splits(far, centroids, window=1) == 0  # A ended too long before


def division_graph(mother_areas: list[int]) -> tuple[nx.DiGraph, list[np.ndarray]]:
    """A mother on frames 0..n-1 with ``mother_areas``, dividing into two daughters (areas
    50 and 45) on frame n."""
    n = len(mother_areas)
    chain = [(t, 0) for t in range(n)]
    g = nx.DiGraph(list(pairwise(chain)))
    g.add_edges_from([((n - 1, 0), (n, 0)), ((n - 1, 0), (n, 1))])
    areas = [np.array([a]) for a in mother_areas] + [np.array([50, 45])]
    return g, areas


def test_a_mother_that_did_not_shrink_before_dividing_is_no_division():
    condensed, areas = division_graph([100, 104, 98, 102, 70])
    assert undo_static_mothers(condensed, areas, 0.8) == 0
    assert sorted(condensed.successors((4, 0))) == [(5, 0), (5, 1)]
    static, areas = division_graph([100, 104, 98, 102, 96])
    assert undo_static_mothers(static, areas, 0.8) == 1
    assert list(static.successors((4, 0))) == [(5, 0)]  # the larger piece goes on
    assert static.in_degree((5, 1)) == 0  # the smaller starts a track of her own


def test_a_mother_entering_the_field_is_measured_by_her_whole_footprint():
    """Her area grows while she enters through the border, then shrinks as she divides:
    against her largest area she condensed (against her median she would not have)."""
    entering, areas = division_graph([20, 35, 80, 120, 140, 150, 112])
    assert undo_static_mothers(entering, areas, 0.8) == 0


def test_a_mother_with_no_history_is_no_division():
    g, areas = division_graph([100])
    assert undo_static_mothers(g, areas, 0.8) == 1


def test_two_daughters_detected_as_one_object_that_grew_out_of_a_condensed_mother_divide():
    """The mother condenses (100 -> 60); her two daughters, still touching, are detected
    as one object of 110 px, which parts a frame later: a division one frame late, kept.
    An object that grew out of a cell that did not condense is still no division."""
    late, areas = division_graph([100, 104, 98, 102, 60, 110])
    assert undo_static_mothers(late, areas, 0.8) == 0
    assert sorted(late.successors((5, 0))) == [(6, 0), (6, 1)]
    static, areas = division_graph([100, 104, 98, 102, 96, 130])
    assert undo_static_mothers(static, areas, 0.8) == 1
    flicker, areas = division_graph([100, 104, 98, 102, 80, 90])  # no more than a flicker
    assert undo_static_mothers(flicker, areas, 0.8) == 1
    off, areas = division_graph([100, 104, 98, 102, 60, 110])
    assert undo_static_mothers(off, areas, 0.8, grow=0) == 1


def cells_and_divisions(mother_last: list[int], flicker: bool = False) -> tuple[nx.DiGraph, list]:
    """Eight cells of 100 px on frames 0..7 (every other frame 70 px when ``flicker``: a
    detector whose footprints jump) and one mother per entry of ``mother_last`` (100 px
    on frames 0..6, that area on frame 7) dividing on frame 8."""
    g = nx.DiGraph()
    areas = [[] for _ in range(9)]

    def add(sizes: list[int]) -> tuple[int, int]:
        chain = []
        for t, a in enumerate(sizes):
            chain.append((t, len(areas[t])))
            areas[t].append(a)
        g.add_edges_from(pairwise(chain))
        return chain[-1]

    for _ in range(8):
        add([70 if flicker and t % 2 == 0 else 100 for t in range(8)])
    for last in mother_last:
        end = add([100] * 7 + [last])
        for _ in range(2):
            g.add_edge(end, (8, len(areas[8])))
            areas[8].append(55)
    return g, [np.asarray(a) for a in areas]


def test_the_condensation_rule_applies_where_mothers_condense():
    shrunk, areas = cells_and_divisions([60, 65, 100])
    assert mothers_condense(shrunk, areas, 0.8)
    static, areas = cells_and_divisions([100, 98, 103])  # a marker that does not condense
    assert not mothers_condense(static, areas, 0.8)
    # one "mother" of three shrank: evidence where cells keep their size, none where
    # the detector's footprints jump (cells "shrink" as often as she did)
    steady, areas = cells_and_divisions([60, 100, 100])
    assert mothers_condense(steady, areas, 0.8)
    jumpy, areas = cells_and_divisions([60, 100, 100], flicker=True)
    assert not mothers_condense(jumpy, areas, 0.8)
    none, areas = cells_and_divisions([])
    assert not mothers_condense(none, areas, 0.8)


def test_the_votes_of_parts_of_a_movie_add_up_to_the_movie_s():
    from sam2_cells.divisions import condensation_vote

    steady, areas = cells_and_divisions([60, 100, 100])
    whole = condensation_vote(steady, areas, 0.8)
    assert (whole.mothers, whole.shrunk) == (3, 1) and whole.holds
    early = condensation_vote(steady, areas, 0.8, frames=(0, 5))
    late = condensation_vote(steady, areas, 0.8, frames=(5, 9))
    assert early.mothers == 0 and not early.holds  # no candidate there
    assert early + late == whole


def test_divisions_of_a_marker_that_does_not_condense_are_found():
    """Generated cells whose mothers keep their size until they divide, linked from their
    true labels: the condensation rule would undo every division; here it is left out."""
    import dataclasses

    from sam2_cells import CellTracker, TrackerSettings
    from sam2_cells.detection import LabelStackDetector
    from sam2_synthetic import Dynamics, microscopy_timelapse, sample_style

    style = dataclasses.replace(sample_style("nuclear"), diameter=14.0, coverage=0.2, snr=30.0)
    dyn = Dynamics(speed=0.8, persistence=0.6, division_rate=0.05, condense=False)
    data = microscopy_timelapse(30, (128, 128), seed=5, style=style, dynamics=dyn, n_cells=14)
    truth = {t.parent for t in data.tracks if t.parent}
    assert len(truth) >= 3

    def mothers(**rule: float) -> set[tuple[int, int]]:
        settings = TrackerSettings(detection="classical", diameter=14.0, **rule)
        detector = LabelStackDetector(data.labels)
        run = CellTracker(None, settings, detector=detector).track(data.labels)
        by_label = {t.label: t for t in run.tracks}
        daughters: dict[int, int] = {}
        for t in run.tracks:
            if t.parent:
                daughters[t.parent] = daughters.get(t.parent, 0) + 1
        return {(by_label[m].end, m) for m, n in daughters.items() if n == 2}

    found = mothers()
    assert len(found) >= len(truth) // 2
    assert found == mothers(mother_shrink=0.0), "as if the rule were switched off"
