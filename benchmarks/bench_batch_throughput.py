"""Batch throughput with 1 and 2 local Dask workers (``napari-sam2 segment`` path).

Writes ``benchmarks/results/batch_throughput.md``. Inputs: N synthetic (512, 512) uint16
images of discs; the model is given by name (default ``microscopy``, the bundled one).
Time counts the whole run: cluster start, one model build per worker, every task.

    OMP_NUM_THREADS=1 python benchmarks/bench_batch_throughput.py --images 8
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

import sam2_batch as sb


def _image(seed: int, size: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    out = rng.integers(0, 50, (size, size)).astype(np.uint16)
    for cy, cx in rng.integers(20, size - 20, (25, 2)):
        out[(yy - cy) ** 2 + (xx - cx) ** 2 < 100] = 1000
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--model", default="microscopy")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.images):
            tifffile.imwrite(Path(tmp) / f"img{i:02d}.tif", _image(i, args.size))
        items = sb.expand_inputs([f"{tmp}/img*.tif"])
        for workers in (1, 2):
            settings = sb.BatchSettings(
                "segment",
                f"{tmp}/out{workers}",
                sb.ModelSpec(args.model, None, "cpu"),
                diameter=20,
            )
            start = time.perf_counter()
            results = sb.run_batch(items, settings, workers=workers)
            wall = time.perf_counter() - start
            assert all(r.status == "done" for r in results), [r.error for r in results]
            task = float(np.median([r.seconds for r in results]))
            rows.append((workers, wall, args.images / wall, task))
            print(f"{workers} workers: {wall:.1f} s, {args.images / wall:.2f} images/s")
    lines = [
        "# Batch throughput (napari-sam2 segment on Dask, LocalCluster of processes)",
        "",
        f"{args.images} images of {args.size}x{args.size} uint16, model `{args.model}`, CPU, "
        f"{os.cpu_count()} cores, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
        "one thread per worker. Wall time includes starting the cluster and one model build "
        "per worker. `benchmarks/bench_batch_throughput.py`.",
        "",
        "| workers | wall (s) | images/s | median task (s, incl. first model build) |",
        "|---|---|---|---|",
        *[f"| {w} | {t:.1f} | {r:.2f} | {m:.2f} |" for w, t, r, m in rows],
        "",
    ]
    out = Path(__file__).parent / "results" / "batch_throughput.md"
    out.write_text("\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
