"""The data of napari's Tracks layer for a tracked label stack (pure numpy, no napari)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from sam2_cells._frames import frame_at, region_stats, stack_shape
from sam2_cells.lineage import Lineage, TrackRecord

__all__ = ["tracks_layer_data"]


def tracks_layer_data(
    labels: Any, tracks: Iterable[TrackRecord] | None = None
) -> tuple[np.ndarray, dict[int, list[int]]]:
    """Data for napari's Tracks layer: the centroid of every track in every frame.

    Parameters
    ----------
    labels : array-like
        (T, H, W) tracked integer labels, read frame by frame.
    tracks : iterable of TrackRecord, optional
        The lineage; without it there is no ``graph`` (no divisions shown).

    Returns
    -------
    data : numpy.ndarray
        (N, 4) ``float64`` rows ``[track_id, t, y, x]`` (centroid row ``y`` and column
        ``x`` in pixels), sorted by track then time, as napari expects.
    graph : dict of int to list of int
        ``{daughter: [mother]}`` for daughters whose mother has data.
    """
    n_frames = stack_shape(labels, "label stack")[0]
    rows = []
    for t in range(n_frames):
        ids, _, cy, cx = region_stats(frame_at(labels, t))
        if len(ids):
            rows.append(np.column_stack([ids, np.full(len(ids), t), cy, cx]))
    data = np.concatenate(rows).astype(np.float64) if rows else np.zeros((0, 4))
    data = data[np.lexsort((data[:, 1], data[:, 0]))]
    present = set(np.unique(data[:, 0]).astype(int).tolist())
    graph: dict[int, list[int]] = {}
    if tracks is not None:
        graph = {
            d: m
            for d, m in Lineage(tracks).napari_graph().items()
            if d in present and m[0] in present
        }
    return data, graph
