"""Script SAM 2 from napari's console (or any Python) with the widget's machinery.

The functions below drive the same :class:`~napari_sam2.controller.Sam2Controller` as
the dock widget, inline (no threads): same coordinates, normalisation, overlap policy
and undoable Labels edits. Positions are napari **layer data coordinates**: (row, col)
for a 2D image, (t or z, row, col) for a stack; Points layers are mapped through world
coordinates, so layers with different scales line up as they do on screen.

Examples
--------
In napari's console (``viewer`` is defined there)::

    from napari_sam2 import api
    # one object per point of a Points layer (add points with the Points tool first)
    labels = api.segment_from_points(viewer.layers["nuclei 2D"], viewer.layers["Points"])
    # track the nuclei clicked on frame 0 through the movie
    tracks = api.propagate_from_points(viewer.layers["nuclei time-lapse"],
                                       viewer.layers["Points"], time_axis=0)
    # propagate clicked nuclei through a z-stack (objects end where they end in z)
    cells = api.propagate_from_points(viewer.layers["nuclei z-stack"], viewer.layers["Points"],
                                      time_axis=0, kind="z", direction="both")
    # everything on the current plane
    auto = api.segment_everything(viewer.layers["nuclei 2D"], points_per_side=16)
    # every cell of a time-lapse, with divisions and lineage
    run = api.track_cells(viewer.layers["nuclei time-lapse"])
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from napari_sam2.api_inputs import (
    check_inside,
    image_layer,
    inline_controller,
    labels_result,
    prompt_groups,
)
from napari_sam2.controller import Sam2Controller
from napari_sam2.core.image_context import check_numeric
from napari_sam2.viewer.registry import bridge_for, unwrap_viewer

__all__ = [
    "controller_for",
    "load_autosave",
    "propagate_from_points",
    "segment_everything",
    "segment_from_points",
    "track_cells",
    "track_from_points",
]


def controller_for(viewer: Any) -> Sam2Controller:
    """The controller behind the viewer's SAM 2 widgets (created if needed).

    Use it to script exactly what the widget does, e.g.
    ``c = controller_for(viewer); c.add_point((12, 40, 52)); c.commit(); c.propagate()``.
    """
    return bridge_for(viewer).controller


# ---------------------------------------------------------------------- public functions
def segment_from_points(
    image: Any,
    points: Any,
    *,
    labels: Any = None,
    model: Any = None,
    device: str | None = None,
    overlap: str = "keep",
    channel_axis: int | None = None,
    box: Sequence[float] | None = None,
) -> Any:
    """Segment one object per positive point (or per ``object`` group of points).

    Parameters
    ----------
    image
        An Image layer, a viewer (its selected or only Image layer) or an array.
    points
        A Points layer, or an (N, D) array of image-layer data coordinates: (row, col)
        or (t/z, row, col)... A Points layer may carry features ``positive`` (bool) or
        ``label`` (1 positive, 0 negative) and ``object`` (points with the same value
        prompt one object; negatives without a group join the nearest-in-order group).
    labels
        Labels layer to write into (default: a new one).
    model
        A model name, a ``SAM2Model``, or None: the model loaded in the viewer's SAM 2
        widget, else the default model.
    device
        "auto", "cpu", "cuda", "mps".
    overlap
        "keep" (default: never overwrite other objects), "overwrite" or "only_empty".
    channel_axis
        Channel axis of multichannel (non-rgb) image data.
    box
        Optional ``(row0, col0, row1, col1)`` box added to every object's prompt.

    Returns
    -------
    napari.layers.Labels
        The labels (added to the current viewer when ``image`` is one of its layers).
    """
    layer, viewer = image_layer(image)
    c = inline_controller(layer, labels, model, device, overlap, channel_axis, stack_axis="auto")
    for group in prompt_groups(layer, points):
        plane_pos = group[0][0]
        c.set_position(plane_pos)
        for pos, positive in group:
            check_inside(c, pos)
            c.add_point(pos, positive=positive)
        if box is not None:
            r0, c0, r1, c1 = box
            c.set_box([*plane_pos[:-2], r0, c0], [*plane_pos[:-2], r1, c1])
        c.commit()
    return labels_result(c, viewer)


def propagate_from_points(
    image: Any,
    seeds: Any,
    *,
    time_axis: int = 0,
    direction: str = "forward",
    kind: str = "time",
    labels: Any = None,
    model: Any = None,
    device: str | None = None,
    overlap: str = "keep",
    channel_axis: int | None = None,
    max_frames: int | None = None,
) -> Any:
    """Segment one object per seed point on its frame, then propagate all through the
    stack with SAM 2 (object propagation; for every cell of a movie with divisions and
    lineage see :func:`track_cells`).

    Parameters
    ----------
    image
        An Image layer (or viewer, or array) with a time or z axis.
    seeds
        A Points layer or (N, D) array of image data coordinates; each point seeds one
        object on the frame it lies on (points may lie on different frames).
    time_axis
        The tracked axis of the image (time, or z for a z-stack).
    direction
        "forward", "backward" or "both", from the earliest seeded frame (the latest
        for "backward").
    kind
        "time" (a time-lapse: SAM 2's defaults) or "z" (a z-stack: the engine's z profile,
        ``VideoPredictor(model, axis="z")``, ends each object where its mask jumps to
        another nucleus or the model is only weakly sure it is there; use it with
        ``direction="both"``).
    labels, model, device, overlap, channel_axis
        As in :func:`segment_from_points`.
    max_frames
        Frames per direction (default: to the end).

    Returns
    -------
    napari.layers.Labels
        Tracked labels: one id per seed on every frame where it was found.
    """
    layer, viewer = image_layer(image)
    if layer.ndim < 3 or not 0 <= time_axis < layer.ndim - 2 or layer.data.shape[time_axis] < 2:
        raise ValueError(
            f"axis {time_axis} of {layer.name!r} (shape {tuple(layer.data.shape)}) is not a stack "
            "to track through: give the time or z axis, a leading axis with several planes"
        )
    c = inline_controller(
        layer, labels, model, device, overlap, channel_axis, stack_axis=time_axis, stack_kind=kind
    )
    groups = prompt_groups(layer, seeds)
    for group in groups:
        c.set_position(group[0][0])
        for pos, positive in group:
            check_inside(c, pos)
            c.add_point(pos, positive=positive)
        c.commit()
    frames = [round(float(g[0][0][time_axis])) for g in groups]
    first = max(frames) if direction == "backward" else min(frames)
    start_pos = np.array(groups[frames.index(first)][0][0], dtype=float)
    c.set_position(start_pos)
    if not c.propagate(direction, max_frames):
        raise RuntimeError(c.status)
    return labels_result(c, viewer)


def segment_everything(
    image: Any,
    *,
    position: Sequence[float] | int | None = None,
    labels: Any = None,
    model: Any = None,
    device: str | None = None,
    overlap: str = "keep",
    channel_axis: int | None = None,
    settings: Any = None,
    **generator_settings: Any,
) -> Any:
    """Segment every object of one plane with the automatic mask generator.

    Parameters
    ----------
    image
        An Image layer, a viewer or an array.
    position
        The plane: image data coordinates (all axes), or a frame index along the first
        axis; default: the viewer's current slider position (or the first plane).
    settings
        ``sam2_engine.MaskGeneratorSettings`` (default: what the model recommends).
    **generator_settings
        Single fields of it, e.g. ``points_per_side=16``, ``pred_iou_thresh=0.5``,
        ``min_mask_region_area=20`` (also drops smaller masks).
    labels, model, device, overlap, channel_axis
        As in :func:`segment_from_points`; new objects get fresh labels.

    Returns
    -------
    napari.layers.Labels
    """
    layer, viewer = image_layer(image)
    c = inline_controller(layer, labels, model, device, overlap, channel_axis, stack_axis="auto")
    assert c.layout is not None
    if position is None and viewer is not None:
        position = layer.world_to_data(viewer.dims.point)
    if isinstance(position, int | np.integer):
        position = [int(position)] + [0] * (c.layout.ndim - 1)
    if position is not None:
        c.set_position(position)
    c.segment_everything((settings or c.automatic).replace(**generator_settings))
    c.ensure_labels()
    return labels_result(c, viewer)


def track_cells(
    image: Any,
    seeds: Any = None,
    *,
    time_axis: int = 0,
    model: Any = None,
    device: str | None = None,
    channel_axis: int | None = None,
    settings: Any = None,
    resume: Any = None,
    detections: Any = None,
    cache: str | Path | bool | None = None,
) -> Any:
    """Segment and track every cell of a time-lapse, with divisions (the Track cells tab).

    Parameters
    ----------
    image
        An Image layer (or viewer, or array) of shape (T, H, W) or (T, H, W, C).
    seeds
        None (the detections alone), a Labels layer or (H, W) / (T, H, W) label array (its
        labels on frame 0 replace the detections they overlap), or a Points layer / (N, 3)
        array of ``(t, row, col)`` clicks, one per cell the detections missed.
    time_axis
        The time axis of the image.
    model, device, channel_axis
        As in :func:`segment_from_points`.
    settings
        ``sam2_cells.TrackerSettings`` (default: the tracker's defaults).
    resume
        The ``run_state`` of an earlier, cancelled call's feature to continue (rarely
        needed from a script).
    detections
        Where each frame's cells come from: None (``settings.detection``, default
        ``"auto"``: the model's instance head if it recommends it, else classical), ``"model"``,
        ``"classical"``, or your own segmentation as a (T, H, W) Labels layer or integer
        array (Cellpose, StarDist, ...), which is then only linked.
    cache
        The on-disk embedding cache (``sam2_engine.EmbeddingCache``) for the SAM 2
        sessions (the SAM 2 cue, point seeds): a folder, True for the default one
        (``$NAPARI_SAM2_EMBEDDINGS`` or ``~/.cache/napari-sam2/embeddings``), None or False
        for none. Tracking the same movie again then skips the encoder.

    Returns
    -------
    napari_sam2.features.cell_tracking.TrackingRun
        ``labels_layer`` (one label per track, added to the viewer of ``image`` if any),
        ``tracks`` (the lineage as ``sam2_cells.TrackRecord``), ``tracks_data()`` for a
        napari Tracks layer, ``summary()``.

    Examples
    --------
    >>> run = api.track_cells(viewer.layers["cells"])                      # doctest: +SKIP
    >>> viewer.add_tracks(*run.tracks_data()[:1], graph=run.tracks_data()[1])  # doctest: +SKIP
    """
    from napari.layers import Labels, Points

    layer, viewer = image_layer(image)
    c = inline_controller(layer, None, model, device, "keep", channel_axis, time_axis, "time")
    if cache:
        c.ws.embeddings.use_disk(True, None if cache is True else str(cache))
    feature = c.cell_tracking
    if settings is not None:
        feature.settings = settings
    if seeds is not None and not isinstance(seeds, Labels | Points):
        arr = np.asarray(seeds)
        check_numeric(arr, "the seeds")
        seeds = Labels(arr) if np.issubdtype(arr.dtype, np.integer) else Points(arr)
    problem = feature.problem()
    if problem is None and resume is not None and not getattr(resume, "state", None):
        problem = "resume: that run has nothing to continue (it was not cancelled)"
    if problem:
        raise ValueError(problem)
    feature.run_state = resume
    if isinstance(detections, np.ndarray):
        check_numeric(detections, "the detections")
    feature.run(seeds=seeds, resume=resume is not None, detections=detections)
    run = feature.run_state
    if viewer is not None and run.labels_layer not in viewer.layers:
        viewer.add_layer(run.labels_layer)
    return run


def load_autosave(path: str | Path | None = None, viewer: Any = None) -> Any:
    """Labels autosaved by the SAM 2 dock, as a Labels layer (e.g. after a crash).

    Parameters
    ----------
    path
        An autosave (a ``.zarr`` array, or a ``.npy`` file of earlier versions); default:
        the newest one in the autosave folder
        (:func:`napari_sam2.core.autosave.autosave_dir`, ``~/.cache/napari-sam2/autosave``).
    viewer
        Add the layer to this viewer.

    Returns
    -------
    napari.layers.Labels
        Named after the saved layer, "(recovered)", with its scale and translation.

    Raises
    ------
    FileNotFoundError
        No autosaved labels (or no such file).
    """
    import json

    from napari.layers import Labels

    from napari_sam2.core.autosave import autosave_dir, autosave_files, read_autosave

    if path is None:
        files = autosave_files()
        if not files:
            raise FileNotFoundError(f"no autosaved labels in {autosave_dir()}")
        path = files[0]
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; autosaves are in {autosave_dir()}")
    data = read_autosave(path)
    sidecar = path.with_suffix(".json")
    meta = json.loads(sidecar.read_text()) if sidecar.is_file() else {}
    layer = Labels(
        data,
        name=f"{meta.get('layer', path.stem)} (recovered)",
        scale=meta.get("scale"),
        translate=meta.get("translate"),
    )
    if viewer is not None:
        unwrap_viewer(viewer).add_layer(layer)
    return layer


def track_from_points(*args: Any, **kwargs: Any) -> Any:
    """Deprecated name of :func:`propagate_from_points` (same arguments and result).

    "Track" now names cell tracking with lineage (:func:`track_cells`); SAM 2 object
    propagation is :func:`propagate_from_points`.
    """
    import warnings

    warnings.warn(
        "napari_sam2.api.track_from_points is renamed propagate_from_points "
        "(track_cells is cell tracking with lineage); the old name will be removed",
        DeprecationWarning,
        stacklevel=2,
    )
    return propagate_from_points(*args, **kwargs)
