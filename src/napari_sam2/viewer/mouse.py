"""Mouse gestures on the prompts layer: clicks become points, Shift-drag draws a box.

click = positive point; Shift-click or right-click = negative point (the opposite of the
default polarity); Shift-drag = box; a plain drag pans (napari's own behaviour).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from napari_sam2.controller import Sam2Controller

DRAG_PIXELS = 4  # a press-release moving less than this (screen pixels) is a click


class PromptMouse:
    """The mouse-drag callback of the prompts layer.

    Parameters
    ----------
    controller
        Receives points and boxes.
    viewer
        Returns the viewer (dims tell whether the image plane is displayed).
    rubber_band
        ``rubber_band(world_a, world_b)`` draws the box while dragging.
    refresh
        Redraws the prompts after a refused box.
    """

    def __init__(
        self,
        controller: Sam2Controller,
        viewer: Callable[[], Any],
        rubber_band: Callable[[np.ndarray, np.ndarray], None],
        refresh: Callable[[], None],
    ) -> None:
        self._c = controller
        self._viewer = viewer
        self._rubber_band = rubber_band
        self._refresh = refresh

    def __call__(self, layer: Any, event: Any) -> Iterator[None]:
        c = self._c
        if event.type != "mouse_press" or c.image_layer is None:
            return
        viewer = self._viewer()
        if viewer.dims.ndisplay != 2 or not _plane_displayed(viewer):
            c.notify("warning", "SAM 2 prompts need the 2D view of the image's last two axes.")
            return
        shift = has_shift(event.modifiers)
        button = int(event.button or 1)
        box_gesture = shift and button == 1
        start_pos, start_world = np.asarray(event.pos, float), np.asarray(event.position, float)
        dragged = False
        panning = layer.mouse_pan
        if box_gesture:
            layer.mouse_pan = False  # a Shift-drag draws a box: the camera must not pan
        try:
            yield
            while event.type == "mouse_move":
                if np.hypot(*(np.asarray(event.pos, float) - start_pos)) > DRAG_PIXELS:
                    dragged = True
                if dragged and box_gesture:
                    self._rubber_band(start_world, np.asarray(event.position, float))
                yield
        finally:
            if box_gesture:
                layer.mouse_pan = panning
        to_data = c.image_layer.world_to_data
        if not dragged:
            opposite = shift or button == 2
            positive = c.settings.negative_by_default == opposite
            c.add_point(to_data(event.position), positive=positive)
        elif box_gesture:
            if not c.set_box(to_data(start_world), to_data(event.position)):
                self._refresh()


def has_shift(modifiers: Any) -> bool:
    """Whether Shift is among a mouse event's modifiers.

    vispy gives ``Key`` objects (``str()`` is ``"<Key 'Shift'>"``), which compare equal to
    their name; plain strings (scripts) work too.
    """
    return any(m == "Shift" for m in modifiers or ())


def _plane_displayed(viewer: Any) -> bool:
    nd = viewer.dims.ndim
    return set(viewer.dims.displayed) == {nd - 2, nd - 1}
