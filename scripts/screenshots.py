"""Take the user guide's screenshots of the plugin: the whole napari window, 1600 x 1000.

Run under a display of that size (``xvfb-run -a -s "-screen 0 1600x1000x24" python
scripts/screenshots.py``). It opens the synthetic samples, docks the SAM 2 dock, clicks
nuclei with Qt mouse events on the canvas (as a user does) and saves the whole window with
``viewer.screenshot(canvas_only=False)``:

* ``docs/images/widget_preview.png``: the dock's Segment tool, a click and its preview;
* ``docs/images/committed_labels.png``: several committed objects in the Labels layer;
* ``docs/images/segment_everything.png``: the Everything tool after a run;
* ``docs/images/finetune_widget.png``: the Fine-tune tool during a short run;
* ``docs/images/propagated_timelapse.png``: objects propagated through the time-lapse.

The model is the plugin's default (a bundled demo model, else ``sam2.1_hiera_tiny`` when
its weights are in the cache); without trained weights it falls back to the random-weight
``test_small`` and the masks are not meaningful. The model used is written to
``docs/images/screenshots.txt``.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

log = logging.getLogger("screenshots")
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"
SIZE = (1600, 1000)


def wait(app, condition: Callable[[], bool], timeout: float = 300.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("timed out waiting for the plugin")
        app.processEvents()
        time.sleep(0.02)
    for _ in range(5):
        app.processEvents()
        time.sleep(0.02)


def click(viewer, world: tuple[float, ...]) -> None:
    """A left click on the canvas at a world position (Qt events, as a user clicks)."""
    from qtpy.QtCore import QPoint, Qt
    from qtpy.QtTest import QTest

    canvas = viewer.window._qt_viewer.canvas
    transform = canvas.view.transform * canvas.view.scene.transform
    x, y = transform.map([float(world[-1]), float(world[-2])])[:2]
    point = QPoint(round(float(x)), round(float(y)))
    QTest.mousePress(canvas.native, Qt.LeftButton, Qt.NoModifier, point)
    QTest.mouseRelease(canvas.native, Qt.LeftButton, Qt.NoModifier, point)


def nucleus_centres(truth: np.ndarray, n: int) -> list[tuple[float, float]]:
    ids, counts = np.unique(truth[truth > 0], return_counts=True)
    centres = []
    for obj in ids[np.argsort(counts)[::-1][:n]]:
        rows, cols = np.nonzero(truth == obj)
        centres.append((float(np.median(rows)), float(np.median(cols))))
    return centres


def open_viewer(model: str):
    import napari
    from napari.settings import get_settings
    from qtpy.QtWidgets import QApplication

    get_settings().application.gui_notification_level = "none"  # no toasts on the canvas
    viewer = napari.Viewer(title="napari-sam2")
    viewer.window._qt_window.resize(*SIZE)
    viewer.open_sample("napari-sam2", "nuclei_2d")
    from napari_sam2._widgets.dock import open_dock

    dock = open_dock(viewer)
    app = QApplication.instance()
    c = dock.controller
    c.settings.click_selects_object = False
    if c.model_name != model:
        dock.setup.model_combo.value = model
        dock.setup.load_model()
    wait(app, lambda: c.model is not None and not c.is_running())
    return viewer, dock, app


def segment(app, viewer, dock, positions: list[tuple[float, ...]], commit: bool = True) -> None:
    c = dock.controller
    for pos in positions:
        click(viewer, pos)
        wait(app, lambda: c.preview_is_current)
        if commit:
            c.commit()


def shot(viewer, name: str) -> Path:
    from napari._qt.dialogs.qt_notification import NapariQtNotification

    for toast in viewer.window._qt_window.findChildren(NapariQtNotification):
        toast.close()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    viewer.screenshot(str(path), canvas_only=False, flash=False)
    log.info("saved %s", path)
    return path


def main(argv: list[str] | None = None) -> int:
    # a throw-away napari settings file: no toasts on the canvas, the user's settings untouched
    os.environ["NAPARI_CONFIG"] = os.path.join(tempfile.mkdtemp(), "settings.yaml")
    os.environ.setdefault("NAPARI_SAM2_AUTOSAVE_DIR", tempfile.mkdtemp())
    # the short fine-tuning run registers its model: in a throw-away cache, not the user's
    os.environ["SAM2_ENGINE_CACHE"] = tempfile.mkdtemp()
    from napari_sam2.core.models import usable_default_model

    parser = argparse.ArgumentParser(description="screenshots of the napari-sam2 plugin")
    parser.add_argument("--model", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    model = args.model or usable_default_model()

    viewer, dock, app = open_viewer(model)
    c = dock.controller
    truth = np.asarray(viewer.layers["nuclei 2D ground truth"].data)
    centres = nucleus_centres(truth, 8)
    segment(app, viewer, dock, [centres[0]], commit=False)
    shot(viewer, "widget_preview.png")
    c.commit()
    segment(app, viewer, dock, centres[1:])
    shot(viewer, "committed_labels.png")
    dock.show_tool("automatic")
    c.segment_everything(dock.tool("automatic").settings())
    wait(app, lambda: not c.is_running("automatic"), timeout=1800)
    shot(viewer, "segment_everything.png")
    tool = dock.show_tool("finetune")
    tool.epochs_spin.value = 200
    tool.folder_edit.value = tempfile.mkdtemp()
    ft = tool.controller
    tool.start_btn.native.click()
    wait(app, lambda: ft.last is not None and ft.last.step >= 5, timeout=1800)
    shot(viewer, "finetune_widget.png")
    tool.cancel_btn.native.click()
    wait(app, lambda: not ft.is_running, timeout=600)
    dock.show_tool("segment")
    for layer in viewer.layers:
        layer.visible = False
    viewer.open_sample("napari-sam2", "nuclei_timelapse")
    dock.setup.image_combo.value = viewer.layers["nuclei time-lapse"]
    wait(app, lambda: c.has_embedding() and not c.is_running())
    truth = np.asarray(viewer.layers["nuclei time-lapse ground truth"].data[0])
    segment(app, viewer, dock, [(0, *p) for p in nucleus_centres(truth, 5)])
    c.propagate("forward")
    wait(app, lambda: not c.is_running("propagate"), timeout=1800)
    viewer.dims.set_point(0, 20)
    viewer.layers.selection.active = c.labels_layer
    wait(app, lambda: True)
    shot(viewer, "propagated_timelapse.png")
    viewer.close()
    (OUT / "screenshots.txt").write_text(
        f"Screenshots taken by scripts/screenshots.py with model {model!r}, the whole window "
        f"at {SIZE[0]} x {SIZE[1]}"
        + (" (random weights: masks are not meaningful)" if model.startswith("test_") else "")
        + ".\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
