"""What a click and an autosave cost in the plugin on big images, before and after they
were made to follow the edit (issue 19).

For each image size (a 1,024 x 1,024 synthetic nuclei image tiled to the size, uint16;
the bundled windowed model ``microscopy``, so that the model's part of a click does not
depend on the size), in a napari ``ViewerModel`` with the plugin's bridge (helper layers,
no OpenGL drawing), new object at every click:

* ``click -> preview drawn``: ``Sam2Controller.add_point`` until the preview layer holds
  the mask (decoder, mask, preview layer update), inline;
* ``preview layer update``: that update alone, **after** (only the bounding box of the old
  and the new preview is rewritten, through napari's partial update) and **before** (the
  earlier code, kept here: the whole plane buffer zeroed, the mask written, the layer
  refreshed), on the same previews; ``click -> preview drawn, before`` is the measured
  click with the earlier update in place of the new one;
* ``autosave``: after each commit, the GUI-thread part (copying what is saved) and the
  background write, **after** (the chunks the commit touched, into a zarr store) and
  **before** (the earlier code, kept here: a copy of the whole layer, ``np.save``).

Results: ``benchmarks/results/big_plugin.csv`` and ``.md``.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_big_plugin.py --sizes 1024 16384 --clicks 10
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import RESULTS, environment, write_table

log = logging.getLogger("bench_big_plugin")
NOTES = (
    "Notes: the preview update after a commit includes one scan of the Labels layer for "
    "the next free label (`peek_next_label`, the preview's colour: ~12 ms over the "
    "1 GiB labels of a 16,384² image); the write into the preview layer itself stays "
    "about 1 ms at every size. The autosave after a commit copies and writes the chunks "
    "of 512 x 512 pixels under the nucleus (1-4), whatever the image size; the earlier "
    "code copied and wrote the whole layer. The background write includes zarr's "
    "per-chunk file and the `.json`, flushed to disk."
)

FIELDS = ["image", "what", "code", "n", "median_ms", "p90_ms", "chunks_last_save"]
COLUMNS = [
    ("image", "image"),
    ("what", "what"),
    ("code", "code"),
    ("n", "n"),
    ("median_ms", "median ms"),
    ("p90_ms", "p90 ms"),
]


def _old_preview_redraw(layer, preview, value: int) -> None:
    """The preview layer update before issue 19: the whole plane, every click."""
    data = layer.data
    data[...] = 0
    data[preview.mask] = value
    layer.refresh()


def _old_autosave(layer, path: Path) -> tuple[float, float]:
    """The autosave before issue 19: (copy s on the GUI thread, np.save s)."""
    t0 = time.perf_counter()
    snapshot = np.array(layer.data, copy=True)
    t1 = time.perf_counter()
    np.save(path, snapshot, allow_pickle=False)
    return t1 - t0, time.perf_counter() - t1


def _median_ms(samples: list[float]) -> float:
    return round(float(np.median(samples)) * 1e3, 1)


def measure(size: int, clicks: int, model, tile, centres, folder: Path) -> list[dict]:
    from napari.components import ViewerModel

    from napari_sam2.core.autosave import LabelsAutosave
    from napari_sam2.viewer.bridge import ViewerBridge
    from napari_sam2.viewer.registry import bridge_for

    timers = {"draw": 0.0, "save": 0.0}

    def timed(fn, key):
        def run(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                timers[key] += time.perf_counter() - t0

        return run

    # the plugin's handlers, timed where the events call them (patched before the
    # bridge and the controller connect them)
    draw = ViewerBridge._refresh_preview
    paint, written = LabelsAutosave._on_paint, LabelsAutosave._on_written
    ViewerBridge._refresh_preview = timed(draw, "draw")
    LabelsAutosave._on_paint = timed(paint, "save")
    LabelsAutosave._on_written = timed(written, "save")
    try:
        reps = size // 1024
        viewer = ViewerModel()
        viewer.add_image(np.tile(tile.image, (reps, reps)), name="slide")
        bridge = bridge_for(viewer)
        c = bridge.controller
        c.settings.click_selects_object = False
        c.set_model(model, "microscopy")
        c.set_image(viewer.layers["slide"])
        preview_layer = bridge.helper("preview")
        rng = np.random.default_rng(size)
        drawn: list = []  # (preview, label) of every click
        s: dict[str, list[float]] = {
            k: []
            for k in (
                "click",
                "draw",
                "old_draw",
                "save_gui",
                "save_write",
                "old_copy",
                "old_write",
            )
        }
        for i in range(clicks + 1):
            r, q = centres[int(rng.integers(len(centres)))]
            tr, tc = rng.integers(0, reps, 2) * 1024
            c.clear_prompts()
            timers["draw"] = 0.0
            t0 = time.perf_counter()
            c.add_point((tr + r, tc + q))
            click_s = time.perf_counter() - t0
            draw_s = timers["draw"]
            assert c.preview_is_current
            drawn.append((c.preview, c.current.obj_id or c.peek_next_label()))
            timers["save"] = 0.0
            c.commit()
            save_gui_s = timers["save"]
            t0 = time.perf_counter()
            assert c.autosave.wait(600)
            write_s = time.perf_counter() - t0
            if i == 0:
                continue  # warm-up (and the store's creation)
            s["click"].append(click_s)
            s["draw"].append(draw_s)
            s["save_gui"].append(save_gui_s)
            s["save_write"].append(write_s)
        chunks = c.autosave.last_chunks
        # the earlier code on the same previews and labels, after the new one (apart, so
        # that neither run pays for the other's big arrays)
        for preview, value in drawn[1:]:
            t0 = time.perf_counter()
            _old_preview_redraw(preview_layer, preview, value)
            s["old_draw"].append(time.perf_counter() - t0)
        for _ in range(3):  # the earlier autosave costs the same at every commit
            copy_s, old_write_s = _old_autosave(c.labels_layer, folder / "old.npy")
            s["old_copy"].append(copy_s)
            s["old_write"].append(old_write_s)
        bridge.close()
    finally:
        ViewerBridge._refresh_preview = draw
        LabelsAutosave._on_paint, LabelsAutosave._on_written = paint, written
    before_click = [a - b + o for a, b, o in zip(s["click"], s["draw"], s["old_draw"], strict=True)]
    image = f"{size}x{size} uint16"
    rows = [
        ("click -> preview drawn", "after", s["click"]),
        ("click -> preview drawn", "before", before_click),
        ("preview layer update", "after", s["draw"]),
        ("preview layer update", "before", s["old_draw"]),
        ("autosave, GUI thread", "after", s["save_gui"]),
        ("autosave, GUI thread", "before", s["old_copy"]),
        ("autosave, background write", "after", s["save_write"]),
        ("autosave, background write", "before", s["old_write"]),
    ]
    out = []
    for what, when, samples in rows:
        out.append(
            {
                "image": image,
                "what": what,
                "code": when,
                "n": len(samples),
                "median_ms": _median_ms(samples),
                "p90_ms": round(float(np.percentile(samples, 90)) * 1e3, 1),
            }
        )
        log.info("%-18s %-28s %-6s median %8.1f ms", image, what, when, out[-1]["median_ms"])
    for row in out:
        row["chunks_last_save"] = chunks  # chunks the last commit's autosave wrote
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1024, 16384])
    parser.add_argument("--clicks", type=int, default=10)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)

    import sam2_engine as se
    from sam2_synthetic import fluorescence_image

    folder = Path(tempfile.mkdtemp(prefix="bench_big_plugin_"))
    os.environ["NAPARI_SAM2_AUTOSAVE_DIR"] = str(folder)
    model = se.build_model("microscopy", device="cpu")
    tile = fluorescence_image((1024, 1024), n_nuclei=120, seed=0)
    centres = [np.argwhere(tile.labels == k).mean(axis=0) for k in range(1, tile.labels.max() + 1)]
    rows: list[dict] = []
    for size in args.sizes:
        rows += measure(size, args.clicks, model, tile, centres, folder)
    env = environment({"model": "microscopy (bundled, windowed)"})
    head = [
        "# Click and autosave on big images in the plugin: before and after (issue 19)",
        "",
        f"`OMP_NUM_THREADS=1 python benchmarks/bench_big_plugin.py --sizes "
        f"{' '.join(map(str, args.sizes))} --clicks {args.clicks}`; see the script's "
        "docstring. `before` is the earlier code, kept in the script and run on the same "
        "clicks; `click -> preview drawn, before` is the measured click with the earlier "
        "preview update in place of the new one. The autosave rows follow one commit of a "
        "nucleus each (a napari ViewerModel: no OpenGL drawing is timed).",
        "",
    ]
    write_table(
        args.out,
        "big_plugin",
        rows,
        env,
        columns=COLUMNS,
        head=head,
        notes=[NOTES, ""],
        fields=FIELDS,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
