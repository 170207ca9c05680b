"""Reopening a 100-frame time-lapse with the on-disk embedding cache, warm versus cold.

``sam2.1_hiera_tiny`` at 1024 px (random weights: timings do not depend on them), a
100-frame (T, 512, 512) uint16 stack. *Cold*: an empty cache folder; time from
``set_image(stack[t])`` to the frame being click-ready (hash + encode + store). *Warm*:
the same with the entries on disk (hash + read). Frames 0..``--frames``-1 are timed.
Results: ``benchmarks/results/embedding_cache.csv`` and ``.md``.
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    import sam2_engine as se

    model = se.build_model("sam2.1_hiera_tiny", checkpoint=False, device="cpu")
    rng = np.random.default_rng(0)
    stack = rng.integers(100, 4000, (100, 512, 512)).astype(np.uint16)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        times: dict[str, list[float]] = {"cold": [], "warm": []}
        for state in ("cold", "warm"):
            cache = se.EmbeddingCache(folder)
            pred = se.ImagePredictor(model, embedding_cache=cache)
            for t in range(args.frames):
                t0 = time.perf_counter()
                pred.set_image(stack[t])
                times[state].append(time.perf_counter() - t0)
        entry_mb = cache.nbytes() / args.frames / 2**20
    for state, samples in times.items():
        rows.append({
            "cache": state, "frames": len(samples),
            "first_frame_s": round(samples[0], 3),
            "median_frame_s": round(float(np.median(samples)), 3),
            "entry_mb": round(entry_mb, 1),
        })
    speedup = times["cold"][0] / times["warm"][0]
    env = {"model": "sam2.1_hiera_tiny @ 1024 (random weights)", "stack": "100 x 512 x 512 uint16",
           "torch_threads": torch.get_num_threads(), "load_avg_1min": round(os.getloadavg()[0], 2)}
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "embedding_cache.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*rows[0], *env])
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, **env})
    lines = ["# Embedding cache: reopening a time-lapse (CPU)", "",
             f"`python benchmarks/bench_embedding_cache.py --frames {args.frames}`; "
             f"first click-ready frame {speedup:.0f}x faster warm than cold.", "",
             "| cache | frames | first frame s | median frame s | entry MB |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['cache']} | {r['frames']} | {r['first_frame_s']} | {r['median_frame_s']} | "
              f"{r['entry_mb']} |" for r in rows]
    lines += ["", "Environment: " + ", ".join(f"{k} = {v}" for k, v in env.items()), ""]
    (args.out / "embedding_cache.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
