"""napari's Tracks layer of a cell-tracking run, coloured like its Labels layer.

Each track keeps one colour in both layers: the Tracks layer's colour map sends every
track id to the colour the Labels layer's colour map gives that label.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from napari_sam2.features.cell_tracking import LINEAGE_NAME, TrackingRun


def shared_colormap(labels_layer: Any, track_ids: np.ndarray) -> Any:
    """A colour map for the Tracks layer that gives each track its label's colour.

    napari normalises the ``track_id`` property to [0, 1] by its range; the map has one
    flat band per id around that position.
    """
    from napari.utils.colormaps import Colormap

    ids = np.unique(track_ids.astype(int))
    if ids.size == 0:
        return Colormap(colors=[[1, 1, 1, 1], [1, 1, 1, 1]], name="sam2_tracks")
    colours = np.asarray(labels_layer.colormap.map(ids), dtype=float)
    lo, hi = float(ids.min()), float(ids.max())
    span = hi - lo if hi > lo else 1.0
    centres = (ids - lo) / span
    edges = np.concatenate([[0.0], (centres[1:] + centres[:-1]) / 2, [1.0]])
    return Colormap(colors=colours, controls=edges, interpolation="zero", name="sam2_tracks")


def make_lineage_layer(run: TrackingRun) -> Any | None:
    """A new Tracks layer for ``run`` (None while no track has two points)."""
    from napari.layers import Tracks

    data, graph = run.tracks_data()
    if len(data) == 0:
        return None
    layer = Tracks(
        data,
        graph=graph,
        name=LINEAGE_NAME,
        scale=run.labels_layer.scale,
        translate=run.labels_layer.translate,
        tail_length=10,
    )
    _colour(layer, run)
    return layer


def refresh_lineage_layer(layer: Any, run: TrackingRun) -> None:
    """Give an existing Tracks layer the run's current data and graph."""
    data, graph = run.tracks_data()
    if len(data) == 0:
        return
    layer.data = data
    layer.graph = graph
    _colour(layer, run)


def _colour(layer: Any, run: TrackingRun) -> None:
    cmap = shared_colormap(run.labels_layer, layer.properties["track_id"])
    layer.colormaps_dict = {**layer.colormaps_dict, "track_id": cmap}
    layer.color_by = "track_id"
