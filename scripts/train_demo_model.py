"""Train the demo model, the starting point of the bundled microscopy model.

No official weights can be downloaded on the machines this project is built on, yet the
demo must segment and track something. This script trains the ``test_small``
architecture (1.5 M parameters, 256 px input) with our own fine-tuning loop on data the
project generates (``sam2_synthetic``): 2D fluorescence images for clicks and
boxes, time-lapses of moving, dividing nuclei for tracking. It then measures one-click
IoU on held-out images and tracking IoU on a held-out time-lapse; the best checkpoint
stays in the run folder (``--run``).

The demo model was made in two runs of this script (from random weights, mostly clicks;
then from that, clips for tracking). The bundled ``microscopy`` model continues from it
on varied generated microscopy (``training/configs/bundled_microscopy.yaml``);
docs/model_card.md has the commands and the numbers.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import yaml

import sam2_engine as se
import sam2_training as st
from sam2_synthetic import fluorescence_image, nuclei_timelapse

RECIPE = {
    # from random weights: the (random) image encoder stays frozen, which makes the rest
    # learn far faster on a CPU; high learning rate, short Adam memory, MSE IoU loss (see
    # tests/training/test_overfit.py for why)
    "trainer.freeze": ["image_encoder"],
    "optim.lr": 2e-3,
    "optim.betas": [0.9, 0.99],
    "optim.grad_clip": 1.0,
    "optim.weight_decay": 0.05,
    "optim.warmup_fraction": 0.03,
    "loss.iou_l1": False,
    "data.clip_length": 3,
    "data.max_objects": 4,
    "prompts.num_correction_points": 2,
    "trainer.val_every": 250,
    "trainer.checkpoint_every": 500,
}


def training_data(n_images: int = 32, n_timelapses: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for i in range(n_images):
        img = fluorescence_image((256, 256), int(rng.integers(8, 30)), seed=1000 + i)
        images.append(img.image)
        labels.append(img.labels)
    for i in range(n_timelapses):
        tl = nuclei_timelapse(
            n_frames=20, shape=(256, 256), n_nuclei=int(rng.integers(8, 16)), seed=2000 + i
        )
        images.append(tl.movie)
        labels.append(tl.labels)
    return images, labels


def one_click_iou(model, n_images: int = 6) -> float:
    """Mean IoU of the best-scored mask for one click at each nucleus's centroid."""
    from scipy import ndimage as ndi

    pred = se.ImagePredictor(model)
    ious = []
    for i in range(n_images):
        data = fluorescence_image((256, 256), 20, seed=9000 + i)
        pred.set_image(data.image)
        for obj in range(1, int(data.labels.max()) + 1):
            gt = data.labels == obj
            if gt.sum() < 30:
                continue
            # a click well inside the object: the pixel farthest from its border
            r, c = np.unravel_index(np.argmax(ndi.distance_transform_edt(gt)), gt.shape)
            mask = pred.predict(points=[[c, r]], labels=[1]).mask
            ious.append((mask & gt).sum() / max((mask | gt).sum(), 1))
    return float(np.mean(ious))


def tracking_iou(model) -> float:
    """Mean IoU over a held-out time-lapse, objects prompted by one click on frame 0."""
    from scipy import ndimage as ndi

    tl = nuclei_timelapse(n_frames=20, shape=(256, 256), n_nuclei=10, seed=9100)
    session = se.VideoPredictor(model).start(tl.movie)
    ids = [i for i in np.unique(tl.labels[0]) if i]
    for obj in ids:
        gt = tl.labels[0] == obj
        r, c = np.unravel_index(np.argmax(ndi.distance_transform_edt(gt)), gt.shape)
        session.add_points(0, int(obj), [[c, r]], [1])
    ious = []
    for out in session.propagate(start=0):
        for k, obj in enumerate(out.obj_ids):
            gt = tl.labels[out.frame] == obj
            if gt.sum() == 0:  # the track ended (division): skip, not an error
                continue
            m = out.masks[k]
            ious.append((m & gt).sum() / max((m | gt).sum(), 1))
    return float(np.mean(ious))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--run", type=Path, default=Path("runs/demo_phase1"))
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, mps")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument(
        "--minutes", type=float, default=None, help="stop (and save) after this long"
    )
    parser.add_argument("--base", default="random", help="start from this checkpoint file")
    parser.add_argument("--images", type=int, default=32, help="2D training images")
    parser.add_argument("--timelapses", type=int, default=6, help="training time-lapses")
    parser.add_argument(
        "--set", nargs="*", default=[], metavar="KEY=VALUE", help="change the recipe"
    )
    args = parser.parse_args()
    recipe = dict(RECIPE)
    for item in args.set:
        key, _, value = item.partition("=")
        recipe[key] = yaml.safe_load(value)

    images, labels = training_data(args.images, args.timelapses)
    t0 = time.time()

    def out_of_time() -> bool:
        return args.minutes is not None and time.time() - t0 > 60 * args.minutes

    def report(p) -> None:
        if p.phase == "validate" and p.validation is not None:
            v = p.validation
            print(
                f"step {p.step}: validation one-click IoU {v.one_click_iou:.3f}, "
                f"tracking IoU {v.tracking_iou:.3f}",
                flush=True,
            )
        elif p.step % 50 == 0 and p.phase == "train":
            print(
                f"step {p.step}: loss {p.loss:.3f} ({p.steps_per_second:.2f} steps/s)", flush=True
            )

    result = st.finetune(
        images,
        labels,
        "test_small",
        output=args.run,
        max_steps=args.steps,
        base_checkpoint=args.base,
        batch_size=args.batch_size,
        seed=7,
        overrides=recipe,
        device=args.device,
        resume=args.resume,
        return_result=True,
        progress=report,
        cancel=out_of_time,
    )
    minutes = (time.time() - t0) / 60
    print(f"trained {result.steps} steps in {minutes:.0f} min", flush=True)
    best = result.best_checkpoint or result.checkpoint
    model = se.build_model(str(best), device="cpu")
    click, track = one_click_iou(model), tracking_iou(model)
    print(f"held-out one-click IoU {click:.3f}, tracking IoU {track:.3f}", flush=True)
    print(f"best checkpoint: {best}", flush=True)


if __name__ == "__main__":
    main()
