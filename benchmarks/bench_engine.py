"""Ours vs the reference (PyPI sam2==1.1.0), side by side, SAM 2.1 Hiera-T at 1024 px.

Rows: image embedding time, one-point decode time, per-frame propagation time for one
object over 8 frames, and peak resident memory of the propagation run. Random weights
(timings do not depend on them), float32, CPU. Every measurement runs in its own
process. Writes ``benchmarks/results/engine_vs_reference.{csv,md}``.

Usage: ``python benchmarks/bench_engine.py [--frames 8] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.harness import (  # noqa: E402
    Row,
    alternate,
    isolated,
    median_time,
    peak_rss_mib,
    write,
)

MODEL = "sam2.1_hiera_tiny"


def _image(size: int):
    from sam2_synthetic import natural_rgb_image

    return natural_rgb_image((size, size), seed=0)


def _movie(size: int, n: int):
    import numpy as np

    from sam2_synthetic import nuclei_timelapse

    m = nuclei_timelapse(n_frames=n, shape=(size, size), n_nuclei=12, seed=0).movie
    m = (m.astype(np.float32) / m.max() * 255).astype(np.uint8)
    return np.repeat(m[..., None], 3, axis=-1)


def _median_gap(results) -> float:
    """Median time between consecutive propagated frames (the prompted frame, yielded
    first without any work, starts the clock)."""
    import itertools
    import statistics

    stamps = [time.perf_counter() for _ in results]
    return statistics.median(b - a for a, b in itertools.pairwise(stamps))


def ours_image(repeats: int, precision: str = "auto") -> dict:
    import torch

    import sam2_engine as se

    torch.manual_seed(0)
    model = se.build_model(MODEL, checkpoint=False, device="cpu", precision=precision)
    pred = se.ImagePredictor(model)
    img = _image(model.image_size)
    embed = median_time(lambda: pred.set_image(img), repeats)
    decode = median_time(lambda: pred.predict(points=[[400, 500]], labels=[1]), 20, warmup=2)
    return {"embed": embed, "decode": decode}


def reference_image(repeats: int) -> dict:
    import torch
    from sam2.sam2_image_predictor import SAM2ImagePredictor

    from sam2_engine.config import load_config
    from tests.reference_oracle import build_reference

    torch.manual_seed(0)
    pred = SAM2ImagePredictor(build_reference(load_config(MODEL)))
    img = _image(1024)
    import numpy as np

    def embed():
        with torch.no_grad():
            pred.set_image(img)

    def decode():
        pred.predict(point_coords=np.array([[400, 500]]), point_labels=np.array([1]))

    return {"embed": median_time(embed, repeats), "decode": median_time(decode, 20, warmup=2)}


def ours_video(n_frames: int, precision: str = "auto") -> dict:
    import torch

    import sam2_engine as se

    torch.manual_seed(0)
    model = se.build_model(MODEL, checkpoint=False, device="cpu", precision=precision)
    frames = _movie(model.image_size, n_frames)
    session = se.VideoPredictor(model).start(frames)
    session.add_points(0, 1, [[400, 500]], [1])
    return {
        "per_frame": _median_gap(session.propagate(start=0, max_frames=n_frames)),
        "peak_rss": peak_rss_mib(),
    }


def reference_video(n_frames: int) -> dict:
    import torch

    from sam2_engine.config import load_config
    from tests.reference_oracle import (
        build_reference,
        cast_memory_to_float32,
        reference_video_state,
    )

    torch.manual_seed(0)
    ref = build_reference(load_config(MODEL), video=True)
    cast_memory_to_float32(ref)
    frames = _movie(1024, n_frames)
    with torch.inference_mode():
        state = reference_video_state(ref, frames)
        ref.add_new_points_or_box(state, 0, 1, points=[[400, 500]], labels=[1])
        # the reference processes max_frame_num_to_track + 1 frames
        per_frame = _median_gap(ref.propagate_in_video(state, 0, n_frames - 1))
    return {"per_frame": per_frame, "peak_rss": peak_rss_mib()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per side")
    args = parser.parse_args()

    oi, ri = alternate(ours_image, reference_image, args.repeats, rounds=args.rounds)
    ov, rv = alternate(ours_video, reference_video, args.frames, rounds=args.rounds)
    bi = isolated(ours_image, args.repeats, "bfloat16")
    bv = isolated(ours_video, args.frames, "bfloat16")
    rows = [
        Row("image embedding, 1024 px", "s", oi["embed"], ri["embed"], f"median of {args.repeats}"),
        Row("one-point decode (3 masks)", "s", oi["decode"], ri["decode"], "median of 20"),
        Row(
            f"propagation per frame, 1 object, {args.frames} frames",
            "s",
            ov["per_frame"],
            rv["per_frame"],
            "includes the frame's image encoding",
        ),
        Row(
            "peak RSS of the propagation run",
            "MiB",
            ov["peak_rss"],
            rv["peak_rss"],
            "whole process: model, frames, state",
        ),
        Row(
            "image embedding, ours with precision='bfloat16'",
            "s",
            bi["embed"],
            ri["embed"],
            "opt-in on CPU; reference in float32",
        ),
        Row(
            "propagation per frame, ours with precision='bfloat16'",
            "s",
            bv["per_frame"],
            rv["per_frame"],
            "opt-in on CPU; reference in float32",
        ),
    ]
    path = write(
        "engine_vs_reference",
        f"Engine vs reference: {MODEL} at 1024 px on CPU",
        rows,
        [
            "Random weights, float32. The reference stores memories in bfloat16 like ours; "
            "its memory attention gets them cast to float32 so that it runs on CPU.",
            "Frames are 1024 x 1024 uint8 RGB (no resizing on either side). Per-frame time "
            "is the median gap between consecutive propagated frames.",
            f"Each side ran {args.rounds} times in fresh processes, alternately; the table "
            "shows the medians. Both sides do the same arithmetic, so ratios near 1.0 are "
            "expected; run-to-run noise on this shared 2-core machine is about +-5%.",
        ],
    )
    print(path.read_text())


if __name__ == "__main__":
    main()
