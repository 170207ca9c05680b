"""Time and peak memory of segment-everything with the instance head on big images, tiled
(issue 19).

Each image is a 1,024 x 1,024 synthetic nuclei field (``fluorescence_image``, uint16)
repeated to the size; the bundled ``microscopy`` model; the object diameter is given (the
median true diameter, so that every size runs at the same scale and no probe is timed).
Each row runs in a fresh process (``harness.isolated``): ``peak MB over start`` is the
process's peak resident memory minus what it held once the model and the image were
loaded. ``F1`` matches objects to the truth at IoU > 0.5. ``mode``: what the default
settings do (one pass up to ``InstanceSettings.max_pixels`` = 2,048² at the model's
scale, tiles beyond), and for ``--compare`` also one pass forced (``max_pixels`` without
limit), to compare the two on the same image.

Results: ``benchmarks/results/instance_tiles.csv`` and ``.md``.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_instance_tiles.py --sizes 2048 8192
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.harness import RESULTS, environment, isolated, peak_rss_mib, write_table

log = logging.getLogger("bench_instance_tiles")

COLUMNS = [
    ("image", "image"),
    ("mode", "mode"),
    ("passes", "passes"),
    ("objects", "objects"),
    ("seconds", "s"),
    ("peak_mb_over_start", "peak MB over start"),
    ("labels_mb", "labels MB"),
    ("f1", "F1"),
]


def _f1(truth: np.ndarray, pred: np.ndarray) -> float:
    """F1 of objects matched at IoU > 0.5 (at most one match each above 0.5)."""
    k = int(pred.max()) + 1
    pairs, inter = np.unique(truth.astype(np.int64) * k + pred, return_counts=True)
    t, p = pairs // k, pairs % k
    area_t, area_p = np.bincount(truth.ravel()), np.bincount(pred.ravel(), minlength=k)
    keep = (t > 0) & (p > 0)
    iou = inter[keep] / (area_t[t[keep]] + area_p[p[keep]] - inter[keep])
    matched = int(np.count_nonzero(iou > 0.5))
    n_true, n_pred = int(np.count_nonzero(area_t[1:])), int(np.count_nonzero(area_p[1:]))
    return 2 * matched / max(n_true + n_pred, 1)


def run(size: int, mode: str) -> dict:  # runs in a fresh process
    import sam2_engine as se
    from sam2_synthetic import fluorescence_image

    field = fluorescence_image((1024, 1024), n_nuclei=120, seed=0)
    reps = size // 1024
    image = np.tile(field.image, (reps, reps))
    truth = np.tile(field.labels, (reps, reps))
    areas = np.bincount(field.labels.ravel())[1:]
    diameter = float(np.median(np.sqrt(4 * areas[areas > 0] / np.pi)))
    model = se.build_model("microscopy", device="cpu")
    forced = mode == "one pass"
    settings = se.InstanceSettings(max_pixels=1 << 62) if forced else se.InstanceSettings()
    seg = se.InstanceSegmenter(model, diameter=diameter, settings=settings)
    passes: list[tuple[int, int]] = []
    base = peak_rss_mib()
    t0 = time.perf_counter()
    labels = seg.segment(image, progress=lambda d, t: passes.append((d, t)))
    seconds = time.perf_counter() - t0
    peak = peak_rss_mib()
    return {
        "image": f"{size}x{size} uint16",
        "mode": "one pass, forced" if forced else ("one pass" if passes[-1][1] == 1 else "tiles"),
        "diameter_px": round(diameter, 1),
        "passes": passes[-1][1],
        "objects": int(labels.max()),
        "seconds": round(seconds, 1),
        "peak_mb_over_start": round(peak - base),
        "labels_mb": round(labels.nbytes / 2**20),
        "f1": round(_f1(_relabel_copies(truth, reps), labels), 3),
    }


def _relabel_copies(truth: np.ndarray, reps: int) -> np.ndarray:
    """Distinct ids for each repeated copy of the field's objects."""
    side = truth.shape[0] // reps
    n = int(truth.max())
    out = truth.astype(np.int32)
    for i in range(reps):
        for j in range(reps):
            block = out[i * side : (i + 1) * side, j * side : (j + 1) * side]
            block[block > 0] += (i * reps + j) * n
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 8192])
    parser.add_argument("--compare", type=int, default=2048, help="size also run in one pass")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    os.environ.setdefault("BENCH_THREADS", "1")
    jobs = [(s, "default") for s in args.sizes]
    if args.compare in args.sizes:
        jobs.insert(args.sizes.index(args.compare) + 1, (args.compare, "one pass"))
    rows = []
    for size, mode in jobs:
        rows.append(isolated(run, size, mode))
        log.info("%s", rows[-1])
    env = environment(torch_threads=1)  # the rows ran in children with BENCH_THREADS=1
    head = [
        "# Segment everything with the instance head on big images: tiles (issue 19)",
        "",
        f"`OMP_NUM_THREADS=1 python benchmarks/bench_instance_tiles.py --sizes "
        f"{' '.join(map(str, args.sizes))}`; see the script's docstring. Bundled "
        "`microscopy` model, diameter given, one torch thread, each row in a fresh process.",
        "",
    ]
    write_table(args.out, "instance_tiles", rows, env, columns=COLUMNS, head=head)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
