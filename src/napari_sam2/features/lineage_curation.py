"""Correcting a tracking run by hand: one lineage edit is one undo step.

An edit of :mod:`sam2_cells.lineage_edits` returns new records and the relabelling they
need. :func:`apply_lineage_edit` writes the relabelling into the run's Labels layer as
one napari history item and adds to that item the lineage before and after the edit
(:meth:`~napari_sam2.features.track_labels.TrackLabels.record_lineage`), so Ctrl-Z and
Ctrl-Shift-Z bring back pixels, track table, Tracks layer and what a save writes
together. :func:`restore_lineage` is what an undo or redo calls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from napari_sam2.core.labels_edit import EditGroup, PlaneEdit

#: An edit: the current records -> (new records, relabel steps).
LineageEdit = Callable[[list], tuple[list, Sequence[Any]]]


def apply_lineage_edit(run: Any, edit: LineageEdit) -> None:
    """Apply ``edit`` to ``run`` (a ``TrackingRun``) as one undo step.

    Raises
    ------
    sam2_cells.LineageError
        The edit breaks a rule; nothing is changed.
    """
    from napari_sam2.features.track_labels import LineageSnapshot
    from sam2_cells import relabel_hits

    tracks, relabels = edit(list(run.tracks))
    layer = run.labels_layer
    touched: set[int] = set()
    for step in relabels:
        touched.update(range(step.first, step.last + 1))
    before = LineageSnapshot(
        tuple(run.tracks), {t: dict(run.points.get(t, {})) for t in touched}, run.state
    )
    changed: set[int] = set()
    with EditGroup(layer) as group:
        for t, _, hit, new in relabel_hits(layer.data, relabels):
            rows, cols = np.nonzero(hit)
            group.write(
                (t, slice(None), slice(None)), PlaneEdit(rows, cols, np.full(rows.size, new))
            )
            changed.add(t)
        for t in changed:  # once per relabelled frame, after all its relabellings
            run.points[t] = centroids(np.asarray(layer.data[t]))
        after = LineageSnapshot(tuple(tracks), {t: dict(run.points.get(t, {})) for t in touched})
        if hasattr(layer, "record_lineage"):
            layer.record_lineage(before, after)
    run.tracks = list(tracks)
    run.state = None  # edited by hand: a later run starts afresh


def restore_lineage(run: Any, snapshot: Any) -> None:
    """Give ``run`` the lineage of a :class:`LineageSnapshot` (after an undo or redo)."""
    run.tracks = list(snapshot.tracks)
    for t, found in snapshot.points.items():
        run.points[t] = dict(found)
    run.state = snapshot.state


def centroids(frame: np.ndarray) -> dict[int, tuple[float, float]]:
    """``{label: (row, col)}`` centroids of the labels of one (H, W) frame: the rows of
    :func:`sam2_cells.tracks_layer_data` for that frame (one centroid rule for the
    plugin, the command line and the saved Tracks data)."""
    from sam2_cells import tracks_layer_data

    data, _ = tracks_layer_data(np.asarray(frame)[np.newaxis])
    return {int(label): (float(r), float(c)) for label, _, r, c in data}
