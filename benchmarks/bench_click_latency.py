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

With ``--sizes`` it measures instead the bundled windowed model (``microscopy``) on big
images (a 1,024 x 1,024 synthetic nuclei image tiled to each size, uint16; no copy of the
image is made by the plugin): the controller's click -> preview ready (a click on a
nucleus, new object each time), the commit of that preview into the Labels layer, and
the resident memory. Results: ``benchmarks/results/click_latency_big.csv`` and ``.md``.

Usage::

    python benchmarks/bench_click_latency.py            # controller + raw decoder
    xvfb-run -a python benchmarks/bench_click_latency.py --qt
    python benchmarks/bench_click_latency.py --sizes 1024 4096 8192 16384 --clicks 20
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import RESULTS, environment, write_table

log = logging.getLogger("bench_click_latency")
MODEL = "sam2.1_hiera_tiny"
PATHS = {
    "first": "controller: first click (3 candidates, best kept)",
    "refine": "controller: refining click (2 points)",
    "raw": "raw decoder (ImagePredictor.predict)",
    "gui": "GUI path: mouse event -> worker thread -> preview layer",
}

COLUMNS = [
    (key, key.replace("_ms", " ms"))
    for key in ("path", "clicks", "median_ms", "p90_ms", "min_ms", "max_ms")
]
BIG_COLUMNS = [
    ("image", "image"),
    ("path", "path"),
    ("clicks", "clicks"),
    ("median_ms", "median ms"),
    ("p90_ms", "p90 ms"),
    ("max_ms", "max ms"),
    ("ready_s", "ready s"),
    ("rss_over_image_mb", "RSS over image MB"),
    ("autosave_copy_ms", "autosave copy ms"),
]


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

        from napari_sam2.controller import Sam2Controller

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


def _rss_mb() -> float:
    """Resident memory of this process (MB, from /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def big_images(sizes: list[int], clicks: int, out: Path) -> int:
    """Click latency of the bundled windowed model on big images (see module docstring)."""
    import gc

    from napari.layers import Image

    import sam2_engine as se
    from napari_sam2.controller import Sam2Controller
    from sam2_synthetic import fluorescence_image

    model = se.build_model("microscopy", device="cpu")
    tile = fluorescence_image((1024, 1024), n_nuclei=120, seed=0)
    centres = [np.argwhere(tile.labels == k).mean(axis=0) for k in range(1, tile.labels.max() + 1)]
    rows: list[dict[str, object]] = []
    for size in sizes:
        gc.collect()
        base = _rss_mb()
        reps = size // 1024
        image = np.tile(tile.image, (reps, reps))  # the user's data (size^2 uint16)
        c = Sam2Controller(notify_fn=lambda level, msg: None)
        c.settings.click_selects_object = False
        # autosave copies the whole Labels layer after every commit (its own cost, on
        # the GUI thread): timed apart below, so that the commit row is the write itself
        c.autosave.enabled = False
        c.set_model(model, "microscopy")
        t0 = time.perf_counter()
        c.set_image(Image(image))
        ready_s = time.perf_counter() - t0
        rng = np.random.default_rng(size)
        first, commit = [], []
        for i in range(clicks + 1):
            r, q = centres[int(rng.integers(len(centres)))]
            tr, tc = rng.integers(0, reps, 2) * 1024
            c.clear_prompts()
            t0 = time.perf_counter()
            c.add_point((tr + r, tc + q))
            t1 = time.perf_counter()
            assert c.preview_is_current
            c.commit()
            t2 = time.perf_counter()
            if i:  # the first click warms up
                first.append(t1 - t0)
                commit.append(t2 - t1)
        peak = _rss_mb()
        labels = c.labels_layer.data
        t0 = time.perf_counter()
        if isinstance(labels, np.ndarray):
            np.array(labels, copy=True)  # what autosave copies per commit when it is on
        autosave_ms = round((time.perf_counter() - t0) * 1e3, 1)
        for name, samples in (("click -> preview", first), ("commit -> Labels", commit)):
            row = _stats(name, samples)
            row.update(
                image=f"{size}x{size} uint16",
                image_mb=round(image.nbytes / 2**20),
                ready_s=round(ready_s, 3),
                rss_over_image_mb=round(peak - base - image.nbytes / 2**20),
                autosave_copy_ms=autosave_ms if isinstance(labels, np.ndarray) else "zarr",
            )
            rows.append(row)
            log.info(
                "%-14s %-18s median %7.1f ms  p90 %7.1f ms",
                row["image"],
                name,
                row["median_ms"],
                row["p90_ms"],
            )
        del c, image
    env = environment({"model": "microscopy (bundled, windowed)"})
    head = [
        "# Click latency on big images (bundled model, CPU)",
        "",
        f"`python benchmarks/bench_click_latency.py --sizes {' '.join(map(str, sizes))} "
        f"--clicks {clicks}`: a click on a nucleus of a tiled synthetic image -> preview mask "
        "ready in the controller (new object each click); the commit of it into the Labels "
        "layer; `ready s`: choosing the image (no encoding in window mode); `RSS over image`: "
        "resident memory added beyond the image itself (labels layer included); "
        "`autosave copy`: the copy of the Labels layer autosave takes per commit when on "
        "(off here; zarr labels, above 1 GiB, are not copied).",
        "",
    ]
    write_table(out, "click_latency_big", rows, env, columns=BIG_COLUMNS, head=head)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--qt", action="store_true", help="also time the threaded GUI path")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--sizes", type=int, nargs="*", help="big-image mode: image sides")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.sizes:
        return big_images(args.sizes, args.clicks, args.out)
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
    head = [
        "# Click-to-preview latency (CPU)",
        "",
        "`python benchmarks/bench_click_latency.py"
        + (" --qt" if args.qt else "")
        + "`: time from a click to the preview mask, after the embedding, "
        f"{args.clicks} clicks at random positions.",
        "",
    ]
    write_table(args.out, "click_latency", rows, env, columns=COLUMNS, head=head)
    for r in rows:
        log.info("%-55s median %7.1f ms  p90 %7.1f ms", r["path"], r["median_ms"], r["p90_ms"])
    log.info("embedding: %.2f s", embed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
