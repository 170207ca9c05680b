"""Reopening a 100-frame time-lapse with the on-disk embedding cache, warm versus cold.

``sam2.1_hiera_tiny`` at 1024 px (random weights: timings do not depend on them), a
100-frame (T, 512, 512) uint16 stack, CPU. Two paths:

* ``session``: a tracking session (``VideoPredictor(model, embedding_cache=...)``).
  *First click-ready frame*: from ``start(stack)`` (frame source, stack statistics) to
  the mask of a click on frame 0 (encode or read frame 0, decode). Then ``--frames``
  frames are propagated (per-frame time: encode or read + memory attention + decode).
* ``image``: ``ImagePredictor(model, embedding_cache=...).set_image(stack[t])`` per
  frame (the plugin's Segment tab), for ``--frames`` frames.

*Cold*: an empty cache folder (encode + store). *Warm*: the same again with the entries
on disk (hash + read). Before each run the model's weights hash is forgotten, as in a
fresh process (it is part of the key). Results: ``benchmarks/results/embedding_cache.csv``
and ``.md``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.harness import RESULTS, environment, propagation_seconds, write_table  # noqa: E402

COLUMNS = [
    ("path", "path"),
    ("cache", "cache"),
    ("first_s", "first click-ready frame s"),
    ("frames", "later frames"),
    ("median_frame_s", "median s a frame"),
    ("hits", "hits"),
    ("misses", "misses"),
    ("entry_mb", "entry MB"),
]


def _fresh(model: torch.nn.Module) -> None:
    """Forget the memoised weights hash (a new process computes it again)."""
    if hasattr(model, "_embedding_cache_hash"):
        del model._embedding_cache_hash


def _session_run(se, model, stack, folder: str, frames: int) -> dict[str, float]:
    _fresh(model)
    cache = se.EmbeddingCache(folder)
    t0 = time.perf_counter()
    session = se.VideoPredictor(model, embedding_cache=cache).start(stack)
    session.add_points(0, 1, [[256, 256]], [1])
    first = time.perf_counter() - t0
    per_frame = propagation_seconds(session, frames)
    return {
        "first_s": first,
        "median_frame_s": float(np.median(per_frame)),
        "frames": len(per_frame),
        "hits": cache.hits,
        "misses": cache.misses,
        "entry_mb": cache.nbytes() / max(1, cache.hits + cache.misses) / 2**20,
    }


def _image_run(se, model, stack, folder: str, frames: int) -> dict[str, float]:
    _fresh(model)
    cache = se.EmbeddingCache(folder)
    pred = se.ImagePredictor(model, embedding_cache=cache)
    times = []
    for t in range(frames):
        t0 = time.perf_counter()
        pred.set_image(stack[t])
        times.append(time.perf_counter() - t0)
    return {
        "first_s": times[0],
        "median_frame_s": float(np.median(times)),
        "frames": frames,
        "hits": cache.hits,
        "misses": cache.misses,
        "entry_mb": cache.nbytes() / max(1, frames) / 2**20,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3, help="frames timed after the first")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    import sam2_engine as se

    model = se.build_model("sam2.1_hiera_tiny", checkpoint=False, device="cpu")
    rng = np.random.default_rng(0)
    stack = rng.integers(100, 4000, (100, 512, 512)).astype(np.uint16)
    rows = []
    for path, run in (("session", _session_run), ("image", _image_run)):
        with tempfile.TemporaryDirectory() as folder:
            for state in ("cold", "warm"):
                r = run(se, model, stack, folder, args.frames)
                rows.append(
                    {
                        "path": path,
                        "cache": state,
                        **{k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()},
                    }
                )
                print(rows[-1], flush=True)
    described = {
        "model": "sam2.1_hiera_tiny @ 1024 (random weights)",
        "stack": "100 x 512 x 512 uint16",
    }
    env = environment(described, cores=False)
    by = {(r["path"], r["cache"]): r for r in rows}
    speed = {
        p: by[(p, "cold")]["first_s"] / max(by[(p, "warm")]["first_s"], 1e-9)
        for p in ("session", "image")
    }
    head = [
        "# Embedding cache: reopening a time-lapse (CPU)",
        "",
        f"`python benchmarks/bench_embedding_cache.py --frames {args.frames}`. First "
        f"click-ready frame of a tracking session {speed['session']:.0f}x faster warm "
        f"than cold (image predictor: {speed['image']:.0f}x).",
        "",
    ]
    notes = [
        "session: `start` + a click on frame 0, then propagation of the later "
        "frames (one object); image: `set_image` per frame.",
    ]
    path = write_table(
        args.out, "embedding_cache", rows, env, columns=COLUMNS, head=head, notes=notes
    )
    print(path.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
