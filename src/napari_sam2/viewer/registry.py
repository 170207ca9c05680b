"""One viewer bridge (and one controller) per napari viewer.

:func:`bridge_for` finds or creates the bridge of a viewer: opening the dock widgets
twice, or from two menus, reuses it, and two viewers stay independent.
:func:`existing_bridge` only looks (the console API uses it to find the model loaded in
the widget).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from napari_sam2.controller import Sam2Controller
from napari_sam2.core.jobs import Runner, SyncRunner

if TYPE_CHECKING:
    from napari_sam2.viewer.bridge import ViewerBridge

_REGISTRY: weakref.WeakKeyDictionary[Any, ViewerBridge] = weakref.WeakKeyDictionary()


def unwrap_viewer(viewer: Any) -> Any:
    """The real viewer behind napari's ``PublicOnlyProxy`` (given to plugin widgets).

    Each proxy is a new object, so registries and weak references must use the viewer.
    """
    return getattr(viewer, "__wrapped__", viewer)


def existing_bridge(viewer: Any) -> ViewerBridge | None:
    """The viewer's open bridge, or None (nothing is created)."""
    if viewer is None:
        return None
    bridge = _REGISTRY.get(unwrap_viewer(viewer))
    return None if bridge is None or bridge.closed else bridge


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
    from napari_sam2.viewer.bridge import ViewerBridge

    viewer = unwrap_viewer(viewer)
    bridge = existing_bridge(viewer)
    if bridge is None:
        runner = runner_factory() if runner_factory else SyncRunner()
        bridge = ViewerBridge(viewer, Sam2Controller(runner=runner))
        _REGISTRY[viewer] = bridge
    elif runner_factory is not None and isinstance(bridge.controller.runner, SyncRunner):
        bridge.controller.runner = runner_factory()
    return bridge
