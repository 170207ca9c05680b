"""Drive the real napari canvas with Qt mouse and key events (what a user does).

Positions are world coordinates of the viewer, (…, row, col); they become canvas pixels
through vispy's own transforms, and the events go to the canvas' native widget, so the
modifiers arrive as vispy gives them (``Key`` objects), not as plain strings.
"""

from __future__ import annotations

import numpy as np
from qtpy.QtCore import QEvent, QPoint, QPointF, Qt
from qtpy.QtGui import QMouseEvent
from qtpy.QtTest import QTest
from qtpy.QtWidgets import QApplication

PLUGIN = "napari-sam2"


def canvas(viewer):
    return viewer.window._qt_viewer.canvas


def canvas_xy(viewer, world) -> tuple[int, int]:
    """World (…, row, col) -> canvas pixel (x, y)."""
    view = canvas(viewer).view
    transform = view.transform * view.scene.transform
    x, y = transform.map([float(world[-1]), float(world[-2])])[:2]
    return round(float(x)), round(float(y))


def click(qtbot, viewer, world, modifier=Qt.NoModifier, button=Qt.LeftButton) -> None:
    """Press and release on the canvas at a world position."""
    native = canvas(viewer).native
    point = QPoint(*canvas_xy(viewer, world))
    QTest.mousePress(native, button, modifier, point)
    qtbot.wait(20)
    QTest.mouseRelease(native, button, modifier, point)
    qtbot.wait(20)


def drag(qtbot, viewer, world_a, world_b, modifier=Qt.NoModifier, steps=8) -> None:
    """Press at ``world_a``, move in steps with the button held, release at ``world_b``."""
    native = canvas(viewer).native
    a, b = canvas_xy(viewer, world_a), canvas_xy(viewer, world_b)
    QTest.mousePress(native, Qt.LeftButton, modifier, QPoint(*a))
    for f in np.linspace(0, 1, steps + 1)[1:]:
        p = QPointF(a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]))
        event = QMouseEvent(QEvent.MouseMove, p, Qt.LeftButton, Qt.LeftButton, modifier)
        QApplication.sendEvent(native, event)
        qtbot.wait(15)
    QTest.mouseRelease(native, Qt.LeftButton, modifier, QPoint(*b))
    qtbot.wait(20)


def key(qtbot, viewer, qt_key, modifier=Qt.NoModifier) -> None:
    """A key press on the focused canvas (napari's key bindings see it)."""
    native = canvas(viewer).native
    native.setFocus()
    qtbot.keyClick(native, qt_key, modifier)
    qtbot.wait(20)


def open_dock(viewer, tool="segment"):
    """The viewer's SAM 2 dock on ``tool`` (opened as the Plugins menu does)."""
    from napari_sam2._widgets.dock import open_dock as open_

    return open_(viewer, tool)


def ready(qtbot, dock, model, name="test_tiny"):
    """Give the dock a model without a worker and wait for the first embedding."""
    c = dock.controller
    c.settings.click_selects_object = False
    c.set_model(model, name)
    qtbot.waitUntil(lambda: c.has_embedding() and not c.is_running(), timeout=30000)
    return c


def centres(labels: np.ndarray, n: int | None = None) -> list[tuple[int, float, float]]:
    """(label, row, col) of the biggest objects of a 2D label image, biggest first."""
    ids, counts = np.unique(labels[labels > 0], return_counts=True)
    out = []
    for obj in ids[np.argsort(counts)[::-1]][:n]:
        rows, cols = np.nonzero(labels == obj)
        out.append((int(obj), float(np.median(rows)), float(np.median(cols))))
    return out
