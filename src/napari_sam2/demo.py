"""Open napari with the SAM 2 widget docked on a sample, the model loaded, ready to click.

``scripts/demo.sh`` runs ``python -m napari_sam2.demo``. Options::

    --sample {timelapse,2d,zstack}   which synthetic sample to open (default: timelapse)
    --model NAME                     model name or .pt file (default: bundled demo model,
                                     else sam2.1_hiera_tiny if downloaded, else test_small)
    --device DEVICE                  auto, cpu, cuda, mps
    --headless-check                 build everything, segment one nucleus, exit (0 = ok)
    -v                               log everything (default: a short summary, warnings)
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

log = logging.getLogger("napari_sam2.demo")

SAMPLES = {"timelapse": "nuclei_timelapse", "2d": "nuclei_2d", "zstack": "nuclei_zstack"}


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="napari-sam2-demo", description=__doc__.splitlines()[0])
    parser.add_argument("--sample", choices=sorted(SAMPLES), default="timelapse")
    parser.add_argument("--model", default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--headless-check", action="store_true")
    parser.add_argument("--timeout", type=float, default=300.0)
    return parser.parse_args(argv)


def _wait(app: Any, condition: Callable[[], bool], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            return False
        app.processEvents()
        time.sleep(0.01)
    return True


def build(argv: Sequence[str] | None = None) -> tuple[Any, Any, argparse.Namespace]:
    """Create the viewer, open the sample, dock the widget and load the model.

    Returns (viewer, widget, options); the model loads in a worker thread.
    """
    import napari

    from napari_sam2.core.models import usable_default_model

    opts = _parse(argv)
    viewer = napari.Viewer(title="napari-sam2 demo", show=not opts.headless_check)
    viewer.open_sample("napari-sam2", SAMPLES[opts.sample])
    _, widget = viewer.window.add_plugin_dock_widget("napari-sam2", "SAM 2")
    model = opts.model or usable_default_model()
    if model.startswith("test_"):
        from sam2_engine import cache_dir

        log.warning(
            "No trained SAM 2 weights on disk: the demo uses %s (random weights, masks are "
            "not meaningful). Download sam2.1_hiera_tiny.pt into %s (or run once online), "
            "or pass --model with a .pt file.",
            model,
            cache_dir(),
        )
    widget.setup.device_combo.value = opts.device
    widget.controller.load_model(model, opts.device)
    return viewer, widget, opts


def headless_check(viewer: Any, widget: Any, timeout: float) -> bool:
    """Click the centre of the largest ground-truth nucleus, commit, undo; True if ok."""
    from qtpy.QtWidgets import QApplication

    app = QApplication.instance()
    c = widget.controller
    if not _wait(app, lambda: c.model is not None and not c.is_running(), timeout):
        log.error("the model or the first embedding did not finish: %s", c.status)
        return False
    truth = next(ly for ly in viewer.layers if ly.name.endswith("ground truth"))
    plane = np.asarray(truth.data[c.layout.labels_index(truth.data.shape, c.plane)])
    ids, counts = np.unique(plane[plane > 0], return_counts=True)
    target = ids[np.argmax(counts)]
    rows, cols = np.nonzero(plane == target)
    pos = c.layout.position_of(c.plane, float(np.median(rows)), float(np.median(cols)))
    c.settings.click_selects_object = False
    c.add_point(pos)
    if not _wait(app, lambda: c.preview_is_current, timeout):
        log.error("no preview: %s", c.status)
        return False
    result = c.commit()
    if result is None or c.labels_layer is None:
        log.error("commit failed: %s", c.status)
        return False
    log.info(
        "headless check: object %d, %d pixels, model %s",
        result.obj_id,
        result.written,
        c.model_name,
    )
    c.undo()
    return True


def summary(widget: Any, opts: argparse.Namespace) -> str:
    """The demo's one paragraph for the console: what is open and what to do."""
    c = widget.controller
    image = getattr(c.image_layer, "name", "?")
    return (
        f"[demo] napari-sam2: {image!r} with model {c.model_name or '(loading)'} "
        f"on {opts.device}.\n"
        "[demo] Click a nucleus (the 'SAM 2 prompts' layer is selected), C commits, "
        "Shift-click marks background, G propagates through the stack; close the window to "
        "quit."
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m napari_sam2.demo`` (see the module docstring).

    The console gets a short summary and warnings only (``-v`` logs more).
    """
    verbose = "-v" in (sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    log.setLevel(logging.INFO)
    import napari

    args = [a for a in (sys.argv[1:] if argv is None else argv) if a != "-v"]
    viewer, widget, opts = build(args)
    if opts.headless_check:
        ok = headless_check(viewer, widget, opts.timeout)
        viewer.close()
        return 0 if ok else 1
    print(summary(widget, opts), flush=True)
    napari.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
