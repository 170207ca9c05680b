"""How the SAM 2 tracker scales: time per frame against the number of cells, memory
against the number of frames.

* ``cells``: 1024 x 1024 generated movies with 10, 50, 100 and 200 nuclei (about 20 px),
  tracked from their frame-0 labels for a few frames; time per frame of the SAM 2 tracker
  (detection included at its usual rate) and of the laptrack pipeline.
* ``frames``: a long 1024 x 1024 movie with about 100 nuclei written to zarr, tracked
  from zarr (never loaded whole) in a fresh process that reports its peak resident memory
  after each block of frames (the curve should be flat).

Writes ``results/tracking_scale.csv`` / ``.md`` (and ``tracking_memory.csv``).
Usage: ``python benchmarks/bench_tracking_scale.py cells`` / ``frames --frames 500``.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.harness import RESULTS, peak_rss_mib  # noqa: E402

SHAPE = (1024, 1024)


def _movie(n_cells: int, n_frames: int, seed: int):
    import sam2_synthetic as syn

    rng = np.random.default_rng([700_000, seed])
    style = dataclasses.replace(
        syn.random_style(rng, modality="nuclear", shape=SHAPE), diameter=20.0, coverage=0.3
    )
    return syn.microscopy_timelapse(n_frames, SHAPE, seed=(700_000, seed), style=style,
                                    n_cells=n_cells)


class _FrameClock:
    """Seconds between progress reports, frame 0 (seeding) left out."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self._last = time.perf_counter()

    def tick(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if done > 1:
            self.times.append(now - self._last)
        self._last = now


def cells(args: argparse.Namespace) -> None:
    import torch

    import sam2_engine as se
    from benchmarks.baseline_laptrack import BaselineParams, track_classical
    from sam2_cells import CellTracker, Seeds

    torch.set_num_threads(2)
    model = se.build_model(args.model or se.default_model_name(), device="cpu")
    rows = []
    for n in args.cells:
        movie = _movie(n, args.frames, n)
        present = len(np.unique(movie.labels[0])) - 1
        clock = _FrameClock()
        CellTracker(model).track(
            movie.movie, Seeds("labels", labels=movie.labels[0]), progress=clock.tick
        )
        times = clock.times
        start = time.perf_counter()
        track_classical(movie.movie, BaselineParams.for_diameter(20.0))
        base = (time.perf_counter() - start) / args.frames
        row = {"cells": present, "sam2_s_per_frame": float(np.mean(times)),
               "laptrack_s_per_frame": base}
        rows.append(row)
        print(row, flush=True)
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "tracking_scale.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        "# Tracking time per frame at 1024 x 1024 against the number of cells",
        "",
        f"`benchmarks/bench_tracking_scale.py cells`, this CPU (2 threads), model "
        f"`{args.model or se.default_model_name()}`; {args.frames} frames, seeded from frame "
        "0's labels, detection of new cells every 5 frames included.",
        "",
        "| cells | SAM 2 tracker (s / frame) | laptrack pipeline (s / frame) |",
        "|---|---|---|",
    ]
    lines += [
        f"| {r['cells']} | {r['sam2_s_per_frame']:.2f} | {r['laptrack_s_per_frame']:.2f} |"
        for r in rows
    ]
    (RESULTS / "tracking_scale.md").write_text("\n".join(lines) + "\n")


def _track_zarr(path: str, model: str, report: str) -> None:  # runs in a fresh process
    import torch
    import zarr

    import sam2_engine as se
    from sam2_cells import CellTracker, Seeds

    torch.set_num_threads(2)
    stack = zarr.open_array(f"{path}/movie.zarr", mode="r")
    seeds = np.asarray(zarr.open_array(f"{path}/labels0.zarr", mode="r"))
    out = zarr.open_array(f"{path}/out.zarr", mode="w", shape=stack.shape,
                          chunks=(1, *stack.shape[1:]), dtype="int32", zarr_format=2)
    rows: list[dict] = []
    start = time.perf_counter()

    def tick(done: int, total: int) -> None:
        if done % 25 == 0 or done == total:
            rows.append({"frames": done, "peak_rss_mib": peak_rss_mib(),
                         "seconds": time.perf_counter() - start})
            Path(report).write_text(json.dumps(rows))

    CellTracker(se.build_model(model, device="cpu")).track(
        stack, Seeds("labels", labels=seeds), out, progress=tick
    )


def frames(args: argparse.Namespace) -> None:
    import zarr

    import sam2_engine as se

    model = args.model or se.default_model_name()
    with tempfile.TemporaryDirectory() as folder:
        movie = _movie(100, args.frames, 1)
        z = zarr.open_array(f"{folder}/movie.zarr", mode="w", shape=movie.movie.shape,
                            chunks=(1, *SHAPE), dtype=movie.movie.dtype, zarr_format=2)
        z[:] = movie.movie
        zarr.open_array(f"{folder}/labels0.zarr", mode="w", shape=SHAPE, dtype="int32",
                        zarr_format=2)[:] = movie.labels[0]
        del movie, z
        report = f"{folder}/report.json"
        ctx = mp.get_context("spawn")
        proc = ctx.Process(target=_track_zarr, args=(folder, model, report))
        proc.start()
        proc.join()
        rows = json.loads(Path(report).read_text())
    with open(RESULTS / "tracking_memory.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    a = sub.add_parser("cells")
    a.add_argument("--cells", type=int, nargs="+", default=[10, 50, 100, 200])
    a.add_argument("--frames", type=int, default=8)
    a.add_argument("--model", default=None)
    b = sub.add_parser("frames")
    b.add_argument("--frames", type=int, default=500)
    b.add_argument("--model", default=None)
    args = parser.parse_args()
    {"cells": cells, "frames": frames}[args.what](args)


if __name__ == "__main__":
    main()
