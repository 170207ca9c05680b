"""Divisions in the LAP graph: how far daughters may land, and which divisions are false.

The linker (:class:`sam2_cells.linking.LapLinker`) asks ``laptrack`` for a graph with
splitting; these functions set its reach and clean what it returns:

* :func:`typical_motion`: how far the movie's cells move between frames, so that the
  division distance can follow it (the daughters of fast movers land farther from where
  their mother was);
* :func:`typical_area`: the size of a typical detection, so that a "daughter" as large as
  a whole cell is refused;
* :func:`prune_short_daughters`: a daughter that vanishes within a few frames was a
  fragment or a flicker of the detector;
* :func:`undo_uneven_divisions`: daughters of very different sizes are a neighbour or a
  fragment parting, not a division;
* :func:`undo_merge_splits`: two touching cells detected as one for a few frames, then
  parting, are two tracks, not a division;
* :func:`undo_static_mothers`: a cell about to divide rounds up and its chromatin
  condenses, so its footprint shrinks in the frames before the division; a "mother" that
  did not shrink was one cell detected as two pieces, or a neighbour parting. A "mother"
  that grew out of a condensed cell is kept: two daughters still touching in their first
  frame, detected as one object (the division is then found one frame late);
* :func:`mothers_condense`: whether the movie shows that condensation at all (a marker
  that does not follow the chromatin does not), so that the rule above is applied only
  where it holds (:func:`condensation_vote` counts its evidence, so that the windows of
  a long movie decide it together).

Every graph is a ``networkx.DiGraph`` over ``(frame, index)`` nodes with edges forward in
time, edited in place.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

Node = tuple[int, int]  # (frame, detection index): a node of the LAP graph
MOTHER_HISTORY = 5  # frames before a division that undo_static_mothers looks at
ABSORBED_SHARE = 0.75  # a merged object holds at least this share of the two cells' areas

__all__ = [
    "ABSORBED_SHARE",
    "MOTHER_HISTORY",
    "CondensationVote",
    "absorbed",
    "condensation_vote",
    "mothers_condense",
    "prune_short_daughters",
    "typical_area",
    "typical_motion",
    "undo_merge_splits",
    "undo_static_mothers",
    "undo_uneven_divisions",
]


def typical_motion(centroids: Sequence[np.ndarray], diameter: float, max_move: float) -> float:
    """The 90th percentile of the frame-to-frame moves of a movie's cells, in diameters.

    Consecutive frames are matched by a one-to-one assignment of centroids (SciPy's
    ``linear_sum_assignment``) that links no pair farther than ``max_move`` diameters;
    0 when nothing is matched.

    Parameters
    ----------
    centroids
        Per frame 0..T-1, the (N, 2) centroids (row, col) of its detections, in pixels.
    diameter
        Typical cell diameter in pixels (the unit of the result).
    max_move
        Largest move counted, in diameters.
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    moves: list[np.ndarray] = []
    for a, b in itertools.pairwise(centroids):
        if len(a) == 0 or len(b) == 0:
            continue
        dist = cdist(a, b) / max(float(diameter), 1.0)
        cost = np.where(dist <= max_move, dist**2, 1e6)
        rows, cols = linear_sum_assignment(cost)
        found = dist[rows, cols]
        moves.append(found[found <= max_move])
    every = np.concatenate(moves) if moves else np.zeros(0)
    return float(np.percentile(every, 90)) if every.size else 0.0


def typical_area(areas: Sequence[np.ndarray]) -> float:
    """The area-weighted median of all detections' areas (pixels): the area of the object
    a random foreground pixel lies in, which many small fragments do not pull down as they
    pull down the plain median. ``areas[t]``: the (N,) areas of frame ``t``; 0 if none."""
    every = np.sort(np.concatenate([np.asarray(a, np.float64) for a in areas] or [np.zeros(0)]))
    if every.size == 0 or every.sum() <= 0:
        return 0.0
    share = np.cumsum(every) / every.sum()
    return float(every[min(int(np.searchsorted(share, 0.5)), every.size - 1)])


def _mothers(graph: object) -> list[tuple[int, int]]:
    """The nodes of a LAP graph with two successors (a mother's last frame), in order."""
    return sorted(n for n in graph.nodes if graph.out_degree(n) == 2)  # type: ignore[attr-defined]


def _chain_back(graph: object, node: tuple[int, int], frames: int) -> list[tuple[int, int]]:
    """``node`` and up to ``frames`` nodes of its own unbranched chain before it, one per
    frame back (newest first); stops at a gap, a branch or the chain's start."""
    g = graph
    chain = [node]
    while len(chain) <= frames and g.in_degree(chain[-1]) == 1:  # type: ignore[attr-defined]
        before = next(iter(g.predecessors(chain[-1])))  # type: ignore[attr-defined]
        if g.out_degree(before) != 1 or before[0] != chain[-1][0] - 1:  # type: ignore[attr-defined]
            break
        chain.append(before)
    return chain


def _area(areas: Sequence[np.ndarray], node: Node) -> float:
    return float(areas[node[0]][node[1]])


def _undo_divisions(
    graph: object, areas: Sequence[np.ndarray], undo: Callable[[Node, Node, Node], bool]
) -> int:
    """Undo the divisions for which ``undo(mother, smaller, larger)`` is true: the larger
    daughter goes on as the mother, the smaller one starts a track of her own (her edge
    from the mother is removed). The mothers are those of ``graph`` as given, in frame
    order; each is judged on the graph that the undos before her left. Returns how many
    were undone."""
    g = graph
    undone = 0
    for mother in _mothers(g):
        smaller, larger = sorted(g.successors(mother), key=lambda n: _area(areas, n))  # type: ignore[attr-defined]
        if undo(mother, smaller, larger):
            g.remove_edge(mother, smaller)  # type: ignore[attr-defined]
            undone += 1
    return undone


def undo_uneven_divisions(graph: object, areas: Sequence[np.ndarray], min_ratio: float) -> int:
    """Undo the divisions whose daughters' first areas differ more than ``1 / min_ratio``
    times: the larger daughter goes on as the mother, the smaller one starts a track of
    her own. Edits the LAP ``graph`` (``networkx.DiGraph`` over ``(frame, index)``) in
    place; ``areas[t][i]`` is the area of detection ``i`` of frame ``t``.

    Returns
    -------
    int
        Divisions undone.
    """

    def uneven(_mother: Node, smaller: Node, larger: Node) -> bool:
        return _area(areas, smaller) < min_ratio * _area(areas, larger)

    return _undo_divisions(graph, areas, uneven)


def undo_static_mothers(
    graph: object,
    areas: Sequence[np.ndarray],
    max_ratio: float,
    history: int = MOTHER_HISTORY,
    grow: float = 1.2,
) -> int:
    """Undo the divisions whose mother did not shrink before dividing.

    A dividing cell rounds up and condenses its chromatin: in the last frame before her
    daughters appear, her footprint is clearly smaller than it was a few frames before
    (in nuclear stains about 0.4-0.8 of it). A division is kept when the mother's last
    area is at most ``max_ratio`` times her largest area over the ``history`` frames
    before it (the largest, so that a mother still entering the field through its border
    is measured by her whole footprint); otherwise it is undone: the larger daughter goes
    on as the mother, the smaller starts a track of her own. A mother with no earlier
    frame (her chain began at the division) has nothing to show and is undone too: a
    cell that appears and divides at once is far more often a detection falling in two.

    In the first frame after a division the two daughters often still touch, and a
    detector finds one object: the linker sees the condensed mother go on as that object,
    which "divides" a frame later (BC(1) counts such a division, one frame off). That
    object did not condense, it grew out of a condensed cell: a division is kept too when
    the mother's predecessor (the frame before, on her chain) condensed by the rule above,
    measured within the same ``history`` frames before the mother (an object of longer
    ago, such as two neighbours merged for a while, is not her former self), and the
    mother's area is at least ``grow`` times the predecessor's. Two daughters side
    by side cover about two daughters' footprints, and a daughter is about as large as
    her condensed mother (each takes half the chromatin and decondenses), so the pair
    covers 1.5-2 times the condensed mother; ``grow`` = 1.2 lies below that and above the
    few percent by which a detected footprint flickers from frame to frame. A cell that
    really condensed keeps shrinking (or holds) into her last frame; she does not grow by
    a fifth. Edits the LAP ``graph`` (``networkx.DiGraph`` over ``(frame, index)``) in
    place.

    Parameters
    ----------
    graph
        The LAP graph of ``laptrack``.
    areas
        ``areas[t][i]``: the area (pixels) of detection ``i`` of frame ``t``.
    max_ratio
        Largest ratio of the mother's last area to her largest earlier one for a
        division to be kept.
    history
        Frames of the mother's chain before her last that are looked at.
    grow
        Smallest ratio of the mother's area to her condensed predecessor's for a
        division to be kept as one of two daughters detected as one object; 0: never.

    Returns
    -------
    int
        Divisions undone.
    """

    def size(node: Node) -> float:
        return _area(areas, node)

    def condensed(chain: list[Node]) -> bool:
        return _shrank(chain, areas, max_ratio, history)

    def static(mother: Node, _smaller: Node, _larger: Node) -> bool:
        chain = _chain_back(graph, mother, history)
        if condensed(chain):
            return False
        if grow > 0 and len(chain) >= 3 and condensed(chain[1:]):
            # two daughters detected as one, grown out of the mother
            return size(mother) < grow * size(chain[1])
        return True

    return _undo_divisions(graph, areas, static)


def _shrank(chain: list[Node], areas: Sequence[np.ndarray], max_ratio: float, history: int) -> bool:
    """Whether ``chain[0]`` (a chain newest first, :func:`_chain_back`) is at most
    ``max_ratio`` of the largest area of the ``history`` nodes before it."""
    earlier = max((_area(areas, n) for n in chain[1 : history + 1]), default=0.0)
    return earlier > 0 and _area(areas, chain[0]) <= max_ratio * earlier


@dataclass(frozen=True)
class CondensationVote:
    """The evidence of :func:`condensation_vote`: whether a movie's dividing cells condense.

    Votes of parts of a movie (the windows of a long one) add up to the movie's.

    Attributes
    ----------
    mothers
        Division candidates ("mothers" of the LAP graph) looked at.
    shrunk
        Those that shrank before dividing (the test of :func:`undo_static_mothers`).
    seen
        Continuing nodes with at least two frames before them on their chain.
    chance
        Those that shrank by the same test: how often any cell does.
    """

    mothers: int = 0
    shrunk: int = 0
    seen: int = 0
    chance: int = 0

    def __add__(self, other: CondensationVote) -> CondensationVote:
        return CondensationVote(
            self.mothers + other.mothers,
            self.shrunk + other.shrunk,
            self.seen + other.seen,
            self.chance + other.chance,
        )

    @property
    def holds(self) -> bool:
        """More mothers shrank than the rate at which any cell shrinks predicts, and at
        least one did: apply :func:`undo_static_mothers`."""
        if self.shrunk == 0:
            return False
        rate = self.chance / self.seen if self.seen else 0.0
        return self.shrunk > rate * self.mothers


def condensation_vote(
    graph: object,
    areas: Sequence[np.ndarray],
    max_ratio: float,
    history: int = MOTHER_HISTORY,
    frames: tuple[int, int] | None = None,
) -> CondensationVote:
    """Count the evidence that the "mothers" of ``graph`` shrank before dividing more
    often than any cell shrinks (:func:`mothers_condense`).

    Parameters
    ----------
    graph
        The LAP graph of ``laptrack`` (``networkx.DiGraph`` over ``(frame, index)``).
    areas
        ``areas[t][i]``: the area (pixels) of detection ``i`` of frame ``t``.
    max_ratio, history
        As in :func:`undo_static_mothers`.
    frames
        ``(first, stop)``: count only the nodes of these frames (the frames a window of a
        long movie decides, so that the windows' votes add up to the movie's without
        counting their overlaps twice); None: every node.

    Returns
    -------
    CondensationVote
    """
    g = graph
    lo, hi = frames if frames is not None else (-1, np.inf)
    mothers = [m for m in _mothers(g) if lo <= m[0] < hi]
    shrunk = sum(_shrank(_chain_back(g, m, history), areas, max_ratio, history) for m in mothers)
    seen = chance = 0
    for node in g.nodes:  # type: ignore[attr-defined]
        if not lo <= node[0] < hi or g.out_degree(node) != 1:  # type: ignore[attr-defined]
            continue
        chain = _chain_back(g, node, history)
        if len(chain) >= 3:
            seen += 1
            chance += _shrank(chain, areas, max_ratio, history)
    return CondensationVote(len(mothers), shrunk, seen, chance)


def mothers_condense(
    graph: object,
    areas: Sequence[np.ndarray],
    max_ratio: float,
    history: int = MOTHER_HISTORY,
) -> bool:
    """Whether the "mothers" of ``graph`` shrank before dividing more often than any cell
    shrinks: the evidence that this movie's dividing cells condense.

    :func:`undo_static_mothers` rests on a chromatin stain: a dividing cell's footprint
    shrinks before her daughters appear. Where the marker does not show it (a nuclear
    protein that leaves the nucleus in mitosis, divisions drawn between two frames), the
    rule would undo every true division. So it is applied only where the mothers of the
    division candidates shrank (the test of :func:`undo_static_mothers`, last area at
    most ``max_ratio`` of the largest of the ``history`` before) more often than the
    cells of the movie do on any frame: more mothers than that rate predicts
    (continuing nodes with at least two frames before them on their chain measure it),
    and at least one. Where no candidate shrank the rule would have nothing to keep, so
    it is not applied either: a movie of a chromatin stain whose only candidates are false
    (no true division, a detection falling in two) keeps them, the price of not losing
    every division of a marker that does not condense. A long movie linked in windows
    adds up the windows' :func:`condensation_vote` instead, and decides once.

    Parameters
    ----------
    graph, areas, max_ratio, history
        As in :func:`condensation_vote`.

    Returns
    -------
    bool
        True: apply :func:`undo_static_mothers`.
    """
    return condensation_vote(graph, areas, max_ratio, history).holds


def undo_merge_splits(graph: object, centroids: Sequence[np.ndarray], window: int) -> int:
    """Turn the false divisions of two cells that merged and parted again into two tracks.

    Two touching cells detected as one object for a few frames look, to a linker without
    merging, like this: one cell's track ends beside the other's, the other goes on as the
    merged object, and when the two part again the object "divides". For every division
    whose mother chain took such a track in (it ended at most ``window`` frames before
    the division, within half a diameter of the mother's object of the next frame), the
    daughter nearer to where that track ended continues it (a closed gap) and the mother
    keeps the other: no division. Edits ``graph`` in place.

    Parameters
    ----------
    graph
        The LAP graph of ``laptrack`` (a ``networkx.DiGraph`` over ``(frame, index)``
        nodes, edges forward in time).
    centroids
        Per frame, (N, 2) centroids (row, col) in cell diameters.
    window
        Frames looked back from the division.

    Returns
    -------
    int
        Divisions undone.
    """
    import networkx as nx

    g: nx.DiGraph = graph  # type: ignore[assignment]
    last = max((n[0] for n in g.nodes), default=0)
    ends: dict[int, list[tuple[int, int]]] = {}
    for n in g.nodes:
        if g.out_degree(n) == 0 and n[0] < last:
            ends.setdefault(n[0], []).append(n)

    def pos(n: tuple[int, int]) -> np.ndarray:
        return centroids[n[0]][n[1]]

    undone = 0
    for mother in _mothers(g):
        chain = {n[0]: n for n in _chain_back(g, mother, window)}  # back ``window`` frames
        best: tuple[float, tuple[int, int]] | None = None
        for t in range(mother[0] - window, mother[0] + 1):
            blob = chain.get(min(t + 1, mother[0]))
            if blob is None:
                continue
            for end in ends.get(t, []):
                if end in chain.values() or g.out_degree(end) != 0:
                    continue
                dist = float(np.hypot(*(pos(end) - pos(blob))))
                if dist < 0.5 and (best is None or dist < best[0]):
                    best = (dist, end)
        if best is None:
            continue
        end = best[1]
        daughter = min(g.successors(mother), key=lambda c: float(np.hypot(*(pos(c) - pos(end)))))
        g.remove_edge(mother, daughter)
        g.add_edge(end, daughter)
        undone += 1
    return undone


def absorbed(
    graph: object,
    end: Node,
    skip: set[Node],
    areas: Sequence[np.ndarray],
    positions: Sequence[np.ndarray],
    reach: float,
    share: float = ABSORBED_SHARE,
) -> bool:
    """Whether the cell whose chain ends at ``end`` merged into a neighbour's object.

    True when an object of the next frame continues a chain that is not in ``skip``
    (the ``(frame, index)`` nodes that do not count: her sister's branch), lies within
    ``reach`` of where ``end`` was or was heading (``positions[t][i]``: row, col and,
    optionally, the last move; one unit for both), and is at least ``share`` of the
    summed areas of ``end`` and of that chain's object before it: the two cells
    detected as one object, the neighbour's track taking it on.

    Parameters
    ----------
    graph
        The LAP graph (``networkx.DiGraph`` over ``(frame, index)`` nodes).
    end
        The last node of the vanished chain.
    skip
        Nodes whose successors do not count.
    areas
        ``areas[t][i]``: the area (pixels) of detection ``i`` of frame ``t``.
    positions
        ``positions[t]``: (N, 2) or (N, 4) rows: centroid (row, col), then the last move.
    reach
        Largest distance from ``end`` (or her predicted position) to the merged object.
    share
        Smallest ratio of the merged object's area to the two objects' summed areas.
    """
    g = graph
    t, i = end
    if t + 1 >= len(areas):
        return False
    here = positions[t][i]
    guesses = [here[:2]] + ([here[:2] + here[2:4]] if len(here) >= 4 else [])
    for j in range(len(areas[t + 1])):
        node = (t + 1, j)
        if node not in g or g.in_degree(node) != 1:  # type: ignore[attr-defined]
            continue
        before = next(iter(g.predecessors(node)))  # type: ignore[attr-defined]
        if before in skip or before == end or before[0] != t:
            continue
        there = positions[t + 1][j][:2]
        if min(float(np.hypot(*(there - guess))) for guess in guesses) > reach:
            continue
        if _area(areas, node) >= share * (_area(areas, end) + _area(areas, before)):
            return True
    return False


def prune_short_daughters(
    graph: object,
    n_frames: int,
    short: int,
    areas: Sequence[np.ndarray] | None = None,
    positions: Sequence[np.ndarray] | None = None,
    reach: float = 1.0,
) -> None:
    """Remove the short-lived branches of divisions: a daughter chain that lasts fewer
    than ``short`` frames, ends before the movie's last frame and does not divide was a
    fragment or a flicker of the detector (the mother goes on as the other daughter).

    With ``areas`` and ``positions`` (see :func:`absorbed`), a short daughter chain that
    ends because she merged into a neighbour's object (:func:`absorbed`, her sister's
    branch not counted: a fragment merges back into her sister) is kept: she did not
    vanish, the detector lost her in a clump. Edits the LAP ``graph``
    (``networkx.DiGraph`` over ``(frame, index)``) in place."""
    import networkx as nx

    g: nx.DiGraph = graph  # type: ignore[assignment]
    if short <= 1:
        return
    for node in sorted(n for n in g.nodes if g.out_degree(n) > 1):
        if node not in g or g.out_degree(node) < 2:
            continue
        branches = []
        for child in sorted(g.successors(node)):
            chain = [child]
            while g.out_degree(chain[-1]) == 1:
                chain.append(next(iter(g.successors(chain[-1]))))
            leaf = g.out_degree(chain[-1]) == 0
            span = chain[-1][0] - chain[0][0] + 1
            branches.append((chain, leaf and span < short and chain[-1][0] < n_frames - 1))
        if areas is not None and positions is not None:
            every = {n for chain, _ in branches for n in chain}
            branches = [
                (chain, bad and not absorbed(g, chain[-1], every, areas, positions, reach))
                for chain, bad in branches
            ]
        doomed = [chain for chain, bad in branches if bad]
        if len(doomed) == len(branches):  # keep the longest: the cell went on
            doomed.remove(max(doomed, key=lambda c: (c[-1][0] - c[0][0], len(c))))
        for chain in doomed:
            g.remove_nodes_from(chain)
