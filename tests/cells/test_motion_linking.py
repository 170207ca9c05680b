"""Motion-predicted linking and daughters lost in a neighbour's object: two cells passing
each other fast stay on their tracks when each is expected where her last move leads; a
short daughter whose track ends because she merged into a neighbour is kept, a fragment
that merges back into her sister is not."""

from __future__ import annotations

import networkx as nx
import numpy as np

from sam2_cells.divisions import absorbed, prune_short_daughters
from sam2_cells.linking import FrameCells, LapLinker, LinkSettings
from sam2_cells.motion import track_velocities


def test_track_velocities_are_the_last_move_along_an_unbranched_chain():
    g = nx.DiGraph([((0, 0), (1, 0)), ((1, 0), (2, 0)), ((1, 0), (2, 1))])
    coords = [np.array([[0.0, 0.0]]), np.array([[1.0, 2.0]]), np.array([[2.0, 4.0], [0, 5]])]
    moves = track_velocities(g, coords)
    assert moves[0].tolist() == [[0.0, 0.0]]  # a track's first frame
    assert moves[1].tolist() == [[1.0, 2.0]]
    assert moves[2].tolist() == [[0.0, 0.0], [0.0, 0.0]]  # daughters: no move of their own


def passing_cells(predict_motion: bool) -> bool:
    """Two cells 0.5 diameter apart pass each other at 0.9 diameter a frame in opposite
    directions; whether each track keeps its own cell (its own row) throughout."""
    d = 10.0
    frames = []
    for t in range(8):
        x = -3.15 + 0.9 * t
        frames.append(
            FrameCells(np.array([[0.0, x], [5.0, -x]]) * np.array([1, d]), np.array([80, 80]))
        )
    settings = LinkSettings(predict_motion=predict_motion, divisions=False)
    links = LapLinker(settings).link(frames, [None] * len(frames), d)
    first = [int(lut[1]) for lut in links.luts]  # the track label of the row-0 cell
    return len(set(first)) == 1 and all(lut[1] != lut[2] for lut in links.luts)


def test_cells_passing_fast_stay_on_their_tracks_with_predicted_motion():
    assert not passing_cells(predict_motion=False)  # nearest positions swap them
    assert passing_cells(predict_motion=True)


def division_with_short_daughter(merges_into: str) -> nx.DiGraph:
    """A mother (0, 0) divides; daughter (1, 1) lives 2 frames, then her object is gone:
    at frame 3 either a neighbour's object (chain index 2) or her sister's (index 0) holds
    both (her sister's branch does not count as absorbing her). Returns the graph after
    :func:`prune_short_daughters` with areas and positions."""
    g = nx.DiGraph([((0, 0), (1, 0)), ((0, 0), (1, 1)), ((1, 1), (2, 1))])
    g.add_edges_from(((t, 0), (t + 1, 0)) for t in range(1, 9))  # the sister, to the end
    g.add_edges_from(((t, 2), (t + 1, 2)) for t in range(0, 9))  # a neighbour
    areas = [np.array([100 if t == 0 else 60, 60, 80]) for t in range(10)]
    pos = [np.array([[0.0, 0.0], [0.0, 0.5], [0.0, 1.2]]) for _ in range(10)]
    if merges_into == "neighbour":
        areas[3] = np.array([60, 0, 130])
        pos[3] = np.array([[0.0, 0.0], [9.0, 9.0], [0.0, 0.9]])
    else:  # a fragment of her sister: merges back into her
        areas[3] = np.array([110, 0, 80])
        pos[3] = np.array([[0.0, 0.2], [9.0, 9.0], [0.0, 1.2]])
    assert absorbed(g, (2, 1), set(), areas, pos, 1.0)  # either way, her sister not skipped
    prune_short_daughters(g, 10, 5, areas, pos, 1.0)
    return g


def test_a_short_daughter_lost_in_a_neighbours_object_is_kept():
    g = division_with_short_daughter("neighbour")
    assert g.out_degree((0, 0)) == 2 and (2, 1) in g


def test_a_short_daughter_that_merges_back_into_her_sister_is_dropped():
    g = division_with_short_daughter("sister")
    assert g.out_degree((0, 0)) == 1 and (1, 1) not in g


def test_without_areas_every_short_daughter_is_dropped():
    g = nx.DiGraph([((0, 0), (1, 0)), ((0, 0), (1, 1)), ((1, 1), (2, 1))])
    g.add_edges_from(((t, 0), (t + 1, 0)) for t in range(1, 9))
    prune_short_daughters(g, 10, 5)
    assert g.out_degree((0, 0)) == 1


def test_a_cell_exactly_where_her_last_move_leads_is_linked(monkeypatch):
    import sam2_cells.linking as linking

    frames = [FrameCells(np.array([[20.0, 10.0 + 8 * t]]), np.array([80])) for t in range(6)]

    def tracks() -> int:
        settings = LinkSettings(gap_frames=0)
        return len(LapLinker(settings).link(frames, [None] * 6, 10.0).tracks)

    assert tracks() == 1  # a predicted cost of 0 is raised to NO_ZERO
    monkeypatch.setattr(linking, "NO_ZERO", 0.0)  # laptrack reads a cost of 0 as no link
    assert tracks() > 1
