"""Does fine-tuning with the defaults help? A lab's own kind of image, before and after.

For each "kind" (one microscope look: a fixed random style of one modality, drawn from
seeds no training recipe uses) a handful of annotated fields are the user's annotations
and other fields of the same look are held out. The base model is fine-tuned on the
annotations with ``sam2_training.finetune`` and its defaults (only the number of steps
and the device are given, as a user of the widget or the API would), and the one-click
mean IoU on the held-out fields is measured before and after (``sam2_training.quality``:
one interior click per object, best-scored mask). Writes ``results/finetune_gain.csv``
and ``.md``. Usage::

    python benchmarks/bench_finetune_gain.py                    # bundled default model
    python benchmarks/bench_finetune_gain.py --steps 300 --kinds nuclear phase
    python benchmarks/bench_finetune_gain.py --set optim.lr=1e-4   # explicit settings

``--set`` gives settings as a user would (``finetune(overrides=...)``), over the defaults
the base model carries; they are written into the results.
"""

from __future__ import annotations

import argparse
import csv
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import sam2_engine as se
import sam2_synthetic as syn
from sam2_training import finetune
from sam2_training.quality import prompt_ious

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.harness import RESULTS  # noqa: E402

KIND_SEED = 700_000  # far from the seeds of the training recipes and of the quality data
TARGET = 0.85


def kind_fields(kind: str, index: int, n: int, shape: tuple[int, int], start: int):
    """``n`` (image, labels) fields of one look: the style depends on (kind, index) only."""
    rng = np.random.default_rng([KIND_SEED, index])
    style = syn.random_style(rng, modality=kind, shape=shape)
    return [
        syn.microscopy_image(shape, seed=(KIND_SEED, index, start + i), style=style)
        for i in range(n)
    ]


def one_click(model, fields) -> float:
    clicks, _ = prompt_ious(model, ((f.image, f.labels) for f in fields))
    return float(np.mean(clicks))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default", help="base model (default: bundled)")
    parser.add_argument("--kinds", nargs="+", default=["nuclear", "cytoplasm", "phase"])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--train-images", type=int, default=4)
    parser.add_argument("--test-images", type=int, default=4)
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument(
        "--set", nargs="*", default=[], metavar="KEY=VALUE", help="fine-tuning overrides"
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    base = se.default_model_name() if args.model == "default" else args.model
    shape = (args.size, args.size)
    rows = []
    for index, kind in enumerate(args.kinds):
        train = kind_fields(kind, index, args.train_images, shape, 0)
        test = kind_fields(kind, index, args.test_images, shape, 1000)
        before = one_click(se.build_model(base, device="cpu"), test)
        start = time.time()
        with tempfile.TemporaryDirectory() as folder:
            weights = finetune(
                [f.image for f in train],
                [f.labels for f in train],
                base,
                output=Path(folder) / "tuned.pt",
                max_steps=args.steps,
                device="cpu",
                overrides=list(args.set),
            )
            minutes = (time.time() - start) / 60
            after = one_click(se.build_model(str(weights), device="cpu"), test)
        print(f"{kind}: {before:.3f} -> {after:.3f} ({minutes:.1f} min)", flush=True)
        rows.append((kind, before, after, minutes))
    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "finetune_gain.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["kind", "one_click_before", "one_click_after", "minutes"])
        for kind, before, after, minutes in rows:
            writer.writerow([kind, f"{before:.4f}", f"{after:.4f}", f"{minutes:.1f}"])
    lines = [
        "# Fine-tuning gain with the defaults",
        "",
        f"`benchmarks/bench_finetune_gain.py`, base model `{base}`, {args.steps} steps on "
        f"{args.train_images} annotated {args.size} x {args.size} fields per kind, "
        f"held-out one-click mean IoU on {args.test_images} other fields of the same look; "
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
        + (f"; settings given: `{' '.join(args.set)}`." if args.set else "."),
        "",
        f"| kind | before | after (target > {TARGET}) | minutes |",
        "|---|---|---|---|",
    ]
    lines += [f"| {k} | {b:.3f} | {a:.3f} | {m:.1f} |" for k, b, a, m in rows]
    (RESULTS / "finetune_gain.md").write_text("\n".join([*lines, ""]))


if __name__ == "__main__":
    main()
