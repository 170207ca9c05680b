"""VOS benchmark: J&F and frames per second of a model on the generated DAVIS-layout set.

Writes ``benchmarks/results/vos.csv`` and ``vos.md``. The data are the moving shapes of
``sam2_vos.synthetic`` (RGB JPEGs, and the same scenes as uint16 TIFF frames), one object
entering late in every video; prompts are each object's first annotated mask, scores
follow the DAVIS protocol (first and last frames not scored).

    OMP_NUM_THREADS=1 python benchmarks/bench_vos.py [--model microscopy] [--videos 4]
"""

from __future__ import annotations

import argparse
import csv
import platform
import tempfile
import time
from pathlib import Path

import torch

import sam2_engine as se
from sam2_vos import infer_dataset, make_predictor, score_dataset, write_moving_shapes

RESULTS = Path(__file__).resolve().parent / "results"


def run(model: str, videos: int, frames: int, size: tuple[int, int], tiff: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        data = write_moving_shapes(
            Path(tmp) / "data", videos=videos, frames=frames, size=size, tiff=tiff, seed=0
        )
        predictor = make_predictor(model, device="cpu")
        t0 = time.perf_counter()
        outcomes = infer_dataset(data, Path(tmp) / "out", predictor)
        seconds = time.perf_counter() - t0
        failed = [o.name for o in outcomes if not o.ok]
        if failed:
            raise RuntimeError(f"videos failed: {failed}")
        scores = score_dataset(Path(tmp) / "out", data)
    n = sum(o.num_frames for o in outcomes)
    return {
        "model": model,
        "frames": "uint16 TIFF" if tiff else "RGB JPEG",
        "videos": videos,
        "frames_per_video": frames,
        "size": f"{size[0]}x{size[1]}",
        "objects": len(scores.objects),
        "J&F": round(scores.jf, 2),
        "J": round(scores.j, 2),
        "F": round(scores.f, 2),
        "fps": round(n / seconds, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="microscopy")
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--frames", type=int, default=24)
    args = parser.parse_args()
    size = (192, 256)
    rows = [run(args.model, args.videos, args.frames, size, tiff) for tiff in (False, True)]
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "vos.csv", "w", newline="") as handle:
        out = csv.DictWriter(handle, fieldnames=list(rows[0]))
        out.writeheader()
        out.writerows(rows)
    threads = torch.get_num_threads()
    lines = [
        "# Video object segmentation on the generated DAVIS-layout set",
        "",
        f"`python benchmarks/bench_vos.py --model {args.model}`; CPU only "
        f"({platform.processor() or platform.machine()}, {threads} torch thread(s)), "
        f"default model here: `{se.default_model_name()}`. Each video: a disc and a box from "
        "frame 0, an ellipse entering through the left edge at a third of the video; "
        "prompts: each object's first annotated mask; J&F under the DAVIS protocol "
        "(first and last frames not scored), in percent. fps: frames written per second "
        "of inference (model building excluded).",
        "",
        "| " + " | ".join(rows[0]) + " |",
        "|" + "---|" * len(rows[0]),
    ]
    lines += ["| " + " | ".join(str(v) for v in row.values()) + " |" for row in rows]
    (RESULTS / "vos.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
