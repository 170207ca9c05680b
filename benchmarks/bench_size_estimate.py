"""How often is the estimated object size right? Generated fields of known sizes.

The instance head estimates the object size of an image when the user gives none
(``sam2_engine.InstanceSegmenter.size_of``): segment everything and the tracker's
``model`` detections run at that size. This measures it on generated fields (seeds
930,000: drawn by no training recipe, apart from the held-out quality data's 900,000 and
from the fields the fragment check was chosen on) of four kinds: nuclear
fields of 384 and 768 px (the larger are often sparse), and cytoplasm and phase-contrast
fields of 384 px, objects of 8-50 px. For each field: the true size (the median
equivalent diameter of its objects), the head's estimate without and with the fragment
check (``InstanceSettings.check_fragments``), and on nuclear fields the tracker's size
(``sam2_cells.cell_size.checked_diameter``: also checked against the classical
detector). A size counts as right within 1.3x of the truth. Writes
``results/size_estimate.csv`` and ``.md``. Usage::

    python benchmarks/bench_size_estimate.py            # the bundled default model
    python benchmarks/bench_size_estimate.py --fields 4  # a quick look
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

import sam2_engine as se
from sam2_cells.cell_size import checked_diameter
from sam2_cells.classical import median_diameter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.harness import RESULTS, environment, write_table  # noqa: E402
from training.quality import generated_field  # noqa: E402

SEED = 930_000
DIAMETERS = (8.0, 50.0)
RIGHT = 1.3  # an estimate within this factor of the truth is right
#: (kind, modality, side, fields)
GROUPS = (
    ("nuclear 384", "nuclear", 384, 24),
    ("nuclear 768", "nuclear", 768, 16),
    ("cytoplasm 384", "cytoplasm", 384, 16),
    ("phase 384", "phase", 384, 16),
)
SPARSE = 0.08  # a field with objects on less than this share of its area is sparse


def _gray(image: np.ndarray) -> np.ndarray:
    return image.mean(axis=-1) if image.ndim == 3 else image


def measure(model, modality: str, side: int, index: int) -> dict:
    """One field's true size and the three estimates (the tracker's only for nuclei)."""
    field = generated_field((SEED, side, index), modality, (side, side), DIAMETERS)
    truth = median_diameter(field.labels)
    plain = se.InstanceSettings.for_model(model, check_fragments=False)
    row = {
        "truth": truth,
        "cover": float((field.labels > 0).mean()),
        "plateau": se.InstanceSegmenter(model, settings=plain).size_of(field.image),
    }
    head = se.InstanceSegmenter(model)
    row["checked"] = head.size_of(field.image)
    row["tracker"] = None
    if modality == "nuclear":
        h, w = field.image.shape[:2]
        top, left = max((h - 512) // 2, 0), max((w - 512) // 2, 0)
        crop = field.image[top : top + 512, left : left + 512]

        def segment_at(diameter: float) -> np.ndarray:
            return se.InstanceSegmenter(model, diameter=diameter).segment(crop)

        row["tracker"] = checked_diameter(
            row["checked"],
            _gray(field.image),
            segment_at,
            crop=lambda image: image[top : top + 512, left : left + 512],
        ).diameter
    return row


def right(rows: list[dict], key: str) -> str:
    """'k / n' fields whose ``key`` estimate is within RIGHT of the truth."""
    known = [r for r in rows if r[key] is not None]
    if not known:
        return "-"
    good = sum(abs(np.log(r[key] / r["truth"])) < np.log(RIGHT) for r in known)
    return f"{good} / {len(known)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="default: the bundled default model")
    parser.add_argument("--fields", type=int, default=None, help="fields per kind (a quick look)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    name = args.model or se.default_model_name()
    model = se.build_model(name, device="cpu")
    table = []
    for kind, modality, side, n in GROUPS:
        rows = []
        for i in range(args.fields or n):
            rows.append(measure(model, modality, side, i))
            print(kind, i, {k: v if v is None else round(v, 3) for k, v in rows[-1].items()})
        sparse = [r for r in rows if r["cover"] < SPARSE]
        table.append(
            {
                "kind": kind,
                "fields": len(rows),
                "sparse": len(sparse),
                "plateau": right(rows, "plateau"),
                "checked": right(rows, "checked"),
                "tracker": right(rows, "tracker"),
                "plateau_sparse": right(sparse, "plateau"),
                "checked_sparse": right(sparse, "checked"),
                "tracker_sparse": right(sparse, "tracker"),
            }
        )
    head = [
        "# Object size estimates on generated fields",
        "",
        "`benchmarks/bench_size_estimate.py`: fields within 1.3x of the true median object "
        f"diameter, seeds {SEED:,}, objects of 8-50 px; sparse: under "
        f"{SPARSE:.0%} of the area covered. *Plateau*: the head's best plateau alone "
        "(`check_fragments=False`); *checked*: with a larger plateau weighed by how many "
        "objects touch (the default); *tracker*: that, then checked against the classical "
        "detector (`sam2_cells.cell_size`; nuclear fields only).",
        "",
    ]
    columns = [
        ("kind", "fields"),
        ("fields", "n"),
        ("plateau", "plateau"),
        ("checked", "checked (default)"),
        ("tracker", "tracker"),
        ("sparse", "sparse n"),
        ("plateau_sparse", "sparse: plateau"),
        ("checked_sparse", "sparse: checked"),
        ("tracker_sparse", "sparse: tracker"),
    ]
    env = environment({"model": name})
    write_table(args.out, "size_estimate", table, env, columns=columns, head=head)


if __name__ == "__main__":
    main()
