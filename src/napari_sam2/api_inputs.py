"""What the console API's arguments become: an Image layer and its viewer, a model, a
controller driven inline, prompt groups from a Points layer or an array."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from napari_sam2.controller import Sam2Controller
from napari_sam2.core.image_context import check_numeric
from napari_sam2.core.jobs import SyncRunner
from napari_sam2.core.state import OverlapPolicy, StackKind
from napari_sam2.viewer.helper_layers import is_helper
from napari_sam2.viewer.registry import existing_bridge, unwrap_viewer

log = logging.getLogger("napari_sam2.api")


def image_layer(image: Any) -> tuple[Any, Any]:
    """(Image layer, viewer holding it or None) for a layer, a viewer or an array."""
    from napari.layers import Image

    if isinstance(image, Image):
        return image, viewer_of(image)
    if hasattr(image, "layers") and hasattr(image, "dims"):
        viewer = unwrap_viewer(image)
        images = [ly for ly in viewer.layers if isinstance(ly, Image) and not is_helper(ly)]
        active = viewer.layers.selection.active
        if isinstance(active, Image):
            return active, viewer
        if len(images) == 1:
            return images[0], viewer
        raise ValueError(
            f"the viewer has {len(images)} Image layers and none is selected; pass the layer"
        )
    arr = np.asarray(image) if not hasattr(image, "shape") else image
    check_numeric(arr, "the image")
    if getattr(arr, "ndim", 0) < 2:
        raise ValueError(f"expected an image with at least 2 axes, got shape {np.shape(arr)}")
    return Image(arr, name="image"), None


def viewer_of(layer: Any) -> Any:
    """The current napari viewer if it holds ``layer``, else None (no Qt, no viewer)."""
    try:
        import napari

        viewer = napari.current_viewer()
    except Exception:  # no Qt, no viewer
        return None
    if viewer is not None and layer in viewer.layers:
        return unwrap_viewer(viewer)
    return None


def resolve_model(layer: Any, model: Any, device: str | None) -> tuple[Any, str]:
    """(model, its name) for a model object, a name, or None: the model of the dock
    showing ``layer``, else the default model."""
    from napari_sam2.core.models import load_model, usable_default_model

    if model is not None and not isinstance(model, str | bytes):
        return model, getattr(getattr(model, "cfg", None), "name", "model")
    if model is None:
        bridge = existing_bridge(viewer_of(layer))
        if bridge is not None and bridge.controller.model is not None:
            return bridge.controller.model, str(bridge.controller.model_name)
        model = usable_default_model()
        if model.startswith("test_"):
            log.warning("no trained SAM 2 weights on disk: using %s (random weights)", model)
    return load_model(str(model), device), str(model)


def inline_controller(
    layer: Any,
    labels: Any,
    model: Any,
    device: str | None,
    overlap: str,
    channel_axis: int | None,
    stack_axis: int | str | None,
    stack_kind: str = "time",
) -> Sam2Controller:
    """A controller on ``layer`` that runs every job inline and raises its errors (the
    console API returns results to the script, so autosave is off)."""
    c = Sam2Controller(runner=SyncRunner(raise_errors=True))
    c.autosave.enabled = False  # the result is returned to the script; the dock autosaves
    c.settings.overlap = OverlapPolicy(overlap)
    c.settings.click_selects_object = False
    c.settings.auto_embed = False
    built, name = resolve_model(layer, model, device)
    c.set_model(built, name)
    c.set_image(
        layer, stack_axis=stack_axis, channel_axis=channel_axis, stack_kind=StackKind(stack_kind)
    )
    if labels is not None:
        c.set_labels(labels)
    return c


def prompt_groups(image: Any, points: Any) -> list[list[tuple[np.ndarray, bool]]]:
    """Points as prompt groups: [[(image data position, positive), ...], ...]."""
    from napari.layers import Points

    if isinstance(points, Points):
        if len(points.data) == 0:
            raise ValueError("no points given: add at least one point on an object")
        world = np.array([points.data_to_world(p) for p in points.data]).reshape(
            len(points.data), -1
        )
        coords = np.array([image.world_to_data(w) for w in world]).reshape(len(world), -1)
        feats = points.features
        n = len(coords)
        if "positive" in feats:
            positive = np.asarray(feats["positive"], dtype=bool)
        elif "label" in feats:
            positive = np.asarray(feats["label"]) > 0
        else:
            positive = np.ones(n, dtype=bool)
        objects = np.asarray(feats["object"]) if "object" in feats else None
    else:
        check_numeric(points, "the points")
        coords = np.atleast_2d(np.asarray(points, dtype=float))
        positive = np.ones(len(coords), dtype=bool)
        objects = None
    if len(coords) == 0:
        raise ValueError("no points given: add at least one point on an object")
    if coords.shape[1] != image.ndim:
        raise ValueError(
            f"points have {coords.shape[1]} coordinates but the image has {image.ndim} axes"
        )
    if objects is None:  # each positive point its own object; negatives join the previous one
        groups: list[list[tuple[np.ndarray, bool]]] = []
        for pos, pos_flag in zip(coords, positive, strict=True):
            if pos_flag or not groups:
                groups.append([])
            groups[-1].append((pos, bool(pos_flag)))
        return groups
    order = list(dict.fromkeys(objects.tolist()))
    return [
        [(coords[i], bool(positive[i])) for i in range(len(coords)) if objects[i] == key]
        for key in order
    ]


def check_inside(c: Sam2Controller, position: np.ndarray) -> None:
    """Refuse a (..., row, col) data position outside the controller's image plane."""
    assert c.layout is not None
    if not c.layout.contains_rc(float(position[-2]), float(position[-1])):
        h, w = c.layout.plane_shape
        raise ValueError(
            f"point {np.round(position, 1).tolist()} lies outside the image ({h} rows x {w} "
            "columns); positions are (..., row, col) image data coordinates"
        )


def labels_result(c: Sam2Controller, viewer: Any) -> Any:
    """The controller's Labels layer, added to ``viewer`` when it is not shown yet."""
    layer = c.labels_layer
    if layer is None:
        raise RuntimeError("nothing was segmented")
    if viewer is not None and layer not in viewer.layers:
        viewer.add_layer(layer)
    return layer
