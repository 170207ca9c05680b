"""Wiring a :class:`~napari_sam2.controller.Sam2Controller` to a napari viewer (no Qt).

One bridge (and one controller) per viewer, found with :func:`bridge_for`: opening the
dock widget twice, or from two menus, reuses them, and two viewers stay independent.
The bridge

* owns three helper layers, found again by their metadata when they exist already:
  ``SAM 2 prompts`` (Points: green positive, red negative clicks), ``SAM 2 box``
  (Shapes) and ``SAM 2 preview`` (a 2D Labels layer showing the mask under the cursor
  object, in the colour it will get);
* turns mouse events on the prompts layer into prompts: click = positive point,
  Shift-click or right-click = negative point, Shift-drag = box; a plain drag pans;
* binds the keyboard shortcuts (:data:`SHORTCUTS`) on the viewer and the prompts layer;
* follows the sliders (the plane to segment) and layer removals.
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from app_model.types import KeyCode, KeyMod

from napari_sam2.controller import HELPER_KEY, Sam2Controller
from napari_sam2.coords import points_from_rc
from napari_sam2.jobs import Runner, SyncRunner
from napari_sam2.state import PlaneKey, PlanePrompts

log = logging.getLogger(__name__)

PROMPTS_NAME, BOX_NAME, PREVIEW_NAME = "SAM 2 prompts", "SAM 2 box", "SAM 2 preview"
DRAG_PIXELS = 4  # a press-release moving less than this (screen pixels) is a click

#: action -> (key, description); shown in the widgets' tooltips.
SHORTCUTS: dict[str, tuple[str, str]] = {
    "commit": ("C", "commit the object into the Labels layer"),
    "clear": ("Escape", "clear the clicks and the box of the object"),
    "new_object": ("N", "start a new object"),
    "toggle": ("T", "toggle positive / negative clicks"),
    "propagate": ("G", "propagate through the stack"),
    "undo": ("Ctrl-Z", "undo the last edit of the Labels layer (prompts layer selected)"),
    "redo": ("Ctrl-Shift-Z", "redo"),
}
MOUSE_HELP = (
    "On the 'SAM 2 prompts' layer: click = object, Shift-click or right-click = background,\n"
    "Shift-drag = box, drag = pan."
)

_REGISTRY: weakref.WeakKeyDictionary[Any, ViewerBridge] = weakref.WeakKeyDictionary()


def bridge_for(viewer: Any, runner_factory: Callable[[], Runner] | None = None) -> ViewerBridge:
    """The viewer's bridge (and controller), created on first use.

    Parameters
    ----------
    viewer
        A ``napari.Viewer`` or ``napari.components.ViewerModel``.
    runner_factory
        Makes the runner of a new controller; also replaces a :class:`SyncRunner` of an
        existing one (the widget brings a threaded runner to a console-made controller).
    """
    viewer = unwrap_viewer(viewer)
    bridge = _REGISTRY.get(viewer)
    if bridge is None or bridge.closed:
        runner = runner_factory() if runner_factory else SyncRunner()
        bridge = ViewerBridge(viewer, Sam2Controller(runner=runner))
        _REGISTRY[viewer] = bridge
    elif runner_factory is not None and isinstance(bridge.controller.runner, SyncRunner):
        bridge.controller.runner = runner_factory()
    return bridge


def unwrap_viewer(viewer: Any) -> Any:
    """The real viewer behind napari's ``PublicOnlyProxy`` (given to plugin widgets).

    Each proxy is a new object, so registries and weak references must use the viewer.
    """
    return getattr(viewer, "__wrapped__", viewer)


def is_helper(layer: Any) -> bool:
    """Whether a layer is one of the plugin's helper layers (prompts, box, preview)."""
    return layer.metadata.get(HELPER_KEY) in ("prompts", "box", "preview")


def layer_choices(viewer: Any, kind: str) -> list[tuple[str, Any]]:
    """(name, layer) of the user's layers of one type ("Image", "Labels") for a combo box;
    the plugin's helper layers are left out, and a missing viewer gives none."""
    if viewer is None:
        return []
    return [
        (layer.name, layer)
        for layer in viewer.layers
        if type(layer).__name__ == kind and not is_helper(layer)
    ]


class ViewerBridge:
    """Connects one viewer to one controller; see the module docstring."""

    def __init__(self, viewer: Any, controller: Sam2Controller) -> None:
        self._viewer_ref = weakref.ref(viewer)
        self.controller = controller
        self.closed = False
        self.open_widgets = 0  # dock widgets showing this bridge (see _widgets.common)
        self._syncing = False
        self._preview_shown = True  # unknown at start: clear once
        self._layers: dict[str, Any] = {}
        self._connected: dict[int, Any] = {}
        c = controller
        c.image_changed.connect(self._on_image_changed)
        c.prompts_changed.connect(self._refresh_prompts)
        c.preview_changed.connect(self._refresh_preview)
        c.plane_changed.connect(self._refresh_preview)
        c.labels_created.connect(self._add_labels)
        viewer.dims.events.current_step.connect(self._on_dims)
        viewer.layers.events.removed.connect(self._on_layer_removed)
        self._bind_viewer_keys(viewer)

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
        viewer = self._viewer_ref()
        if viewer is not None:
            with contextlib.suppress(Exception):
                viewer.dims.events.current_step.disconnect(self._on_dims)
                viewer.layers.events.removed.disconnect(self._on_layer_removed)

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

    def _bind_viewer_keys(self, viewer: Any) -> None:
        acts = self.actions()
        for name in ("commit", "clear", "new_object", "toggle", "propagate"):
            key = SHORTCUTS[name][0]
            viewer.bind_key(key, _key_handler(acts[name]), overwrite=True)

    def _bind_layer_keys(self, layer: Any) -> None:
        acts = self.actions()
        for name in ("commit", "clear", "new_object", "toggle", "propagate"):
            layer.bind_key(SHORTCUTS[name][0], _key_handler(acts[name]), overwrite=True)
        layer.bind_key(KeyMod.CtrlCmd | KeyCode.KeyZ, _key_handler(acts["undo"]), overwrite=True)
        layer.bind_key(
            KeyMod.CtrlCmd | KeyMod.Shift | KeyCode.KeyZ, _key_handler(acts["redo"]), overwrite=True
        )

    # ------------------------------------------------------------------ helper layers
    def helper(self, role: str) -> Any | None:
        return self._layers.get(role)

    def _find_helper(self, role: str) -> Any | None:
        for layer in self.viewer.layers:
            if layer.metadata.get(HELPER_KEY) == role:
                return layer
        return None

    def ensure_helpers(self) -> None:
        """Create (or find again) the helper layers for the current image."""
        c = self.controller
        if c.layout is None or c.image_layer is None:
            return
        viewer = self.viewer
        lay, image = c.layout, c.image_layer
        scale = list(np.asarray(image.scale, float))
        translate = list(np.asarray(image.translate, float))
        size = float(np.clip(max(lay.plane_shape) / 60, 2, 12) * scale[-1])
        makers = {
            "preview": lambda: _make_preview(lay, scale, translate),
            "box": lambda: _make_box(lay.ndim, scale, translate, size / 4),
            "prompts": lambda: _make_prompts(lay.ndim, scale, translate, size),
        }
        for role, make in makers.items():
            layer = self._find_helper(role)
            if layer is not None and not _helper_fits(layer, role, lay):
                viewer.layers.remove(layer)
                layer = None
            if layer is None:
                layer = make()
                viewer.layers.append(layer)
            else:
                layer.scale, layer.translate = _helper_transform(role, scale, translate)
            self._connect_helper(role, layer)
            self._layers[role] = layer
        self._refresh_prompts()
        self._refresh_preview()

    def _connect_helper(self, role: str, layer: Any) -> None:
        if id(layer) in self._connected:
            return
        self._connected[id(layer)] = layer
        if role == "prompts":
            layer.mouse_drag_callbacks.append(self._on_mouse)
            layer.events.data.connect(self._on_points_edited)
            self._bind_layer_keys(layer)
        elif role == "box":
            layer.events.data.connect(self._on_box_edited)

    def _disconnect_helpers(self) -> None:
        for layer in self._connected.values():
            with contextlib.suppress(Exception):
                if self._on_mouse in layer.mouse_drag_callbacks:
                    layer.mouse_drag_callbacks.remove(self._on_mouse)
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
        c = self.controller
        if c.image_layer is None:
            return
        self.ensure_helpers()
        self._on_dims()
        self.select_prompts_layer()

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
                    [[0.1, 0.9, 0.2, 1.0] if p else [1.0, 0.15, 0.15, 1.0] for p in positive]
                )
            if box is not None:
                if cur.plane is None or cur.prompts.box is None:
                    box.data = []
                else:
                    box.data = [_rectangle(c.layout, cur.plane, cur.prompts.box)]

    def _refresh_preview(self) -> None:
        c = self.controller
        layer = self._layers.get("preview")
        if layer is None or c.layout is None:
            return
        p = c.preview
        visible = p is not None and p.plane == c.plane and c.preview_is_current
        data = layer.data
        if not visible and not self._preview_shown:
            return  # nothing shown, nothing to show: scrubbing sliders costs nothing
        if isinstance(data, np.ndarray) and data.shape == c.layout.plane_shape:
            data[...] = 0  # reuse the buffer: no allocation per click
        else:
            data = np.zeros(c.layout.plane_shape, dtype=np.int32)
        if visible:
            assert p is not None
            data[p.mask] = c.current.obj_id or c.peek_next_label()
        self._preview_shown = visible
        if data is layer.data:
            layer.refresh()
        else:
            layer.data = data

    # ------------------------------------------------------------------ layers -> controller
    def _on_dims(self, event: Any = None) -> None:
        c = self.controller
        if c.image_layer is None or self._viewer_ref() is None:
            return
        c.set_position(c.image_layer.world_to_data(self.viewer.dims.point))

    def _on_layer_removed(self, event: Any) -> None:
        layer, c = event.value, self.controller
        if layer is c.image_layer:
            c.set_image(None)
        if layer is c.labels_layer:
            c.set_labels(None)
        for role, helper in list(self._layers.items()):
            if helper is layer:
                del self._layers[role]

    def _on_points_edited(self, event: Any) -> None:
        action = str(getattr(event, "action", ""))
        if self._syncing or not action.endswith(("added", "removed", "changed")):
            return
        c, layer = self.controller, event.source
        if c.layout is None:
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
        action = str(getattr(event, "action", ""))
        if self._syncing or not action.endswith(("added", "removed", "changed")):
            return
        c, layer = self.controller, event.source
        if c.layout is None:
            return
        if len(layer.data) == 0:
            if c.current.plane is not None:
                c.set_prompts(c.current.plane, PlanePrompts(list(c.current.prompts.points)))
            return
        corners = np.asarray(layer.data[-1])
        lo, hi = corners.min(axis=0), corners.max(axis=0)
        c.set_box(lo, hi)

    # ------------------------------------------------------------------ mouse
    def _on_mouse(self, layer: Any, event: Any) -> Iterator[None]:
        c = self.controller
        if event.type != "mouse_press" or c.image_layer is None:
            return
        viewer = self.viewer
        if viewer.dims.ndisplay != 2 or not self._plane_displayed():
            c.notify("warning", "SAM 2 prompts need the 2D view of the image's last two axes.")
            return
        shift = "Shift" in {str(m) for m in event.modifiers}
        button = int(event.button or 1)
        start_pos, start_world = np.asarray(event.pos, float), np.asarray(event.position, float)
        dragged = False
        yield
        while event.type == "mouse_move":
            if np.hypot(*(np.asarray(event.pos, float) - start_pos)) > DRAG_PIXELS:
                dragged = True
            if dragged and shift and button == 1:
                self._rubber_band(start_world, np.asarray(event.position, float))
            yield
        to_data = c.image_layer.world_to_data
        if not dragged:
            opposite = shift or button == 2
            positive = c.settings.negative_by_default == opposite
            c.add_point(to_data(event.position), positive=positive)
        elif shift and button == 1:
            if not c.set_box(to_data(start_world), to_data(event.position)):
                self._refresh_prompts()

    def _plane_displayed(self) -> bool:
        nd = self.viewer.dims.ndim
        return set(self.viewer.dims.displayed) == {nd - 2, nd - 1}

    def _rubber_band(self, world_a: np.ndarray, world_b: np.ndarray) -> None:
        c, box = self.controller, self._layers.get("box")
        if box is None or c.layout is None:
            return
        a = c.image_layer.world_to_data(world_a)
        b = c.image_layer.world_to_data(world_b)
        plane = c.layout.plane_at(a)
        with self._sync():
            box.data = [_rectangle(c.layout, plane, (a[-2], a[-1], b[-2], b[-1]))]


# ---------------------------------------------------------------------- helpers
def _key_handler(action: Callable[[], Any]) -> Callable[[Any], None]:
    def handler(_owner: Any) -> None:
        action()

    handler.__doc__ = getattr(action, "__doc__", None)
    return handler


def _rectangle(layout: Any, plane: PlaneKey, box: tuple[float, float, float, float]) -> np.ndarray:
    r0, c0, r1, c1 = box
    return np.array(
        [layout.position_of(plane, r, c) for r, c in ((r0, c0), (r0, c1), (r1, c1), (r1, c0))]
    )


def _helper_transform(role: str, scale: list, translate: list) -> tuple[list, list]:
    if role == "preview":
        return scale[-2:], translate[-2:]
    return scale, translate


def _helper_fits(layer: Any, role: str, layout: Any) -> bool:
    if role == "preview":
        return tuple(layer.data.shape) == tuple(layout.plane_shape)
    return int(layer.ndim) == layout.ndim


def _make_prompts(ndim: int, scale: list, translate: list, size: float) -> Any:
    from napari.layers import Points

    layer = Points(
        np.zeros((0, ndim)),
        ndim=ndim,
        name=PROMPTS_NAME,
        size=size,
        border_color="white",
        border_width=0.15,
        scale=scale,
        translate=translate,
        features={"positive": np.zeros(0, dtype=bool)},
        metadata={HELPER_KEY: "prompts"},
    )
    layer.feature_defaults = {"positive": True}
    return layer


def _make_box(ndim: int, scale: list, translate: list, width: float) -> Any:
    from napari.layers import Shapes

    return Shapes(
        ndim=ndim,
        name=BOX_NAME,
        edge_color="yellow",
        face_color="transparent",
        edge_width=max(width, 0.5),
        scale=scale,
        translate=translate,
        metadata={HELPER_KEY: "box"},
    )


def _make_preview(layout: Any, scale: list, translate: list) -> Any:
    from napari.layers import Labels

    return Labels(
        np.zeros(layout.plane_shape, dtype=np.int32),
        name=PREVIEW_NAME,
        opacity=0.55,
        scale=scale[-2:],
        translate=translate[-2:],
        metadata={HELPER_KEY: "preview"},
    )
