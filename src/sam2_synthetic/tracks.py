"""Cell Tracking Challenge lineage from simulated cells and the frames where they are visible.

A simulated cell (an *agent*) may leave the field and come back, be hidden under another
cell, or be born outside the field. CTC rules need a track to be present in contiguous
frames, so :func:`_lineage` gives every contiguous run of visible frames of an agent its own
track label, and links a daughter's first run to its mother's last run only when the
daughter is visible from its birth frame and the mother up to the frame before.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from sam2_cells.lineage import TrackRecord


def _runs(present: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Contiguous runs ``(begin, end)`` (inclusive) of True in a 1D boolean array."""
    padded = np.concatenate([[False], present, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(b), int(e) - 1) for b, e in zip(edges[::2], edges[1::2], strict=True)]


def _lineage(
    presence: NDArray[np.bool_], mother: NDArray[np.int64], born: NDArray[np.int64]
) -> tuple[list[TrackRecord], NDArray[np.int32]]:
    """Track records and a (T, n_agents + 1) table from agent id to track label per frame.

    Parameters
    ----------
    presence : (n_agents, T) bool
        Whether agent ``i`` (label id ``i + 1`` in the agent label images) is visible in
        each frame.
    mother : (n_agents,) int
        Agent id (``1..``) of each agent's mother, 0 for none.
    born : (n_agents,) int
        Frame in which each agent appeared in the simulation (its birth for a daughter).

    Returns
    -------
    records : list of TrackRecord
        Labels ``1..N`` in order of their first frame, then agent id.
    table : (T, n_agents + 1) int32
        ``table[t, agent_id]`` is the track label of that agent in frame ``t`` (0 if absent).
    """
    n_agents, n_frames = presence.shape
    runs = [
        (begin, agent, k, end)
        for agent in range(n_agents)
        for k, (begin, end) in enumerate(_runs(presence[agent]))
    ]
    runs.sort()
    table = np.zeros((n_frames, n_agents + 1), np.int32)
    last_run: dict[int, tuple[int, int]] = {}  # agent -> (label, end) of its latest run
    records = []
    for label, (begin, agent, k, end) in enumerate(runs, start=1):
        parent = 0
        m = int(mother[agent]) - 1
        if k == 0 and m >= 0 and begin == born[agent] and m in last_run:
            mother_label, mother_end = last_run[m]
            if mother_end == begin - 1:
                parent = mother_label
        records.append(TrackRecord(label, begin, end, parent))
        table[begin : end + 1, agent + 1] = label
        last_run[agent] = (label, end)
    return records, table
