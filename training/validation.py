"""Validation metrics: one-click IoU on images and mask-propagation IoU on clips.

* **One click** (interactive segmentation, as SAM is evaluated): every object of a
  sample's first frame gets one positive click at its centre-most pixel (the pixel
  farthest from its border); the model answers with its best-scored candidate mask.
* **Tracking** (semi-supervised video object segmentation, as SAM 2 is evaluated): the
  ground-truth mask of each object on a clip's first frame is the prompt; the model
  tracks it through the clip with its memory; frames after the first are scored.

* **Everything** (models with an instance head): whole-field tiles of the validation
  frames at the head's scale; the head's objects (seeded watershed) are matched to the
  true ones: F1 at IoU 0.5.

IoU is computed at the model's input size (S x S). A frame where the object is absent
and predicted absent scores 1.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from sam2_engine import SAM2Model
from sam2_training.config import PromptConfig
from sam2_training.datasets import ClipDataset
from sam2_training.instance_task import FieldTiles
from sam2_training.object_match import object_f1
from sam2_training.prompt_simulation import PromptPlan
from sam2_training.rollout import encode_frames, run_clip


@dataclass(frozen=True)
class ValidationMetrics:
    """Mean IoU values of one validation pass (None where no sample allowed the metric).

    Attributes
    ----------
    one_click_iou
        Mean IoU of one-click predictions on first frames.
    tracking_iou
        Mean IoU of propagated masks on later frames of clips.
    num_samples, num_objects
        What was evaluated.
    """

    one_click_iou: float | None
    tracking_iou: float | None
    num_samples: int
    num_objects: int
    instance_f1: float | None = None

    @property
    def score(self) -> float:
        """The number a run maximises: the mean of the available metrics (0 if none)."""
        metrics = (self.one_click_iou, self.tracking_iou, self.instance_f1)
        values = [v for v in metrics if v is not None]
        return sum(values) / len(values) if values else 0.0

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "val_one_click_iou": self.one_click_iou,
            "val_tracking_iou": self.tracking_iou,
            "val_instance_f1": self.instance_f1,
            "val_score": self.score,
            "val_samples": self.num_samples,
            "val_objects": self.num_objects,
        }


def binary_iou(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """IoU of boolean masks over the last two axes, (..., H, W) -> (...); empty union: 1."""
    inter = (pred & gt).flatten(-2).sum(-1).float()
    union = (pred | gt).flatten(-2).sum(-1).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))


@torch.no_grad()
def evaluate(
    model: SAM2Model,
    dataset: ClipDataset,
    *,
    max_samples: int | None = None,
    autocast_dtype: torch.dtype | None = None,
    fields: FieldTiles | None = None,
    field_batches: int = 4,
) -> ValidationMetrics:
    """Validation metrics of ``model`` on ``dataset`` (deterministic; leaves eval mode on).

    Parameters
    ----------
    model
        The model to score.
    dataset
        Samples to score (normally built with ``train=False``).
    max_samples
        Score at most this many samples, evenly spread over the dataset.
    autocast_dtype
        Run under autocast with this dtype (e.g. bfloat16 on CUDA).
    fields
        Validation field tiles for the instance head (None: not measured).
    field_batches
        Batches of ``fields`` scored (the same ones at every validation).
    """
    model.eval()
    device = model.device
    n = len(dataset)
    count = n if max_samples is None else min(n, max_samples)
    indices = sorted({round(i * (n - 1) / max(count - 1, 1)) for i in range(count)})
    click_scores: list[torch.Tensor] = []
    track_scores: list[torch.Tensor] = []
    num_objects = 0
    no_prompts = PromptConfig()
    cast = (
        torch.autocast(device.type, dtype=autocast_dtype)
        if autocast_dtype is not None
        else contextlib.nullcontext()
    )
    with cast:
        for index in indices:
            sample = dataset[index].to(device)
            masks = sample.masks
            num_objects += masks.shape[0]
            feats = encode_frames(model, sample.images, encoder_grad=False)
            generator = torch.Generator().manual_seed(sample.seed)
            click = run_clip(
                model,
                sample.images[:1],
                masks[:, :1],
                PromptPlan("point", [0], num_frames=1),
                no_prompts,
                generator,
                training=False,
                features=feats.select(0),
            )[0]
            pred = model.upsample_logits(click.logits)[:, 0] > 0
            click_scores.append(binary_iou(pred, masks[:, 0]).cpu())
            if sample.images.shape[0] > 1:
                tracked = run_clip(
                    model,
                    sample.images,
                    masks,
                    PromptPlan("mask", [0], num_frames=sample.images.shape[0]),
                    no_prompts,
                    generator,
                    training=False,
                    features=feats,
                )
                for frame in tracked[1:]:
                    pred = model.upsample_logits(frame.logits)[:, 0] > 0
                    track_scores.append(binary_iou(pred, masks[:, frame.frame]).cpu())
        f1 = None if fields is None else _instance_f1(model, fields, field_batches)
    click = torch.cat(click_scores).mean().item() if click_scores else None
    track = torch.cat(track_scores).mean().item() if track_scores else None
    return ValidationMetrics(click, track, len(indices), num_objects, f1)


def _instance_f1(model: SAM2Model, fields: FieldTiles, batches: int) -> float:
    """Mean object F1 of the instance head on ``batches`` batches of field tiles."""
    from sam2_engine import InstanceSegmenter

    segmenter = InstanceSegmenter(model)
    diameter = segmenter.head_diameter
    scores = []
    for step in range(batches):
        images, truth = fields.tiles(step)
        maps = model.instance_maps(images.to(model.device)).float().sigmoid().cpu().numpy()
        for (fg, dist), labels in zip(maps, truth, strict=True):
            found = segmenter.labels_from_maps(fg, dist, diameter)
            scores.append(object_f1(found, labels))
    return float(sum(scores) / len(scores))
