"""Replace the bundled microscopy model by a trained checkpoint, only if it is better.

    python scripts/bundle_model.py runs/bundled_microscopy/best.pt [--force]

Both the candidate and the model bundled now are measured on held-out generated data
(``sam2_training.quality``); the candidate is installed as
``src/sam2_engine/weights/_bundled/microscopy.pt`` (written atomically, with its
inference recommendations) when its score is higher, and older bundled models are
removed (the repository keeps one). The numbers go to the model card's table by
``benchmarks/bench_model_quality.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

import sam2_engine as se
from sam2_training.quality import measure_quality

BUNDLED = Path(se.__file__).parent / "weights" / "_bundled"
NAME = "microscopy"
#: segment-everything settings for the bundled window model (tuned on generated data)
AUTOMATIC = {
    "points_per_side": 12,
    "pred_iou_thresh": 0.5,
    "stability_score_thresh": 0.8,
    "box_nms_thresh": 0.5,
    "crop_nms_thresh": 0.5,
    "tile_sides": [48, 96, 192, 384, 768],
    "tile_overlap": 0.25,
    "min_object_score": 0.0,
    "min_mask_region_area": 10,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--force", action="store_true", help="install even if not better")
    args = parser.parse_args()
    torch.set_num_threads(2)
    candidate = se.build_model(str(args.checkpoint), device="cpu")
    candidate.recommended = {**candidate.recommended, "automatic": dict(AUTOMATIC)}
    new = measure_quality(candidate)
    print(f"candidate {args.checkpoint}: {new.as_dict()}")
    current = BUNDLED / f"{NAME}.pt"
    if current.exists() and not args.force:
        old = measure_quality(se.build_model(str(current), device="cpu"))
        print(f"bundled {current.name}: {old.as_dict()}")
        if new.score <= old.score:
            print("not better: the bundled model stays")
            return 1
    se.save_checkpoint(candidate, current, {"quality": new.as_dict()})
    for other in BUNDLED.glob("*.pt"):
        if other != current:
            other.unlink()
    print(f"installed {current} ({current.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
