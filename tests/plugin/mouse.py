"""Drive a layer's mouse callbacks the way napari's canvas does (no Qt needed)."""

from types import SimpleNamespace

import numpy as np
from napari.utils.interactions import (
    mouse_move_callbacks,
    mouse_press_callbacks,
    mouse_release_callbacks,
)


def gesture(layer, world_points, modifiers=(), button=1):
    """Press at the first world point, move through the others, release at the last.

    Screen positions are the world (row, col) times 10, so any move is a drag.
    """
    points = [np.asarray(p, dtype=float) for p in world_points]
    event = SimpleNamespace(
        type="mouse_press",
        position=tuple(points[0]),
        pos=points[0][-2:] * 10,
        modifiers=set(modifiers),
        button=button,
        handled=False,
        is_dragging=False,
        view_direction=None,
        dims_displayed=[len(points[0]) - 2, len(points[0]) - 1],
        dims_point=list(points[0]),
        delta=(0, 0),
        native=None,
    )
    mouse_press_callbacks(layer, event)
    for p in points[1:]:
        event.type, event.position, event.pos, event.is_dragging = (
            "mouse_move",
            tuple(p),
            p[-2:] * 10,
            True,
        )
        mouse_move_callbacks(layer, event)
    event.type = "mouse_release"
    mouse_release_callbacks(layer, event)


def click(layer, world_point, modifiers=(), button=1):
    gesture(layer, [world_point], modifiers, button)
