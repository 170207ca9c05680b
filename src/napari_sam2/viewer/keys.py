"""Keyboard shortcuts of the SAM 2 tools and the mouse help text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app_model.types import KeyCode, KeyMod

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
_PLAIN = ("commit", "clear", "new_object", "toggle", "propagate")


def key_handler(action: Callable[[], Any]) -> Callable[[Any], None]:
    """A napari key callback (it receives the viewer or layer) that runs ``action()``."""

    def handler(_owner: Any) -> None:
        action()

    handler.__doc__ = getattr(action, "__doc__", None)
    return handler


def bind_viewer_keys(viewer: Any, actions: dict[str, Callable[[], Any]]) -> None:
    """Bind the single-key shortcuts on the viewer (whatever layer is selected)."""
    for name in _PLAIN:
        viewer.bind_key(SHORTCUTS[name][0], key_handler(actions[name]), overwrite=True)


def bind_layer_keys(layer: Any, actions: dict[str, Callable[[], Any]]) -> None:
    """Bind the shortcuts, undo and redo included, on the prompts layer."""
    for name in _PLAIN:
        layer.bind_key(SHORTCUTS[name][0], key_handler(actions[name]), overwrite=True)
    layer.bind_key(KeyMod.CtrlCmd | KeyCode.KeyZ, key_handler(actions["undo"]), overwrite=True)
    layer.bind_key(
        KeyMod.CtrlCmd | KeyMod.Shift | KeyCode.KeyZ, key_handler(actions["redo"]), overwrite=True
    )
