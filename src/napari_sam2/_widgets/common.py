"""Pieces shared by the dock widgets: the per-viewer bridge, lifetimes, progress row."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable
from typing import Any

from magicgui.widgets import Container, ProgressBar, PushButton

from napari_sam2.viewer.bridge import ViewerBridge
from napari_sam2.viewer.registry import bridge_for, unwrap_viewer

#: what each job kind is called in the progress row
JOB_NAMES = {
    "model": "loading the model",
    "embed": "computing the embedding",
    "tiles": "embedding the tiles of a big image",
    "preview": "decoding",
    "propagate": "propagating",
    "automatic": "segmenting everything",
}


def viewer_bridge(viewer: Any) -> ViewerBridge:
    """The viewer's bridge with a threaded runner; closes it when the window goes."""
    from napari_sam2._widgets.qt_runner import QtRunner

    viewer = unwrap_viewer(viewer)
    bridge = bridge_for(viewer, QtRunner)
    window = getattr(getattr(viewer, "window", None), "_qt_window", None)
    if window is not None and not getattr(bridge, "_window_hooked", False):
        bridge_ref = weakref.ref(bridge)

        def close_bridge(*_: Any) -> None:
            b = bridge_ref()
            if b is not None:
                b.close()

        window.destroyed.connect(close_bridge)
        bridge._window_hooked = True  # type: ignore[attr-defined]
    return bridge


class Connections:
    """Signal connections made by one widget, undone when the widget goes away.

    A widget "goes away" when napari takes it out of its dock (``remove_dock_widget``,
    the dock's close button: the widget loses its parent) or when its Qt object or the
    viewer's window is destroyed (the window closes). Closing the last dock widget of a
    viewer also cancels the controller's running jobs: nothing keeps computing for
    widgets that are gone (the controller and its state stay, so opening the widget
    again continues where the user left off). Callbacks given to :meth:`on_close` run
    then too (e.g. a tool stops its own work).
    """

    def __init__(self, widget: Any, bridge: ViewerBridge) -> None:
        self._pairs: list[tuple[Any, Callable]] = []
        self._closers: list[Callable[[], None]] = []
        bridge_ref = weakref.ref(bridge)
        bridge.open_widgets += 1
        pairs, closers = self._pairs, self._closers
        state = {"docked": False, "gone": False}

        def gone(*_: Any) -> None:
            if state["gone"]:
                return
            state["gone"] = True
            for signal, slot in pairs:
                with contextlib.suppress(Exception):
                    signal.disconnect(slot)
            pairs.clear()
            for close in closers:
                with contextlib.suppress(Exception):
                    close()
            closers.clear()
            b = bridge_ref()
            if b is not None:
                b.open_widgets -= 1
                if b.open_widgets <= 0:
                    b.controller.cancel()

        def parent_changed(parent: Any) -> None:
            if parent is not None:
                state["docked"] = True
            elif state["docked"]:
                gone()

        widget.native_parent_changed.connect(parent_changed)
        widget.native.destroyed.connect(gone)
        window = getattr(getattr(bridge.viewer, "window", None), "_qt_window", None)
        if window is not None:
            window.destroyed.connect(gone)

    def connect(self, signal: Any, slot: Callable) -> None:
        signal.connect(slot)
        self._pairs.append((signal, slot))

    def on_close(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once when the widget goes away."""
        self._closers.append(callback)


class ProgressRow(Container):
    """A progress bar, a Cancel button and the controller's status line (one line,
    elided; the whole text is in its tooltip)."""

    def __init__(self) -> None:
        from superqt import QElidingLabel

        self.bar = ProgressBar(value=0, min=0, max=1, label="")
        self.bar.visible = False
        self.cancel = PushButton(
            text="Cancel", tooltip="stop the running job; finished work is kept"
        )
        self.cancel.enabled = False
        row = Container(widgets=[self.bar, self.cancel], layout="horizontal", labels=False)
        row.margins = (0, 0, 0, 0)
        super().__init__(widgets=[row], labels=False)
        self.margins = (0, 0, 0, 0)
        self.status = QElidingLabel("")
        self.native.layout().addWidget(self.status)

    def show_jobs(self, running: list[str]) -> None:
        busy = [k for k in running if k != "preview"]
        self.cancel.enabled = bool(busy)
        self.bar.visible = bool(busy)
        if busy and busy[-1] in ("model", "embed"):
            self.bar.min, self.bar.max = 0, 0  # busy indicator
        self.bar.tooltip = ", ".join(JOB_NAMES.get(k, k) for k in busy)

    def show_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.bar.min, self.bar.max = 0, total
            self.bar.value = min(done, total)

    def show_status(self, text: str) -> None:
        self.status.setText(text)
        self.status.setToolTip(text)

    @property
    def status_text(self) -> str:
        """The whole status text (the label may show it elided)."""
        return self.status.text()


def hbox(*widgets: Any, labels: bool = False) -> Container:
    """Widgets side by side, without margins (``labels``: each with its label)."""
    box = Container(widgets=list(widgets), layout="horizontal", labels=labels)
    box.margins = (0, 0, 0, 0)
    return box


def form(*widgets: Any) -> Container:
    """Widgets one below the other, each with its label, without margins."""
    box = Container(widgets=list(widgets), labels=True)
    box.margins = (0, 0, 0, 0)
    return box
