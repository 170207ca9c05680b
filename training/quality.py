"""How good a model is on generated microscopy it never saw: the bundled model's measures.

Every measure runs the engine the way a user does (windows when the model recommends
them) on held-out data drawn from seeds the training recipes never use:

* one interior click per nucleus (the most interior pixel), best-scored mask: mean IoU;
* a box per nucleus (its tight box): mean IoU;
* one click on frame 0, tracked forward through 30 frames: mean IoU over frames (nuclei
  present on every frame that do not divide);
* one click on a nucleus's largest slice of a z-stack, propagated both ways with the
  engine's z profile (``VideoPredictor(model, axis="z")``, what the plugin and the console
  API run for a z axis: objects end where they fade or jump): 3D IoU;
* segment everything on a nuclear field and on a cytoplasm / phase-contrast field (the
  instance head, object size estimated, for models that have one; else grid prompts):
  F1 of objects matched at IoU >= 0.5;
* embedding + one decode of a 512 x 512 image: seconds.

The data are stains with random looks (sam2_synthetic, domain-randomised), objects of
10-40 pixels in 512 x 512 fields; nuclear stains except the cell fields.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from sam2_training.object_match import object_f1

__all__ = [
    "QualityReport",
    "generated_field",
    "held_out_field",
    "measure_quality",
    "prompt_ious",
]

HELD_OUT_SEED = 900_000  # training recipes draw from seeds far below this
DIAMETERS = (10.0, 40.0)


@dataclass
class QualityReport:
    """Measured quality of one model (see the module docstring)."""

    one_click_iou: float
    box_iou: float
    tracking_iou: float
    zstack_iou: float
    automatic_f1: float
    seconds_512: float
    automatic_f1_cells: float = 0.0  # cytoplasm / phase fields
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def score(self) -> float:
        """The mean of the five quality measures (what "better" means when bundling)."""
        return float(
            np.mean(
                [
                    self.one_click_iou,
                    self.box_iou,
                    self.tracking_iou,
                    self.zstack_iou,
                    self.automatic_f1,
                    self.automatic_f1_cells,
                ]
            )
        )

    def as_dict(self) -> dict[str, float]:
        out = {k: v for k, v in dataclasses.asdict(self).items() if k != "counts"}
        out["score"] = self.score
        return out


def _style(
    rng: np.random.Generator,
    shape: tuple[int, int],
    modality: str = "nuclear",
    diameters: tuple[float, float] = DIAMETERS,
):
    import sam2_synthetic as syn

    style = syn.random_style(rng, modality=modality, shape=shape)
    d = math.exp(rng.uniform(math.log(diameters[0]), math.log(diameters[1])))
    return dataclasses.replace(style, diameter=d)


def generated_field(
    seed: tuple[int, ...],
    modality: str = "nuclear",
    shape: tuple[int, int] = (512, 512),
    diameters: tuple[float, float] = DIAMETERS,
):
    """A generated field (``image``, ``labels``) of one ``modality`` ("nuclear",
    "cytoplasm" or "phase") with a random look and objects of a diameter drawn
    log-uniformly from ``diameters`` (pixels); ``seed`` decides everything."""
    import sam2_synthetic as syn

    style = _style(np.random.default_rng(list(seed)), shape, modality, diameters)
    return syn.microscopy_image(shape, seed=seed, style=style)


def held_out_field(index: int, shape: tuple[int, int] = (512, 512)):
    """A held-out nuclear field (``image``, ``labels``) with nuclei of 10-40 px."""
    return generated_field((HELD_OUT_SEED, 1, index), "nuclear", shape)


def held_out_cell_field(index: int, shape: tuple[int, int] = (512, 512)):
    """A held-out field of whole cells (cytoplasm stain or phase contrast, alternately)
    with cells of 10-40 px."""
    modality = ("cytoplasm", "phase")[index % 2]
    return generated_field((HELD_OUT_SEED, 3, index), modality, shape)


def _interior_point(mask: np.ndarray) -> tuple[float, float]:
    """(x, y) of the most interior pixel of a mask."""
    dist = ndi.distance_transform_edt(mask)
    r, c = np.unravel_index(int(np.argmax(dist)), mask.shape)
    return float(c), float(r)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def _objects(labels: np.ndarray, min_area: int = 30) -> Iterator[tuple[int, np.ndarray]]:
    for value in np.unique(labels[labels > 0]):
        mask = labels == value
        if mask.sum() >= min_area:
            yield int(value), mask


def prompt_ious(
    model, fields: Iterable[tuple[np.ndarray, np.ndarray]]
) -> tuple[list[float], list[float]]:
    """IoU of each object with the mask from one interior click, and from its box.

    Parameters
    ----------
    model
        A ``sam2_engine`` model (windows are used when it recommends them).
    fields
        ``(image, labels)`` pairs: (H, W[, C]) images and their (H, W) instance labels.

    Returns
    -------
    clicks, boxes
        One IoU per object of at least 30 pixels, in the order met.
    """
    import sam2_engine as se

    clicks, boxes = [], []
    pred = se.ImagePredictor(model)
    for image, labels in fields:
        pred.set_image(image)
        for _, mask in _objects(labels):
            x, y = _interior_point(mask)
            res = pred.predict(points=[[x, y]], labels=[1])
            clicks.append(_iou(res.mask, mask))
            box = se.masks_to_boxes(mask, inclusive=False).tolist()
            res = pred.predict(box=box, multimask=False)
            boxes.append(_iou(res.mask, mask))
    return clicks, boxes


def _tracking_ious(model, n_movies: int, n_frames: int = 30) -> list[float]:
    import sam2_engine as se
    import sam2_synthetic as syn

    out = []
    for i in range(n_movies):
        rng = np.random.default_rng([HELD_OUT_SEED, 2, i])
        movie = syn.microscopy_timelapse(
            n_frames, (256, 256), seed=(HELD_OUT_SEED, 2, i), style=_style(rng, (256, 256))
        )
        mothers = {t.parent for t in movie.tracks}
        whole = [
            t.label
            for t in movie.tracks
            if t.begin == 0 and t.end == n_frames - 1 and t.label not in mothers
        ][:3]
        for label in whole:
            mask0 = movie.labels[0] == label
            if mask0.sum() < 30:
                continue
            x, y = _interior_point(mask0)
            session = se.VideoPredictor(model).start(movie.movie)
            session.add_points(0, 1, [[x, y]], [1])
            ious = [
                _iou(r.mask_of(1), movie.labels[r.frame] == label)
                for r in session.propagate(start=0, direction="forward")
            ]
            out.append(float(np.mean(ious)))
    return out


def _zstack_ious(model, n_stacks: int) -> list[float]:
    import sam2_engine as se
    import sam2_synthetic as syn

    out = []
    for i in range(n_stacks):
        volume = syn.microscopy_zstack(24, (192, 192), seed=(HELD_OUT_SEED, 3, i))
        values = [v for v in np.unique(volume.labels) if v][:3]
        for value in values:
            gt = volume.labels == value
            areas = gt.sum(axis=(1, 2))
            z = int(np.argmax(areas))
            if areas[z] < 30:
                continue
            x, y = _interior_point(gt[z])
            session = se.VideoPredictor(model, axis="z").start(volume.image)  # the z profile
            session.add_points(z, 1, [[x, y]], [1])
            pred = np.zeros_like(gt)
            for r in session.propagate(start=z, direction="both"):
                pred[r.frame] = r.mask_of(1)
            out.append(_iou(pred, gt))
    return out


def _automatic_f1(model, n_images: int, cells: bool = False) -> list[float]:
    import sam2_engine as se

    out = []
    if se.has_instance_head(model):  # what the plugin runs for such a model
        segment = se.InstanceSegmenter(model).segment  # the object size estimated per image
    else:
        segment = se.AutomaticMaskGenerator(
            model, se.MaskGeneratorSettings.for_model(model)
        ).generate_labels
    for i in range(n_images):
        data = held_out_cell_field(i) if cells else held_out_field(1000 + i)
        found = segment(data.image)
        out.append(object_f1(np.asarray(found), data.labels))
    return out


def _seconds_512(model, repeats: int = 5) -> float:
    import sam2_engine as se

    data = held_out_field(5000)
    _, mask = next(_objects(data.labels))
    x, y = _interior_point(mask)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        pred = se.ImagePredictor(model)
        pred.set_image(data.image)
        pred.predict(points=[[x, y]], labels=[1])
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def measure_quality(
    model,
    images: int = 6,
    movies: int = 4,
    stacks: int = 4,
    fields: int = 3,
) -> QualityReport:
    """Measure a model on held-out generated data (see the module docstring)."""
    held_out = (held_out_field(i) for i in range(images))
    clicks, boxes = prompt_ious(model, ((d.image, d.labels) for d in held_out))
    tracking = _tracking_ious(model, movies)
    zstack = _zstack_ious(model, stacks)
    f1 = _automatic_f1(model, fields)
    f1_cells = _automatic_f1(model, fields, cells=True)
    return QualityReport(
        one_click_iou=float(np.mean(clicks)),
        box_iou=float(np.mean(boxes)),
        tracking_iou=float(np.mean(tracking)) if tracking else 0.0,
        zstack_iou=float(np.mean(zstack)) if zstack else 0.0,
        automatic_f1=float(np.mean(f1)),
        automatic_f1_cells=float(np.mean(f1_cells)),
        seconds_512=_seconds_512(model),
        counts={
            "objects": len(clicks),
            "tracked": len(tracking),
            "volumes": len(zstack),
            "fields": len(f1),
            "cell_fields": len(f1_cells),
        },
    )
