"""Replace the bundled microscopy model by a trained checkpoint, only if it is better.

    python scripts/bundle_model.py runs/bundled_microscopy/best.pt [--force]

Both the candidate and the model bundled now are measured on held-out generated data
(``sam2_training.quality``); the candidate is installed as
``src/sam2_engine/weights/_bundled/microscopy.pt`` (written atomically, with its
inference recommendations) when its score is higher, and older bundled models are
removed (the repository keeps one). The run's learning curve (``metrics.csv`` beside the
checkpoint) is copied to ``docs/curves/microscopy.csv`` with it. The numbers go to the
model card's table by ``benchmarks/bench_model_quality.py``.

Measuring a model takes about 25 CPU-minutes. The bundled file stores its measurement
with a digest of the code that measured it (the engine, the generator and
``sam2_training.quality``); ``--reuse`` compares against that stored measurement instead
of measuring the bundled model again, and is refused when the code has changed since.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

import torch

import sam2_engine as se
from sam2_training.instance_tuning import tune_instance_thresholds
from sam2_training.quality import measure_quality

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = Path(se.__file__).parent / "weights" / "_bundled"
CURVES = ROOT / "docs" / "curves"
#: the code a measurement depends on: inference, the held-out data, the measures, the
#: tuning of the instance thresholds
MEASURED_BY = (
    "src/sam2_engine",
    "src/sam2_synthetic",
    "training/quality.py",
    "training/instance_tuning.py",
)
NAME = "microscopy"
#: segment-everything settings for the bundled window model, tuned on generated data (the
#: plugin's samples and two generated fields, none from the held-out seeds): the model's
#: predicted IoUs and stabilities are low, stricter thresholds keep almost nothing
AUTOMATIC = {
    "points_per_side": 12,
    "pred_iou_thresh": 0.4,
    "stability_score_thresh": 0.6,
    "box_nms_thresh": 0.5,
    "crop_nms_thresh": 0.5,
    "tile_sides": [48, 96, 192, 384, 768],
    "tile_overlap": 0.25,
    "min_object_score": 0.0,
    "min_mask_region_area": 10,
}
#: fine-tuning defaults it carries (``sam2_training.finetune`` and the Fine-tune tab apply
#: them under the user's own settings): its own 256 px input (the official CPU preset's
#: 512 px would change what its windows show), about the learning rates of its last
#: training stage instead of the 5e-5 meant for large pretrained models, and samples,
#: prompts and losses as in its own training (configs/microscopy_conv.yaml: one correction
#: click, not the official recipe's seven, which gave the one-click step 1/8 of the mask
#: loss; its AdamW settings; its IoU loss) in batches of 2. Chosen on generated looks
#: other than the benchmark's (docs/finetuning.md, section 7)
FINETUNE = {
    "model.image_size": None,
    "optim.lr": 3e-4,
    "optim.encoder_lr": 1e-4,
    "optim.weight_decay": 0.01,
    "optim.betas": [0.9, 0.99],
    "optim.grad_clip": 1.0,
    "loss.iou_l1": False,
    "prompts.num_correction_points": 1,
    "prompts.max_init_cond_frames": 1,
    "prompts.max_frames_to_correct": 1,
    "prompts.prob_point_input": 0.6,
    "prompts.prob_box_input": 0.4,
    "data.max_objects": 4,
    "data.background_clicks": 0.3,
    "data.windows.jitter": 0.25,
    "data.augment.intensity_scale": [0.7, 1.3],
    "data.augment.gamma": [0.7, 1.4],
    "trainer.batch_size": 2,
}

#: its z-stack threshold (``VideoPredictor(model, axis="z")`` applies it over the engine's
#: z profile): 3 planes with the object score below 2.0 end an object. Tuned for this
#: model on generated stacks (seeds 555,000, checked on 556,000; docs/engine.md, "Ending
#: objects"); a model's own scale, so it travels with its weights
Z_PROFILE = {"end_below_object_score": 2.0}


def recommend(model: se.SAM2Model) -> se.SAM2Model:
    """``model`` with today's inference recommendations (segment everything, fine-tuning,
    z-stacks) over what it carries: the candidate and the bundled model are measured, and
    the candidate is installed, with the same ones; and its instance head's thresholds,
    tuned for its own weights on generated tuning fields (about two CPU-minutes)."""
    tuning = tune_instance_thresholds(model)
    print(
        f"instance thresholds: foreground {tuning.foreground_threshold}, seeds "
        f"{tuning.seed_threshold}: tuning F1 {tuning.f1:.3f} (defaults {tuning.default_f1:.3f})"
    )
    model.recommended = {
        **model.recommended,
        "automatic": dict(AUTOMATIC),
        "finetune": dict(FINETUNE),
        "z_profile": dict(Z_PROFILE),
        "instance": tuning.recommendation(),
    }
    return model


def install(model: se.SAM2Model, path: Path, quality: dict, digest: str) -> None:
    """Write ``model`` to ``path`` (atomically) with its measurement ``quality`` and the
    ``digest`` of the code that measured it, as float16 (half the size in the repository;
    loading casts back to float32, so a bundled model written again keeps its weights)."""
    se.save_checkpoint(
        model, path, {"quality": quality, "quality_code": digest}, dtype=torch.float16
    )


def code_digest(root: Path = ROOT) -> str:
    """SHA-256 over the Python sources a quality measurement depends on (``MEASURED_BY``),
    in path order: equal digests mean the same inference and the same held-out data."""
    digest = hashlib.sha256()
    for part in MEASURED_BY:
        path = root / part
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            digest.update(file.relative_to(root).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def stored_quality(path: Path, digest: str) -> float:
    """The score stored in the bundled file, if it was measured by code with ``digest``.

    Raises
    ------
    SystemExit
        The file stores no measurement, or one made by other code (measure it again:
        run without ``--reuse``).
    """
    meta = se.read_metadata(path)
    quality = meta.get("quality") or {}
    if "score" not in quality or meta.get("quality_code") != digest:
        raise SystemExit(
            f"{path.name} stores no measurement made by today's code (the engine, the "
            "generator or the measures changed since it was bundled): run without --reuse"
        )
    return float(quality["score"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--force", action="store_true", help="install even if not better")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="compare against the bundled model's stored measurement (same code only)",
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    digest = code_digest()
    current = BUNDLED / f"{NAME}.pt"
    reused = stored_quality(current, digest) if args.reuse and not args.force else None
    candidate = recommend(se.build_model(str(args.checkpoint), device="cpu"))
    new = measure_quality(candidate)
    print(f"candidate {args.checkpoint}: {new.as_dict()}")
    if current.exists() and not args.force:
        if reused is None:
            bundled = recommend(se.build_model(str(current), device="cpu"))
            old = measure_quality(bundled)
            print(f"bundled {current.name}: {old.as_dict()}")
        old_score = old.score if reused is None else reused
        print(f"bundled {current.name}: score {old_score:.4f}")
        if new.score <= old_score:
            print("not better: the bundled model stays")
            if reused is None:  # same weights, with today's recommendations and measurement
                install(bundled, current, old.as_dict(), digest)
                print(f"{current.name}: recommendations and measurement updated")
            return 1
    install(candidate, current, new.as_dict(), digest)
    for other in BUNDLED.glob("*.pt"):
        if other != current:
            other.unlink()
    print(f"installed {current} ({current.stat().st_size / 1e6:.1f} MB)")
    curve = args.checkpoint.parent / "metrics.csv"
    if curve.exists():
        with se.atomic_file(CURVES / f"{NAME}.csv") as tmp:
            shutil.copyfile(curve, tmp)
        print(f"learning curve: {CURVES / f'{NAME}.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
