"""Quality of SAM 2 models on generated microscopy they never saw (issue targets).

Measures (see ``sam2_training.quality``): one-click IoU, box IoU, 30-frame tracking IoU,
z-propagation 3D IoU, segment-everything F1 at IoU 0.5, and the time of embedding + one
decode of a 512 x 512 image on this machine. Writes ``results/model_quality.csv`` and
``.md``. Usage::

    python benchmarks/bench_model_quality.py                     # the bundled models
    python benchmarks/bench_model_quality.py microscopy runs/x/best.pt
    python benchmarks/bench_model_quality.py --stored  # the bundled model's own record

``--stored`` writes the tables from the measurement a bundled file carries (made by
``scripts/bundle_model.py`` with this same ``measure_quality`` when it was installed, with
a digest of the code that made it) instead of measuring again (25 CPU-minutes); it is
refused when that code has changed since.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import platform
import sys
import time
from pathlib import Path

import torch

import sam2_engine as se
from sam2_training.quality import QualityReport, measure_quality

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.harness import RESULTS  # noqa: E402

TARGETS = {
    "one_click_iou": 0.85,
    "box_iou": 0.90,
    "tracking_iou": 0.85,
    "zstack_iou": 0.75,
    "automatic_f1": 0.85,
    "automatic_f1_cells": 0.85,
    "seconds_512": 0.1,
}
LABELS = {
    "one_click_iou": "one-click mean IoU, 2D nuclei",
    "box_iou": "box-prompt mean IoU",
    "tracking_iou": "tracking one nucleus for 30 frames (mean IoU)",
    "zstack_iou": "z-propagation from one click (3D IoU)",
    "automatic_f1": "segment everything, nuclear fields, F1 at IoU 0.5",
    "automatic_f1_cells": "segment everything, cytoplasm / phase fields, F1 at IoU 0.5",
    "seconds_512": "embedding + one decode, 512 x 512 (s, this CPU)",
}


def stored_report(name: str) -> QualityReport:
    """The measurement bundled model ``name`` carries, if today's code made it."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from bundle_model import BUNDLED, code_digest

    meta = se.read_metadata(BUNDLED / f"{name}.pt")
    quality = meta.get("quality") or {}
    if meta.get("quality_code") != code_digest():
        raise SystemExit(
            f"{name}.pt stores no measurement made by today's code; measure it (drop --stored)"
        )
    fields = {f.name for f in dataclasses.fields(QualityReport)} - {"counts"}
    return QualityReport(**{k: float(v) for k, v in quality.items() if k in fields})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="model names or .pt files")
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--movies", type=int, default=4)
    parser.add_argument("--stacks", type=int, default=4)
    parser.add_argument("--fields", type=int, default=3)
    parser.add_argument(
        "--stored", action="store_true", help="the bundled models' stored measurements"
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    names = args.models or list(se.bundled_models())
    rows = []
    for name in names:
        if args.stored:
            rows.append((name, stored_report(name)))
            continue
        start = time.time()
        report = measure_quality(
            se.build_model(name, device="cpu"), args.images, args.movies, args.stacks, args.fields
        )
        print(f"{name}: {report.as_dict()} ({time.time() - start:.0f} s)", flush=True)
        rows.append((name, report))
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "model_quality.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["model", *TARGETS, "score"])
        for name, r in rows:
            d = r.as_dict()
            writer.writerow([name, *(f"{d[k]:.4f}" for k in TARGETS), f"{r.score:.4f}"])
    made = (
        "`benchmarks/bench_model_quality.py --stored`: the measurement each bundled file "
        "carries, made by `scripts/bundle_model.py` (2 threads) with today's code when it was "
        "installed"
        if args.stored
        else f"`benchmarks/bench_model_quality.py`, {platform.processor() or platform.machine()}"
        f", {torch.get_num_threads()} threads"
    )
    lines = [
        "# Model quality on held-out generated microscopy",
        "",
        f"{made}; data: `sam2_training.quality` (nuclear stains, and cytoplasm / phase "
        "fields for the cells' F1; random looks, objects of 10-40 px, seeds no training "
        "recipe uses).",
        "",
        "| measure | target | " + " | ".join(n for n, _ in rows) + " |",
        "|---|---|" + "---|" * len(rows),
    ]
    for key, target in TARGETS.items():
        sign = "<=" if key == "seconds_512" else ">="
        values = " | ".join(f"{r.as_dict()[key]:.3f}" for _, r in rows)
        lines.append(f"| {LABELS[key]} | {sign} {target} | {values} |")
    scores = " | ".join(f"{r.score:.3f}" for _, r in rows)
    lines.append(f"| mean of the six quality measures | | {scores} |")
    if args.stored:
        lines += [
            "",
            "The time is what the bundling run measured, on a CPU it may have shared with a "
            "training run: an upper bound (`benchmarks/bench_click_latency.py` times clicks "
            "alone).",
        ]
    else:
        counts = "; ".join(f"{n}: {r.counts}" for n, r in rows)
        lines += ["", f"Counts: {counts}."]
    lines.append("")
    (RESULTS / "model_quality.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
