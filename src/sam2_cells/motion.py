"""How cells move along their tracks: each detection's last move, for motion-predicted
linking (:class:`sam2_cells.linking.LapLinker` with ``LinkSettings.predict_motion``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["track_velocities"]


def track_velocities(graph: object, coords: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Per frame, the (N, 2) last move of each detection along its chain of ``graph``.

    A detection whose chain continues from exactly one detection of the frame before (which
    has no other successor) moved by the difference of their positions; any other (a
    track's first frame, a daughter, after a gap) by 0.

    Parameters
    ----------
    graph
        A LAP graph (``networkx.DiGraph`` over ``(frame, index)`` nodes, edges forward).
    coords
        Per frame, the (N, >=2) rows whose first two columns are the positions (row, col).

    Returns
    -------
    list of numpy.ndarray
        Per frame, (N, 2) moves in the units of ``coords``.
    """
    g = graph
    out = [np.zeros((len(c), 2)) for c in coords]
    for t in range(1, len(coords)):
        for i in range(len(coords[t])):
            node = (t, i)
            if node not in g or g.in_degree(node) != 1:  # type: ignore[attr-defined]
                continue
            before = next(iter(g.predecessors(node)))  # type: ignore[attr-defined]
            if before[0] != t - 1 or g.out_degree(before) != 1:  # type: ignore[attr-defined]
                continue
            out[t][i] = coords[t][i, :2] - coords[t - 1][before[1], :2]
    return out
