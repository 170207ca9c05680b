"""Click-to-preview latency of the napari plugin after the embedding (CPU).

Measures, with ``sam2.1_hiera_tiny`` at 1024 px (random weights: the latency does not
depend on the weights) on a 1024 x 1024 uint16 fluorescence image:

* ``controller``: ``Sam2Controller.add_point`` -> preview mask ready, inline
  (:class:`napari_sam2.core.jobs.SyncRunner`): coordinate conversion, decoder, mask
  upsampling and selection, i.e. the plugin's model path without threads;
* ``gui path`` (``--qt``, needs a display, e.g. ``xvfb-run``): a simulated mouse click on
  the prompts layer of a napari viewer model -> napari worker thread -> preview Labels
  layer updated on the GUI thread (everything but drawing);
* ``raw decoder``: ``ImagePredictor.predict`` on cached features, for reference.

Each click starts a new object (a single positive click: 3 candidate masks, the best
kept); ``refine`` clicks add a second (negative) point to an existing object. Results:
``benchmarks/results/click_latency.csv`` and ``.md``.

Usage::

    python benchmarks/bench_click_latency.py            # controller + raw decoder
    xvfb-run -a python benchmarks/bench_click_latency.py --qt
"""

from __future__ import annotations

import argparse
import csv
import logging
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger("bench_click_latency")
RESULTS = Path(__file__).parent / "results"
MODEL = "sam2.1_hiera_tiny"
PATHS = {
    "first": "controller: first click (3 candidates, best kept)",
    "refine": "controller: refining click (2 points)",
    "raw": "raw decoder (ImagePredictor.predict)",
    "gui": "GUI path: mouse event -> worker thread -> preview layer",
}


def _clicks(n: int, size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(0.1 * size, 0.9 * size, (n, 2))


def _stats(name: str, samples: list[float]) -> dict[str, object]:
    ms = np.asarray(samples) * 1e3
    return {
        "path": name,
        "clicks": len(ms),
        "median_ms": round(float(np.median(ms)), 1),
        "p90_ms": round(float(np.percentile(ms, 90)), 1),
        "min_ms": round(float(ms.min()), 1),
        "max_ms": round(float(ms.max()), 1),
    }


class ControllerPath:
    """``Sam2Controller.add_point`` -> preview ready, inline (no threads)."""

    def __init__(self, model, image) -> None:
        from napari.layers import Image

        from napari_sam2.core.controller import Sam2Controller

        self.c = c = Sam2Controller(notify_fn=lambda level, msg: None)
        c.settings.click_selects_object = False
        c.set_model(model, MODEL)
        t0 = time.perf_counter()
        c.set_image(Image(image))  # computes the embedding (inline)
        self.embedding_s = time.perf_counter() - t0
        assert c.has_embedding()
        c.add_point((100.0, 100.0))  # warm-up

    def first_click(self, row: float, col: float) -> float:
        self.c.clear_prompts()
        t0 = time.perf_counter()
        self.c.add_point((row, col))
        elapsed = time.perf_counter() - t0
        assert self.c.preview_is_current
        return elapsed

    def refining_click(self, row: float, col: float) -> float:
        t0 = time.perf_counter()
        self.c.add_point((row + 15, col + 15), positive=False)
        elapsed = time.perf_counter() - t0
        assert self.c.preview_is_current
        return elapsed


class RawDecoder:
    """``ImagePredictor.predict`` on the cached features: the floor."""

    def __init__(self, model, image) -> None:
        from sam2_engine.image import ImagePredictor

        self.predictor = ImagePredictor(model)
        self.predictor.set_image(image)
        self.predictor.predict(points=[[10, 10]], labels=[1])

    def click(self, row: float, col: float) -> float:
        t0 = time.perf_counter()
        self.predictor.predict(points=[[col, row]], labels=[1], multimask=True)
        return time.perf_counter() - t0


def click(layer, world: tuple[float, float]) -> None:
    """A mouse press and release on a layer, as napari's canvas delivers them."""
    from types import SimpleNamespace

    from napari.utils.interactions import mouse_press_callbacks, mouse_release_callbacks

    event = SimpleNamespace(
        type="mouse_press",
        position=world,
        pos=np.asarray(world) * 10,
        modifiers=set(),
        button=1,
        handled=False,
        is_dragging=False,
        view_direction=None,
        dims_displayed=[0, 1],
        dims_point=list(world),
        delta=(0, 0),
        native=None,
    )
    mouse_press_callbacks(layer, event)
    event.type = "mouse_release"
    mouse_release_callbacks(layer, event)


class GuiPath:
    """Mouse event on the prompts layer -> napari worker thread -> preview layer updated."""

    def __init__(self, model, image) -> None:
        from napari.components import ViewerModel
        from qtpy.QtWidgets import QApplication

        from napari_sam2._widgets.qt_runner import QtRunner
        from napari_sam2.viewer.registry import bridge_for

        self.app = QApplication.instance() or QApplication([])
        self.viewer = ViewerModel()
        self.viewer.add_image(image, name="image")
        self.bridge = bridge_for(self.viewer, QtRunner)
        c = self.c = self.bridge.controller
        c.settings.click_selects_object = False
        c.set_model(model, MODEL)
        c.set_image(self.viewer.layers["image"])
        self.wait(lambda: c.has_embedding() and not c.is_running())
        self.prompts, self.preview = self.bridge.helper("prompts"), self.bridge.helper("preview")

    def wait(self, condition, timeout: float = 120.0) -> None:
        end = time.perf_counter() + timeout
        while not condition():
            if time.perf_counter() > end:
                raise TimeoutError(self.c.status)
            self.app.processEvents()
            time.sleep(0.0005)

    def click(self, row: float, col: float) -> float:
        self.c.clear_prompts()
        self.app.processEvents()
        t0 = time.perf_counter()
        click(self.prompts, (row, col))
        self.wait(lambda: self.c.preview_is_current and bool(self.preview.data.any()))
        return time.perf_counter() - t0

    def close(self) -> None:
        self.bridge.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--qt", action="store_true", help="also time the threaded GUI path")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    import sam2_engine as se
    from sam2_synthetic import fluorescence_image

    model = se.build_model(MODEL, checkpoint=False, device="cpu")
    image = fluorescence_image((1024, 1024), n_nuclei=120, seed=0).image
    controller = ControllerPath(model, image)
    raw = RawDecoder(model, image)
    gui = GuiPath(model, image) if args.qt else None
    samples: dict[str, list[float]] = {key: [] for key in PATHS}
    # interleaved: every path sees the same machine load (other processes come and go)
    for row, col in _clicks(args.clicks, 1024):
        samples["first"].append(controller.first_click(row, col))
        samples["refine"].append(controller.refining_click(row, col))
        samples["raw"].append(raw.click(row, col))
        if gui is not None:
            samples["gui"].append(gui.click(row, col))
    if gui is not None:
        gui.close()
    rows = [_stats(PATHS[key], values) for key, values in samples.items() if values]
    embed = controller.embedding_s
    env = {
        "model": f"{MODEL} @ {model.image_size} (random weights)",
        "image": "1024x1024 uint16",
        "device": "cpu",
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "embedding_s": round(embed, 2),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "click_latency.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*rows[0], *env])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, **env})
    lines = [
        "# Click-to-preview latency (CPU)",
        "",
        "`python benchmarks/bench_click_latency.py"
        + (" --qt" if args.qt else "")
        + "`: time from a click to the preview mask, after the embedding, "
        f"{args.clicks} clicks at random positions.",
        "",
        "| path | clicks | median ms | p90 ms | min ms | max ms |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['path']} | {r['clicks']} | {r['median_ms']} | {r['p90_ms']} | "
            f"{r['min_ms']} | {r['max_ms']} |"
        )
    lines += ["", "Environment: " + ", ".join(f"{k} = {v}" for k, v in env.items()), ""]
    (args.out / "click_latency.md").write_text("\n".join(lines))
    for r in rows:
        log.info("%-55s median %7.1f ms  p90 %7.1f ms", r["path"], r["median_ms"], r["p90_ms"])
    log.info("embedding: %.2f s", embed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
