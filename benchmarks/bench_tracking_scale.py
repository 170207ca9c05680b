"""How the cell tracker scales: time per frame against the number of cells at 1024 x 1024,
peak memory against the number of frames.

* ``cells``: 1024 x 1024 generated movies with about 25, 50, 100 and 200 nuclei (20 px),
  tracked from nothing by our tracker (classical detections, then one global LAP with
  divisions; labels written into memory): seconds per frame for the whole run and for
  detection alone; with ``--cue``, also with the SAM 2 cue (needs the model); and the
  scikit-image + laptrack baseline (``benchmarks/baseline_laptrack.py``). One thread;
  process CPU seconds (``time.process_time``: what a frame costs on a free core) beside
  wall seconds (which other jobs on the machine inflate).
* ``frames``: a movie (default 1024 x 1024 with about 100 nuclei; ``--size``,
  ``--cells``) written to zarr at 100, 250 and 500 frames (50 generated frames played
  forwards and backwards, so cells move on without generating 500 frames), tracked from
  zarr into zarr (never loaded whole) in a fresh process per length that reports every 25
  steps its peak and current resident memory and what the run itself allocated
  (tracemalloc, started after the imports: the process's high-water mark alone can hide
  a slow growth under an early transient peak), and its CPU seconds. The linker links in
  windows of ``LinkSettings.window_frames`` (``--window``; 0: one global LAP).

Writes ``results/tracking_scale.csv`` / ``.md`` and ``results/tracking_memory.csv`` / ``.md``
(the rows of other sizes and lengths already there are kept: one table per size).
Usage: ``python benchmarks/bench_tracking_scale.py cells [--cue]`` /
``frames --frames 100 250 500 [--size 384 --cells 15] [--window 60]``.
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


def _detect_all(detector, movie, found: list) -> None:
    from sam2_cells.linking import FrameCells

    for t in range(len(movie)):
        found.append(FrameCells.from_labels(detector.detect(movie, t)))


def _link_all(settings, found: list) -> None:
    from sam2_cells.linking import LapLinker

    LapLinker(settings.link_settings()).link(found, [None] * len(found), 20.0)


def cells(args: argparse.Namespace) -> None:
    import laptrack  # noqa: F401  (imported before the first timing: not a frame's cost)
    import torch

    from benchmarks.baseline_laptrack import BaselineParams, track_classical
    from sam2_cells import CellTracker, TrackerSettings

    torch.set_num_threads(1)
    model = None
    if args.cue:
        import sam2_engine as se

        model = se.build_model(args.model or se.default_model_name(), device="cpu")
    rows = []
    for n in args.cells:
        movie = _movie(n, args.frames, n)
        present = len(np.unique(movie.labels[0])) - 1
        settings = TrackerSettings(detection="classical", diameter=20.0)
        ours = CellTracker(None, settings)
        row: dict = {"cells": present, "detector": type(ours.detector).__name__}
        found: list = []
        jobs = {
            "detection": partial(
                _detect_all, CellTracker(None, settings).detector, movie.movie, found
            ),
            "linking": partial(_link_all, settings, found),
            "ours": partial(ours.track, movie.movie),
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
    write_atomic(RESULTS / "tracking_scale.csv", _csv_text(rows))
    cue = "ours_cue_s_per_frame" in rows[0]
    keys = ["ours", "detection", "linking", *(["ours_cue"] if cue else []), "baseline"]
    names = {
        "ours": "ours",
        "detection": "of which detection",
        "linking": "of which linking",
        "ours_cue": "ours + SAM 2 cue",
        "baseline": "baseline: scikit-image + laptrack",
    }
    lines = [
        "# Tracking time per frame at 1024 x 1024 against the number of cells",
        "",
        f"`benchmarks/bench_tracking_scale.py cells`, this CPU, one thread, {args.frames} "
        "frames, every run from nothing (no seeds; the nucleus diameter given, 20 px, as "
        "to the baseline). Ours: classical detections (detector: "
        f"{', '.join(sorted({r['detector'] for r in rows}))}), one global LAP (laptrack) "
        "with divisions, labels written; detection and linking also timed alone (the "
        "linking over the detections just found). Each cell: CPU seconds per frame "
        "(`time.process_time`: what a frame costs on a free core) / wall seconds (other "
        "jobs shared the two cores).",
        "",
        "| cells | " + " | ".join(names[k] for k in keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    for r in rows:
        cells_ = " | ".join(
            f"{r[f'{k}_cpu_s_per_frame']:.2f} / {r[f'{k}_s_per_frame']:.2f}" for k in keys
        )
        lines.append(f"| {r['cells']} | {cells_} |")
    write_atomic(RESULTS / "tracking_scale.md", "\n".join(lines) + "\n")


def _rss_mib() -> float:
    """Resident memory of this process now, in MiB (Linux: VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _track_zarr(path: str, report: str, window: int | None) -> None:  # a fresh process
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
    start, cpu = time.perf_counter(), time.process_time()
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
                    "cpu_seconds": time.process_time() - cpu,
                    "detector": detector,
                }
            )
            Path(report).write_text(json.dumps(rows))

    extra = {} if window is None else {"window_frames": window}
    tracker = CellTracker(None, TrackerSettings(detection="classical", diameter=20.0, **extra))
    detector = type(tracker.detector).__name__  # read by tick
    tracker.track(stack, None, out, progress=tick)


def frames(args: argparse.Namespace) -> None:
    import zarr

    from sam2_cells import TrackerSettings

    shape = (args.size, args.size)
    base = _movie(args.cells, 50, 1, shape).movie
    order = [i for _ in range(6) for i in (*range(50), *range(49, -1, -1))]
    window = TrackerSettings().window_frames if args.window is None else args.window
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
            proc = mp.get_context("spawn").Process(
                target=_track_zarr, args=(folder, report, args.window)
            )
            proc.start()
            proc.join()
            found = json.loads(Path(report).read_text())
            for row in found:
                row.update(size=args.size, cells=args.cells, window=window)
            rows += found
            print(found[-1], flush=True)
    path = RESULTS / "tracking_memory.csv"
    kept: list[dict] = []
    if path.exists():
        with open(path, newline="") as handle:
            done = {(str(args.size), str(n)) for n in args.frames}  # measured again now
            kept = [r for r in csv.DictReader(handle) if (r.get("size"), r["frames"]) not in done]
            kept = [r for r in kept if r.get("size")]  # rows of before the size column: gone
    rows = [*kept, *({k: str(v) for k, v in r.items()} for r in rows)]
    RESULTS.mkdir(exist_ok=True)
    write_atomic(path, _csv_text(rows))
    write_atomic(RESULTS / "tracking_memory.md", _memory_markdown(rows))


def _csv_text(rows: list[dict]) -> str:
    import io

    out = io.StringIO()
    names = list(dict.fromkeys(k for r in rows for k in r))  # every row's columns, in order
    writer = csv.DictWriter(out, names)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary sibling and a rename."""
    from sam2_engine import atomic_file

    with atomic_file(path) as tmp:
        tmp.write_text(text)


def _memory_markdown(rows: list[dict]) -> str:
    """One table per frame size of the rows of ``tracking_memory.csv`` (strings)."""
    lines = [
        "# Peak memory of a tracking run against the movie's length",
        "",
        "`benchmarks/bench_tracking_scale.py frames`: generated nuclei (50 frames played "
        "forwards and backwards), read from zarr and written to zarr (one frame per "
        "chunk), our tracker with classical detections, a fresh process per length, "
        "linking in windows of `window` frames (`LinkSettings.window_frames`). Peak "
        "resident memory (the process's high-water mark, imports included) and the peak "
        "of what the run itself allocated (tracemalloc, started after the imports; numpy "
        "arrays included), at the end of the detection pass (before the linking step) "
        "and at the end; CPU seconds of the whole run (one thread) beside wall seconds.",
    ]
    for size in sorted({int(r["size"]) for r in rows}):
        mine = [r for r in rows if int(r["size"]) == size]
        detectors = ", ".join(sorted({r["detector"] for r in mine if r.get("detector")}))
        lines += [
            "",
            f"## {size} x {size}, about {mine[0]['cells']} nuclei, window "
            f"{mine[0]['window']} frames, detector {detectors or 'not recorded'}",
            "",
            "| frames | peak RSS (MiB) | run's peak, detection pass (MiB) | run's peak, "
            "whole run (MiB) | held after detection (MiB) | CPU s | wall s |",
            "|---|---|---|---|---|---|---|",
        ]
        for length in sorted({int(r["frames"]) for r in mine}):
            run = [r for r in mine if int(r["frames"]) == length]
            last = run[-1]
            half = [r for r in run if int(r["steps"]) <= int(r["of"]) // 2][-1]
            lines.append(
                f"| {length} | {float(last['peak_rss_mib']):.0f} | "
                f"{float(half['traced_peak_mib']):.1f} | "
                f"{float(last['traced_peak_mib']):.1f} | {float(half['traced_mib']):.1f} | "
                f"{float(last['cpu_seconds']):.0f} | {float(last['seconds']):.0f} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    a = sub.add_parser("cells")
    a.add_argument("--cells", type=int, nargs="+", default=[25, 50, 100, 200])
    a.add_argument("--frames", type=int, default=10)
    a.add_argument("--cue", action="store_true", help="also with the SAM 2 cue (model)")
    a.add_argument("--model", default=None)
    b = sub.add_parser("frames")
    b.add_argument("--frames", type=int, nargs="+", default=[100, 250, 500])
    b.add_argument("--size", type=int, default=1024, help="frame side (pixels)")
    b.add_argument("--cells", type=int, default=100)
    b.add_argument("--window", type=int, default=None, help="linking window (0: global)")
    args = parser.parse_args()
    {"cells": cells, "frames": frames}[args.what](args)


if __name__ == "__main__":
    main()
