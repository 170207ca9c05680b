"""Video tracking side by side with the reference: memory over length, objects, start-up.

Rows (each measured in its own process):
* peak RSS while tracking 1 object through 20 and through 100 frames (ours should stay
  flat: the memory bank is bounded and frames are read lazily; the reference keeps every
  frame and every frame's memory);
* per-frame time for 1, 4 and 16 objects (ours batches all objects of a frame; the
  reference runs them one after another);
* time to start a session on a 500-frame stack.

Model: the SAM 2.1 Hiera-T architecture run at 512 px (``image_size=512``) with random
weights, frames 512 x 512, CPU, float32 -- so that the script runs in minutes on two
cores. Writes ``benchmarks/results/video_vs_reference.{csv,md}``.

Usage: ``python benchmarks/bench_video.py [--long 100] [--short 20]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.harness import Row, alternate, peak_rss_mib, write  # noqa: E402

MODEL, SIZE = "sam2.1_hiera_tiny", 512


def _movie(n: int):
    import numpy as np

    from sam2_synthetic import nuclei_timelapse

    tl = nuclei_timelapse(n_frames=min(n, 40), shape=(SIZE, SIZE), n_nuclei=16, seed=0)
    m = (tl.movie.astype(np.float32) / tl.movie.max() * 255).astype(np.uint8)
    reps = -(-n // len(m))  # long runs loop the 40-frame clip
    m = np.concatenate([m, m[::-1]] * reps)[:n]
    return np.repeat(m[..., None], 3, axis=-1)


def _points(k: int) -> list[list[float]]:
    import numpy as np

    rng = np.random.default_rng(0)
    return rng.uniform(40, SIZE - 40, size=(k, 2)).tolist()


def ours_track(n_frames: int, n_objects: int) -> dict:
    import torch

    import sam2_engine as se

    torch.manual_seed(0)
    model = se.build_model(MODEL, checkpoint=False, device="cpu", image_size=SIZE)
    frames = _movie(n_frames)
    session = se.VideoPredictor(model).start(frames)
    for i, p in enumerate(_points(n_objects)):
        session.add_points(0, i + 1, [p], [1])
    t0 = time.perf_counter()
    n = sum(1 for _ in session.propagate(start=0)) - 1
    return {"per_frame": (time.perf_counter() - t0) / n, "peak_rss": peak_rss_mib()}


def reference_track(n_frames: int, n_objects: int) -> dict:
    import torch

    from sam2_engine.config import load_config
    from tests.reference_oracle import (
        build_reference,
        cast_memory_to_float32,
        reference_video_state,
    )

    torch.manual_seed(0)
    ref = build_reference(load_config(MODEL, image_size=SIZE), video=True)
    cast_memory_to_float32(ref)
    frames = _movie(n_frames)
    with torch.inference_mode():
        state = reference_video_state(ref, frames)
        for i, p in enumerate(_points(n_objects)):
            ref.add_new_points_or_box(state, 0, i + 1, points=[p], labels=[1])
        t0 = time.perf_counter()
        n = sum(1 for _ in ref.propagate_in_video(state, 0)) - 1
    return {"per_frame": (time.perf_counter() - t0) / n, "peak_rss": peak_rss_mib()}


def ours_start(n_frames: int) -> dict:
    import numpy as np
    import zarr

    import sam2_engine as se

    model = se.build_model(MODEL, checkpoint=False, device="cpu", image_size=SIZE)
    store = zarr.create_array(
        store={}, shape=(n_frames, SIZE, SIZE, 3), chunks=(1, SIZE, SIZE, 3), dtype="uint8"
    )
    store[:] = np.broadcast_to(_movie(1)[0], (n_frames, SIZE, SIZE, 3))
    se.VideoPredictor  # noqa: B018 - import the module before timing, as for the reference
    t0 = time.perf_counter()
    se.VideoPredictor(model).start(store, channel_axis=3)
    return {"start": time.perf_counter() - t0}


def reference_start(n_frames: int) -> dict:
    import numpy as np
    import torch
    from PIL import Image

    from sam2_engine.config import load_config
    from tests.reference_oracle import build_reference

    ref = build_reference(load_config(MODEL, image_size=SIZE), video=True)
    frame = _movie(1)[0]
    with tempfile.TemporaryDirectory() as folder:
        for t in range(n_frames):  # the reference reads a folder of JPEGs
            Image.fromarray(np.ascontiguousarray(frame)).save(f"{folder}/{t:05d}.jpg", quality=95)
        t0 = time.perf_counter()
        with torch.inference_mode():
            ref.init_state(folder)
        return {"start": time.perf_counter() - t0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=int, default=20)
    parser.add_argument("--long", type=int, default=100)
    parser.add_argument("--stack", type=int, default=500)
    parser.add_argument("--objects", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--object-frames", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs per side")
    args = parser.parse_args()

    rows = []
    for n in (args.short, args.long):
        o, r = alternate(ours_track, reference_track, n, 1)
        rows.append(Row(f"peak RSS, 1 object, {n} frames", "MiB", o["peak_rss"], r["peak_rss"]))
    for k in args.objects:
        o, r = alternate(ours_track, reference_track, args.object_frames, k, rounds=args.rounds)
        rows.append(
            Row(
                f"time per frame, {k} object(s)",
                "s",
                o["per_frame"],
                r["per_frame"],
                f"{args.object_frames} frames, includes encoding",
            )
        )
    o, r = alternate(ours_start, reference_start, args.stack)
    rows.append(
        Row(
            f"start a session on {args.stack} frames",
            "s",
            o["start"],
            r["start"],
            "ours: zarr, lazy; reference: JPEG folder",
        )
    )
    short, long_ = rows[0], rows[1]
    ours_growth = long_.ours / short.ours - 1
    ref_growth = long_.reference / short.reference - 1
    growth = f"ours {ours_growth:+.1%}, reference {ref_growth:+.1%}"
    path = write(
        "video_vs_reference",
        f"Video tracking vs reference: {MODEL} architecture at {SIZE} px on CPU",
        rows,
        [
            f"Peak RSS growth from {args.short} to {args.long} frames: {growth}.",
            "Random weights, float32, frames 512 x 512 uint8 RGB. Both store memories in "
            "bfloat16 (the reference's memory attention gets them cast to float32 on CPU).",
        ],
    )
    print(path.read_text())


if __name__ == "__main__":
    main()
