"""Keep the whole image in view while the dock changes the canvas' size.

Docking the SAM 2 dock, or switching to a wider tab, narrows the canvas after napari
fitted the image to it; an image opened later (another sample) is not fitted at all.
:class:`ViewFitter` fits the view again on those occasions, but only while the camera is
where it last put it: once the user zooms or pans, the view is theirs.
"""

from __future__ import annotations

import contextlib
from typing import Any

from qtpy.QtCore import QEvent, QObject, QTimer

from napari_sam2._widgets.common import Connections


def _camera(viewer: Any) -> Any:
    scene = getattr(viewer, "scene", None)  # napari >= 0.9; before: viewer.camera
    return scene.camera if scene is not None else viewer.camera


class ViewFitter(QObject):
    """Re-fits ``viewer``'s view on canvas resizes and new images, until the user moves it.

    Parameters
    ----------
    viewer
        The napari viewer.
    connections
        The dock's connections (undone when the dock goes away).
    """

    def __init__(self, viewer: Any, connections: Connections) -> None:
        super().__init__()
        self._viewer = viewer
        self._fitted: tuple | None = None  # camera (zoom, center) after our last fit
        self._pending = False
        self._canvas = viewer.window._qt_viewer.canvas.native
        self._canvas.installEventFilter(self)
        connections.connect(viewer.layers.events.inserted, self._inserted)
        connections.on_close(self._close)

    def fit(self) -> None:
        """Fit the view to the layers now and remember the camera."""
        with contextlib.suppress(Exception):
            self._viewer.reset_view()
            self._fitted = self._camera_state()

    def fit_soon(self) -> None:
        """Fit once Qt has laid the window out (after the pending events)."""
        if not self._pending:
            self._pending = True
            QTimer.singleShot(0, self._fit_if_untouched)

    def eventFilter(self, obj: Any, event: Any) -> bool:
        if event.type() == QEvent.Resize and self._fitted is not None:
            self.fit_soon()
        return False

    def _inserted(self, event: Any) -> None:
        if type(event.value).__name__ == "Image":
            self.fit_soon()

    def _fit_if_untouched(self) -> None:
        self._pending = False
        if self._fitted is None or self._camera_state() == self._fitted:
            self.fit()

    def _camera_state(self) -> tuple:
        camera = _camera(self._viewer)
        return (round(float(camera.zoom), 6), tuple(round(float(v), 3) for v in camera.center))

    def _close(self) -> None:
        with contextlib.suppress(RuntimeError):
            self._canvas.removeEventFilter(self)
