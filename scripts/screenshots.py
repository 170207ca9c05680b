"""Take the user guide's screenshots of the plugin in a real napari window.

Run under a display (``xvfb-run -a python scripts/screenshots.py``). It opens the
synthetic samples, docks the SAM 2 widget, clicks nuclei through the same mouse
callbacks a user triggers, and saves with ``viewer.screenshot(canvas_only=False)``:

* ``docs/images/widget_preview.png``: the widget docked, a click and its preview mask;
* ``docs/images/committed_labels.png``: several committed objects in the Labels layer;
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
from types import SimpleNamespace

import numpy as np

log = logging.getLogger("screenshots")
ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"


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


def click(layer, world: np.ndarray, modifiers: tuple[str, ...] = ()) -> None:
    """A mouse press and release on a layer, delivered as napari's canvas does."""
    from napari.utils.interactions import mouse_press_callbacks, mouse_release_callbacks

    event = SimpleNamespace(
        type="mouse_press",
        position=tuple(world),
        pos=np.asarray(world[-2:]) * 10,
        modifiers=set(modifiers),
        button=1,
        handled=False,
        is_dragging=False,
        view_direction=None,
        dims_displayed=[len(world) - 2, len(world) - 1],
        dims_point=list(world),
        delta=(0, 0),
        native=None,
    )
    mouse_press_callbacks(layer, event)
    event.type = "mouse_release"
    mouse_release_callbacks(layer, event)


def nucleus_centres(truth: np.ndarray, n: int) -> list[tuple[float, float]]:
    ids, counts = np.unique(truth[truth > 0], return_counts=True)
    centres = []
    for obj in ids[np.argsort(counts)[::-1][:n]]:
        rows, cols = np.nonzero(truth == obj)
        centres.append((float(np.median(rows)), float(np.median(cols))))
    return centres


def open_viewer(sample: str, model: str):
    import napari
    from napari.settings import get_settings
    from qtpy.QtWidgets import QApplication

    get_settings().application.gui_notification_level = "none"  # no toasts on the canvas
    viewer = napari.Viewer(title="napari-sam2")
    viewer.window._qt_window.resize(1500, 950)
    viewer.open_sample("napari-sam2", sample)
    _, widget = viewer.window.add_plugin_dock_widget("napari-sam2", "SAM 2")
    app = QApplication.instance()
    c = widget.controller
    c.settings.click_selects_object = False
    if c.model_name != model:
        c.load_model(model)
    wait(app, lambda: c.model is not None and not c.is_running())
    return viewer, widget, app


def segment(app, widget, positions: list[np.ndarray], commit: bool = True) -> None:
    c, prompts = widget.controller, widget.bridge.helper("prompts")
    for pos in positions:
        click(prompts, pos)
        wait(app, lambda: c.preview_is_current)
        if commit:
            c.commit()


def shot(viewer, name: str) -> Path:
    from napari._qt.dialogs.qt_notification import NapariQtNotification

    for toast in viewer.window._qt_window.findChildren(NapariQtNotification):
        toast.close()
    viewer.reset_view()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    viewer.screenshot(str(path), canvas_only=False, flash=False)
    log.info("saved %s", path)
    return path


def main(argv: list[str] | None = None) -> int:
    # a throw-away napari settings file: no toasts on the canvas, the user's settings untouched
    os.environ["NAPARI_CONFIG"] = os.path.join(tempfile.mkdtemp(), "settings.yaml")
    from napari_sam2.core.models import usable_default_model

    parser = argparse.ArgumentParser(description="screenshots of the napari-sam2 plugin")
    parser.add_argument("--model", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    model = args.model or usable_default_model()

    viewer, widget, app = open_viewer("nuclei_2d", model)
    truth = np.asarray(viewer.layers["nuclei 2D ground truth"].data)
    centres = nucleus_centres(truth, 6)
    segment(app, widget, [np.array(centres[0])], commit=False)
    shot(viewer, "widget_preview.png")
    widget.controller.commit()
    segment(app, widget, [np.array(p) for p in centres[1:]])
    shot(viewer, "committed_labels.png")
    viewer.close()

    viewer, widget, app = open_viewer("nuclei_timelapse", model)
    c = widget.controller
    viewer.dims.current_step = (0, *viewer.dims.current_step[1:])
    truth = np.asarray(viewer.layers["nuclei time-lapse ground truth"].data[0])
    segment(app, widget, [np.array((0, *p)) for p in nucleus_centres(truth, 4)])
    c.propagate("forward")
    wait(app, lambda: not c.is_running("propagate"), timeout=1800)
    viewer.dims.current_step = (15, *viewer.dims.current_step[1:])
    viewer.layers.selection.active = c.labels_layer
    wait(app, lambda: True)
    shot(viewer, "propagated_timelapse.png")
    viewer.close()
    (OUT / "screenshots.txt").write_text(
        f"Screenshots taken by scripts/screenshots.py with model {model!r}"
        + (" (random weights: masks are not meaningful)" if model.startswith("test_") else "")
        + ".\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
