"""Tracking on big frames: full-resolution tiles versus squashing the frame (CPU).

``sam2.1_hiera_tiny`` at 1024 px (random weights: timings do not depend on them, masks
do), a (T, 4096, 4096) uint16 time-lapse of bright discs 24 px across. For each mode
(``resize``: the official behaviour, the frame squashed into 1,024 px, a disc becomes
6 px; ``tile``: each object tracked on the 1,024 px tile that holds it best, pixels
seen 1:1) and number of objects (in different tiles), the time from ``start`` to the
first click's mask, the median time of a propagated frame, and the memory bank + feature
cache of the session. Results: ``benchmarks/results/tiled_tracking.csv`` and ``.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.harness import RESULTS, environment, propagation_seconds, write_table  # noqa: E402

SIDE = 4096
COLUMNS = [
    ("mode", "mode"),
    ("objects", "objects"),
    ("first_click_s", "first click s"),
    ("median_frame_s", "median s a frame"),
    ("frames", "frames"),
    ("mask_hw", "mask"),
    ("session_mb", "session MB"),
]


def _stack(frames: int) -> tuple[np.ndarray, list[tuple[int, int]]]:
    rng = np.random.default_rng(0)
    stack = rng.integers(100, 300, (frames, SIDE, SIDE)).astype(np.uint16)
    centres = [(600, 600), (600, 3400), (3400, 600), (3400, 3400), (2048, 2048)]
    rows, cols = np.ogrid[-12:13, -12:13]
    disc = rows**2 + cols**2 <= 144
    for t in range(frames):
        for cy, cx in centres:
            y, x = cy + 8 * t, cx + 8 * t
            stack[t, y - 12 : y + 13, x - 12 : x + 13][disc] = 3000
    return stack, centres


def _run(se, model, stack, centres, mode: str, objects: int, frames: int) -> dict:
    tiling = se.TilingSettings(mode)
    t0 = time.perf_counter()
    session = se.VideoPredictor(model, tiling=tiling).start(stack)
    for k, (cy, cx) in enumerate(centres[:objects]):
        res = session.add_points(0, k + 1, [[cx, cy]], [1])
    first = time.perf_counter() - t0
    per_frame = propagation_seconds(session, frames, on_frame=lambda out: out.label_image())
    return {
        "mode": mode,
        "objects": objects,
        "tiled": session.tiled,
        "first_click_s": round(first, 2),
        "median_frame_s": round(float(np.median(per_frame)), 2),
        "frames": len(per_frame),
        "mask_hw": "x".join(map(str, res.masks.shape[1:])),
        "session_mb": round(session.memory_bytes() / 2**20, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2, help="frames propagated")
    parser.add_argument("--objects", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    import sam2_engine as se

    model = se.build_model("sam2.1_hiera_tiny", checkpoint=False, device="cpu")
    stack, centres = _stack(args.frames + 1)
    rows = []
    for objects in args.objects:
        for mode in ("resize", "tile"):
            rows.append(_run(se, model, stack, centres, mode, objects, args.frames))
            print(rows[-1], flush=True)
    env = environment(
        {
            "model": "sam2.1_hiera_tiny @ 1024 (random weights)",
            "stack": f"{args.frames + 1} x {SIDE} x {SIDE} uint16",
        },
        cores=False,
    )
    head = [
        "# Tracking on 4,096 px frames: tiles versus squashing (CPU)",
        "",
        f"`python benchmarks/bench_tiled_tracking.py --frames {args.frames}`",
        "",
    ]
    notes = [
        "first click: `start` + one click per object on frame 0 (tile: the click's "
        "tile is encoded, plus a second one when the probe moves the object); a frame: "
        "all objects (tile: one encoding per distinct tile)."
    ]
    path = write_table(
        args.out, "tiled_tracking", rows, env, columns=COLUMNS, head=head, notes=notes
    )
    print(path.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
