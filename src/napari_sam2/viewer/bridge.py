"""Wiring a :class:`~napari_sam2.controller.Sam2Controller` to a napari viewer (no Qt).

One bridge per viewer (:mod:`napari_sam2.viewer.registry`). The bridge

* owns the three helper layers (:mod:`napari_sam2.viewer.helper_layers`) and keeps them
  in step with the controller: prompts (green positive, red negative clicks), the box,
  and the preview of the mask in the colour it will get;
* turns mouse events on the prompts layer into prompts (:mod:`napari_sam2.viewer.mouse`);
* binds the keyboard shortcuts (:mod:`napari_sam2.viewer.keys`);
* follows the sliders (the plane to segment) and layer removals.
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from napari_sam2.controller import Sam2Controller
from napari_sam2.core.coords import points_from_rc
from napari_sam2.core.state import PlanePrompts
from napari_sam2.sample_data import SAMPLE_KEY
from napari_sam2.viewer.helper_layers import (
    NEGATIVE_COLOUR,
    POSITIVE_COLOUR,
    align_helper,
    find_helper,
    helper_fits,
    make_helper,
    rectangle,
)
from napari_sam2.viewer.keys import bind_layer_keys, bind_viewer_keys
from napari_sam2.viewer.lineage_layer import LineageLayers
from napari_sam2.viewer.mouse import PromptMouse
from napari_sam2.viewer.preview_paint import (
    Box,
    mask_box,
    preview_box,
    preview_patch,
    union,
    write_box,
)

log = logging.getLogger(__name__)


class ViewerBridge:
    """Connects one viewer to one controller; see the module docstring."""

    def __init__(self, viewer: Any, controller: Sam2Controller) -> None:
        self._viewer_ref = weakref.ref(viewer)
        self.controller = controller
        self.closed = False
        self.open_widgets = 0  # dock widgets showing this bridge (see _widgets.common)
        self._syncing = False
        self._drawn: Box | None = None  # where the preview layer holds pixels
        self._layers: dict[str, Any] = {}
        self._connected: dict[int, Any] = {}
        self._mouse = PromptMouse(
            controller, lambda: self.viewer, self._rubber_band, self._refresh_prompts
        )
        ev = controller.events
        ev.image_changed.connect(self._on_image_changed)
        ev.prompts_changed.connect(self._refresh_prompts)
        ev.preview_changed.connect(self._refresh_preview)
        ev.plane_changed.connect(self._refresh_preview)
        ev.labels_created.connect(self._add_labels)
        tracking = controller.cell_tracking
        self.lineage = LineageLayers(lambda: self.viewer, tracking, self._add_labels)
        viewer.dims.events.current_step.connect(self._on_dims)
        viewer.layers.events.removed.connect(self._on_layer_removed)
        viewer.layers.events.inserted.connect(self._on_layer_inserted)
        bind_viewer_keys(viewer, self.actions())

    # ------------------------------------------------------------------ basics
    @property
    def viewer(self) -> Any:
        viewer = self._viewer_ref()
        if viewer is None:
            raise RuntimeError("the viewer was closed")
        return viewer

    def close(self) -> None:
        """Stop the controller's work and disconnect (the viewer is closing)."""
        if self.closed:
            return
        self.closed = True
        self.controller.shutdown()
        self._disconnect_helpers()
        self.lineage.close()
        viewer = self._viewer_ref()
        if viewer is not None:
            with contextlib.suppress(Exception):
                viewer.dims.events.current_step.disconnect(self._on_dims)
                viewer.layers.events.removed.disconnect(self._on_layer_removed)
                viewer.layers.events.inserted.disconnect(self._on_layer_inserted)

    @contextlib.contextmanager
    def _sync(self) -> Iterator[None]:
        prev, self._syncing = self._syncing, True
        try:
            yield
        finally:
            self._syncing = prev

    # ------------------------------------------------------------------ actions
    def actions(self) -> dict[str, Callable[[], Any]]:
        """The shortcut actions, as zero-argument callables."""
        c = self.controller
        return {
            "commit": lambda: c.commit(),
            "clear": c.clear_prompts,
            "new_object": c.new_object,
            "toggle": self.toggle_polarity,
            "propagate": lambda: c.propagate(),
            "undo": c.undo,
            "redo": c.redo,
        }

    def toggle_polarity(self) -> None:
        negative = self.controller.toggle_polarity()
        layer = self._layers.get("prompts")
        if layer is not None:
            layer.feature_defaults = {"positive": not negative}

    # ------------------------------------------------------------------ helper layers
    def helper(self, role: str) -> Any | None:
        return self._layers.get(role)

    def ensure_helpers(self) -> None:
        """Create (or find again) the helper layers for the current image."""
        c = self.controller
        if c.layout is None or c.image_layer is None:
            return
        viewer = self.viewer
        for role in ("preview", "box", "prompts"):
            layer = find_helper(viewer, role)
            if layer is not None and not helper_fits(layer, role, c.layout):
                viewer.layers.remove(layer)
                layer = None
            if layer is None:
                layer = make_helper(role, c.layout, c.image_layer)
                viewer.layers.append(layer)
                if role == "preview":
                    self._drawn = None  # a new preview layer is empty
            else:
                align_helper(layer, role, c.layout, c.image_layer)
                if role == "preview":  # a reused one may hold an old preview
                    self._drawn = mask_box(np.asarray(layer.data) != 0)
            self._connect_helper(role, layer)
            self._layers[role] = layer
        self._keep_helpers_on_top()
        self._refresh_prompts()
        self._refresh_preview()

    def _keep_helpers_on_top(self) -> None:
        """A helper layer below the image (a reused one, the image opened later) goes back
        above it, with the others, in their order: preview, box, prompts on top."""
        layers = self.viewer.layers
        image = self.controller.image_layer
        if image not in layers:
            return
        helpers = [self._layers[r] for r in ("preview", "box", "prompts") if r in self._layers]
        if all(layers.index(h) > layers.index(image) for h in helpers):
            return
        for helper in helpers:
            layers.move(layers.index(helper), len(layers))

    def _connect_helper(self, role: str, layer: Any) -> None:
        if id(layer) in self._connected:
            return
        self._connected[id(layer)] = layer
        if role == "prompts":
            layer.mouse_drag_callbacks.append(self._mouse)
            layer.events.data.connect(self._on_points_edited)
            bind_layer_keys(layer, self.actions())
        elif role == "box":
            layer.events.data.connect(self._on_box_edited)

    def _disconnect_helpers(self) -> None:
        for layer in self._connected.values():
            with contextlib.suppress(Exception):
                if self._mouse in layer.mouse_drag_callbacks:
                    layer.mouse_drag_callbacks.remove(self._mouse)
            with contextlib.suppress(Exception):
                layer.events.data.disconnect(self._on_points_edited)
            with contextlib.suppress(Exception):
                layer.events.data.disconnect(self._on_box_edited)
        self._connected.clear()

    def select_prompts_layer(self) -> None:
        layer = self._layers.get("prompts")
        if layer is not None and layer in self.viewer.layers:
            self.viewer.layers.selection.active = layer

    def _add_labels(self, layer: Any) -> None:
        viewer = self.viewer
        if layer in viewer.layers:
            return
        preview = self._layers.get("preview")
        index = viewer.layers.index(preview) if preview in viewer.layers else len(viewer.layers)
        viewer.layers.insert(index, layer)
        self.select_prompts_layer()

    # ------------------------------------------------------------------ controller -> layers
    def _on_image_changed(self) -> None:
        layer = self.controller.image_layer
        if layer is None:
            return
        self.ensure_helpers()
        self.show_first_frame(layer)
        self._on_dims()
        self.select_prompts_layer()

    def show_first_frame(self, layer: Any) -> None:
        """Move the sliders to the start frame of one of the plugin's sample stacks, once
        (napari starts in the middle of a new stack; one starts clicking on frame 0)."""
        start = layer.metadata.pop(SAMPLE_KEY, None)
        if start is None or layer.ndim < 3:
            return
        viewer = self.viewer
        position = np.zeros(layer.ndim)
        position[0] = start
        world = np.asarray(layer.data_to_world(position), dtype=float)
        offset = viewer.dims.ndim - layer.ndim
        with contextlib.suppress(Exception):
            viewer.dims.set_point(offset, float(world[0]))
        viewer.reset_view()

    def _refresh_prompts(self) -> None:
        c = self.controller
        points, box = self._layers.get("prompts"), self._layers.get("box")
        if points is None or c.layout is None:
            return
        cur = c.current
        with self._sync():
            if cur.plane is None or not cur.prompts.points:
                points.data = np.zeros((0, c.layout.ndim))
            else:
                points.data = np.array(
                    [c.layout.position_of(cur.plane, p.row, p.col) for p in cur.prompts.points]
                )
                positive = [p.positive for p in cur.prompts.points]
                points.features = {"positive": positive}
                points.face_color = np.array(
                    [POSITIVE_COLOUR if p else NEGATIVE_COLOUR for p in positive]
                )
            if box is not None:
                if cur.plane is None or cur.prompts.box is None:
                    box.data = []
                else:
                    box.data = [rectangle(c.layout, cur.plane, cur.prompts.box)]

    def _refresh_preview(self) -> None:
        """Draw the current preview (or nothing) into the preview layer, rewriting only
        the bounding box of the mask drawn before and the mask drawn now
        (:mod:`napari_sam2.viewer.preview_paint`): a click on a big slide costs its
        mask's region, not the plane."""
        c = self.controller
        layer = self._layers.get("preview")
        if layer is None or c.layout is None:
            return
        p = c.preview
        visible = p is not None and p.plane == c.plane and c.preview_is_current
        shown = p if visible else None
        new = None if shown is None else preview_box(shown)
        value = (c.current.obj_id or c.peek_next_label()) if shown is not None else 0
        data, shape = layer.data, tuple(c.layout.plane_shape)
        if not (isinstance(data, np.ndarray) and data.shape == shape and data.ndim == 2):
            data = np.zeros(shape, dtype=np.int32)
            if new is not None:
                r0, r1, c0, c1 = new
                data[r0:r1, c0:c1] = preview_patch(shown, value, new)
            layer.data = data
        else:
            box = union(self._drawn, new)
            if box is None:
                return  # nothing shown, nothing to show: scrubbing sliders costs nothing
            write_box(layer, box, preview_patch(shown, value, box))
        self._drawn = new

    # ------------------------------------------------------------------ layers -> controller
    def _on_dims(self, event: Any = None) -> None:
        c = self.controller
        if c.image_layer is None or self._viewer_ref() is None:
            return
        c.set_position(c.image_layer.world_to_data(self.viewer.dims.point))

    def _on_layer_inserted(self, event: Any) -> None:
        layer = event.value
        if SAMPLE_KEY in getattr(layer, "metadata", {}):
            self.show_first_frame(layer)

    def _on_layer_removed(self, event: Any) -> None:
        layer, c = event.value, self.controller
        if layer is c.image_layer:
            c.set_image(None)
        if layer is c.labels_layer:
            c.set_labels(None)
        self.lineage.removed(layer)
        for role, helper in list(self._layers.items()):
            if helper is layer:
                del self._layers[role]

    def _prompt_edit(self, event: Any) -> Any:
        """The edited prompt layer of a user's edit that changes prompts, or None (an
        edit of ours being synced, a selection, or no image yet)."""
        action = str(getattr(event, "action", ""))
        if self._syncing or not action.endswith(("added", "removed", "changed")):
            return None
        return None if self.controller.layout is None else event.source

    def _on_points_edited(self, event: Any) -> None:
        c, layer = self.controller, self._prompt_edit(event)
        if layer is None:
            return
        data = np.asarray(layer.data)
        if len(data) == 0:
            c.clear_prompts()
            return
        positive = list(layer.features["positive"]) if "positive" in layer.features else None
        plane = c.layout.plane_at(data[-1])
        keep = [i for i, pos in enumerate(data) if c.layout.plane_at(pos) == plane]
        prompts = PlanePrompts(
            points_from_rc(
                data[keep][:, -2:], None if positive is None else [positive[i] for i in keep]
            ),
            c.current.prompts.box if c.current.plane == plane else None,
        )
        c.set_prompts(plane, prompts)

    def _on_box_edited(self, event: Any) -> None:
        c, layer = self.controller, self._prompt_edit(event)
        if layer is None:
            return
        if len(layer.data) == 0:
            if c.current.plane is not None:
                c.set_prompts(c.current.plane, PlanePrompts(list(c.current.prompts.points)))
            return
        corners = np.asarray(layer.data[-1])
        lo, hi = corners.min(axis=0), corners.max(axis=0)
        c.set_box(lo, hi)

    def _rubber_band(self, world_a: np.ndarray, world_b: np.ndarray) -> None:
        c, box = self.controller, self._layers.get("box")
        if box is None or c.layout is None:
            return
        a = c.image_layer.world_to_data(world_a)
        b = c.image_layer.world_to_data(world_b)
        plane = c.layout.plane_at(a)
        with self._sync():
            box.data = [rectangle(c.layout, plane, (a[-2], a[-1], b[-2], b[-1]))]
