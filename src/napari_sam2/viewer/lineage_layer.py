"""The layers of a cell-tracking run in the viewer: its Labels and its Tracks layer.

Each track keeps one colour in both layers: the Tracks layer's colour map sends every
track id to the colour the Labels layer's colour map gives that label. The Tracks layer
is created once the run has a track with two points and is refreshed when the run's
lineage changes (every few frames while it runs, after edits and their undo). Ctrl-Z
with the Tracks layer selected undoes the run's last edit, as on its Labels layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from napari_sam2.features.cell_tracking import LINEAGE_NAME, CellTracking, TrackingRun


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


class LineageLayers:
    """Puts a tracking run's layers into the viewer and keeps its Tracks layer current.

    Parameters
    ----------
    viewer
        ``viewer()`` gives the napari viewer.
    feature
        The controller's cell-tracking feature.
    add_labels
        Adds a Labels layer to the viewer (below the plugin's helper layers).
    """

    def __init__(
        self, viewer: Callable[[], Any], feature: CellTracking, add_labels: Callable[[Any], None]
    ) -> None:
        self._viewer, self._feature, self._add_labels = viewer, feature, add_labels
        self.tracks_layer: Any = None
        feature.events.layers_ready.connect(self._new_run)
        feature.events.changed.connect(self.refresh)

    def close(self) -> None:
        self._feature.events.layers_ready.disconnect(self._new_run)
        self._feature.events.changed.disconnect(self.refresh)

    def removed(self, layer: Any) -> None:
        """A layer left the viewer: a run whose Labels layer it was stops (with a warning)."""
        run = self._feature.run_state
        if run is not None and layer is run.labels_layer:
            self._feature.stop(f"its layer {layer.name!r} was removed")

    def _new_run(self, labels_layer: Any) -> None:
        self._add_labels(labels_layer)
        self.tracks_layer = None  # the next refresh makes the new run's own

    def refresh(self) -> None:
        """Create or update the Tracks layer from the run's lineage."""
        run = self._feature.run_state
        if run is None:
            return
        viewer = self._viewer()
        if self.tracks_layer is None or self.tracks_layer not in viewer.layers:
            if run.labels_layer not in viewer.layers:
                return  # the user removed the run's labels: no lineage beside them
            self.tracks_layer = make_lineage_layer(run)
            if self.tracks_layer is not None:
                self._bind_undo(self.tracks_layer)
                viewer.layers.insert(viewer.layers.index(run.labels_layer) + 1, self.tracks_layer)
        else:
            refresh_lineage_layer(self.tracks_layer, run)

    def _bind_undo(self, layer: Any) -> None:
        """Ctrl-Z / Ctrl-Shift-Z with the Tracks layer selected undo / redo the run's
        edits (napari's Tracks layer has no history of its own)."""
        from napari.utils.key_bindings import KeyCode, KeyMod

        def labels() -> Any:
            run = self._feature.run_state
            return None if run is None else run.labels_layer

        def undo(_layer: Any) -> None:
            if (target := labels()) is not None:
                target.undo()

        def redo(_layer: Any) -> None:
            if (target := labels()) is not None:
                target.redo()

        layer.bind_key(KeyMod.CtrlCmd | KeyCode.KeyZ, undo, overwrite=True)
        layer.bind_key(KeyMod.CtrlCmd | KeyMod.Shift | KeyCode.KeyZ, redo, overwrite=True)
