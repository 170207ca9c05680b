"""How the cell tracker scales: time per frame against the number of cells at 1024 x 1024,
peak memory against the number of frames.

* ``cells``: 1024 x 1024 generated movies with about 10, 50, 100 and 200 nuclei (20 px),
  tracked from nothing by our tracker (classical detections, then one global LAP with
  divisions; labels written into memory): seconds per frame for the whole run and for
  detection alone; with ``--cue``, also with the SAM 2 cue (needs the model); and the
  scikit-image + laptrack baseline (``benchmarks/baseline_laptrack.py``). One thread.
* ``frames``: a movie (default 1024 x 1024 with about 100 nuclei; ``--size``,
  ``--cells``) written to zarr at 100, 250 and 500 frames (50 generated frames played
  forwards and backwards, so cells move on without generating 500 frames), tracked from
  zarr into zarr (never loaded whole) in a fresh process per length that reports every 25
  steps its peak and current resident memory and what the run itself allocated
  (tracemalloc, started after the imports: the process's high-water mark alone can hide
  a slow growth under an early transient peak).

Writes ``results/tracking_scale.csv`` / ``.md`` and ``results/tracking_memory.csv`` / ``.md``.
Usage: ``python benchmarks/bench_tracking_scale.py cells [--cue]`` /
``frames --frames 100 250 500 [--size 384 --cells 15]``.
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
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.harness import RESULTS, peak_rss_mib  # noqa: E402

SHAPE = (1024, 1024)


def _movie(n_cells: int, n_frames: int, seed: int, shape: tuple[int, int] = SHAPE):
    import sam2_synthetic as syn

    rng = np.random.default_rng([700_000, seed])
    style = dataclasses.replace(
        syn.random_style(rng, modality="nuclear", shape=shape), diameter=20.0, coverage=0.3
    )
    return syn.microscopy_timelapse(
        n_frames, shape, seed=(700_000, seed), style=style, n_cells=n_cells
    )


def _detect_all(detector, movie) -> None:
    for t in range(len(movie)):
        detector.detect(movie, t)


def cells(args: argparse.Namespace) -> None:
    import torch

    from benchmarks.baseline_laptrack import BaselineParams, track_classical
    from sam2_cells import CellTracker, TrackerSettings
    from sam2_cells.detection import ClassicalDetector

    torch.set_num_threads(1)
    model = None
    if args.cue:
        import sam2_engine as se

        model = se.build_model(args.model or se.default_model_name(), device="cpu")
    rows = []
    for n in args.cells:
        movie = _movie(n, args.frames, n)
        present = len(np.unique(movie.labels[0])) - 1
        row: dict = {"cells": present}
        detector = ClassicalDetector(20.0)
        jobs = {
            "detection": partial(_detect_all, detector, movie.movie),
            "ours": partial(
                CellTracker(None, TrackerSettings(detection="classical", diameter=20.0)).track,
                movie.movie,
            ),
        }
        if model is not None:
            cue = TrackerSettings(detection="classical", diameter=20.0, sam2_cue=True)
            jobs["ours_cue"] = partial(CellTracker(model, cue).track, movie.movie)
        jobs["baseline"] = partial(track_classical, movie.movie, BaselineParams.for_diameter(20.0))
        for key, job in jobs.items():
            wall, cpu = time.perf_counter(), time.process_time()
            job()
            row[f"{key}_s_per_frame"] = (time.perf_counter() - wall) / args.frames
            row[f"{key}_cpu_s_per_frame"] = (time.process_time() - cpu) / args.frames
        rows.append(row)
        print(row, flush=True)
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "tracking_scale.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    cue = "ours_cue_s_per_frame" in rows[0]
    keys = ["ours", "detection", *(["ours_cue"] if cue else []), "baseline"]
    names = {
        "ours": "ours",
        "detection": "of which detection",
        "ours_cue": "ours + SAM 2 cue",
        "baseline": "baseline: scikit-image + laptrack",
    }
    lines = [
        "# Tracking time per frame at 1024 x 1024 against the number of cells",
        "",
        f"`benchmarks/bench_tracking_scale.py cells`, this CPU, one thread, {args.frames} "
        "frames, every run from nothing (no seeds; the nucleus diameter given, 20 px, as "
        "to the baseline). Ours: classical detections, one global LAP (laptrack) with "
        "divisions, labels written. Each cell: CPU seconds per frame (what a frame costs "
        "on a free core) / wall seconds (other jobs shared the two cores).",
        "",
        "| cells | " + " | ".join(names[k] for k in keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    for r in rows:
        cells_ = " | ".join(
            f"{r[f'{k}_cpu_s_per_frame']:.2f} / {r[f'{k}_s_per_frame']:.2f}" for k in keys
        )
        lines.append(f"| {r['cells']} | {cells_} |")
    (RESULTS / "tracking_scale.md").write_text("\n".join(lines) + "\n")


def _rss_mib() -> float:
    """Resident memory of this process now, in MiB (Linux: VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _track_zarr(path: str, report: str) -> None:  # runs in a fresh process
    import tracemalloc

    import laptrack  # noqa: F401  (imported by the linking step: its import is not the run's)
    import networkx  # noqa: F401
    import zarr

    from sam2_cells import CellTracker, TrackerSettings

    stack = zarr.open_array(f"{path}/movie.zarr", mode="r")
    out = zarr.open_array(
        f"{path}/out.zarr",
        mode="w",
        shape=stack.shape,
        chunks=(1, *stack.shape[1:]),
        dtype="int32",
        zarr_format=2,
    )
    rows: list[dict] = []
    start = time.perf_counter()
    tracemalloc.start()  # after the imports: what the run itself allocates (numpy included)

    def tick(done: int, total: int) -> None:
        if done % 25 == 0 or done == total or done == total // 2:
            now, peak = tracemalloc.get_traced_memory()
            rows.append(
                {
                    "frames": stack.shape[0],
                    "steps": done,
                    "of": total,
                    "peak_rss_mib": peak_rss_mib(),
                    "rss_mib": _rss_mib(),
                    "traced_mib": now / 2**20,
                    "traced_peak_mib": peak / 2**20,
                    "seconds": time.perf_counter() - start,
                }
            )
            Path(report).write_text(json.dumps(rows))

    CellTracker(None, TrackerSettings(detection="classical", diameter=20.0)).track(
        stack, None, out, progress=tick
    )


def frames(args: argparse.Namespace) -> None:
    import zarr

    shape = (args.size, args.size)
    base = _movie(args.cells, 50, 1, shape).movie
    order = [i for _ in range(6) for i in (*range(50), *range(49, -1, -1))]
    rows: list[dict] = []
    for length in args.frames:
        with tempfile.TemporaryDirectory(prefix="tracking_memory_") as folder:
            z = zarr.open_array(
                f"{folder}/movie.zarr",
                mode="w",
                shape=(length, *shape),
                chunks=(1, *shape),
                dtype=base.dtype,
                zarr_format=2,
            )
            for t in range(length):
                z[t] = base[order[t]]
            report = f"{folder}/report.json"
            proc = mp.get_context("spawn").Process(target=_track_zarr, args=(folder, report))
            proc.start()
            proc.join()
            found = json.loads(Path(report).read_text())
            rows += found
            print(found[-1], flush=True)
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "tracking_memory.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = [
        "# Peak memory of a tracking run against the movie's length",
        "",
        f"`benchmarks/bench_tracking_scale.py frames`: {args.size} x {args.size}, about "
        f"{args.cells} nuclei (50 generated frames played forwards and backwards), read "
        "from zarr and written to zarr (one frame per chunk), our tracker with classical "
        "detections, a fresh process per length. Peak resident memory (the process's "
        "high-water mark, imports included) and the peak of what the run itself "
        "allocated (tracemalloc, started after the imports; numpy arrays included), at "
        "the end of the detection pass (before the one linking step) and at the end.",
        "",
        "| frames | peak RSS (MiB) | run's peak, detection pass (MiB) | run's peak, "
        "whole run (MiB) | held after detection (MiB) | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for length in args.frames:
        mine = [r for r in rows if r["frames"] == length]
        last = mine[-1]
        half = [r for r in mine if r["steps"] <= r["of"] // 2][-1]
        lines.append(
            f"| {length} | {last['peak_rss_mib']:.0f} | {half['traced_peak_mib']:.1f} | "
            f"{last['traced_peak_mib']:.1f} | {half['traced_mib']:.1f} | "
            f"{last['seconds']:.0f} |"
        )
    (RESULTS / "tracking_memory.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    a = sub.add_parser("cells")
    a.add_argument("--cells", type=int, nargs="+", default=[11, 50, 100, 200])
    a.add_argument("--frames", type=int, default=8)
    a.add_argument("--cue", action="store_true", help="also with the SAM 2 cue (model)")
    a.add_argument("--model", default=None)
    b = sub.add_parser("frames")
    b.add_argument("--frames", type=int, nargs="+", default=[100, 250, 500])
    b.add_argument("--size", type=int, default=1024, help="frame side (pixels)")
    b.add_argument("--cells", type=int, default=100)
    args = parser.parse_args()
    {"cells": cells, "frames": frames}[args.what](args)


if __name__ == "__main__":
    main()
