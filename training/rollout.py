"""The training-time forward pass: prompt a clip, track it, collect every prediction.

For one sample (a clip of T frames with K objects) :func:`run_clip`

1. encodes the T frames (without gradients when the image encoder is frozen);
2. decodes the initial conditioning frames from their prompts (a click, a box, or the
   ground-truth mask used directly as the prediction), without memory;
3. tracks the other frames in time order, each conditioned by memory attention on the
   conditioning frames and the previous ``num_maskmem - 1`` frames and on object
   pointers, exactly as the video predictor does;
4. on the frames chosen for corrections, adds clicks one by one, each drawn from the
   error region of the current prediction and decoded together with the previous
   logits as a mask prompt (the SAM 2 interactive loop); corrected frames become
   conditioning frames;
5. encodes each frame's final prediction into a memory for the frames after it.

All K objects of a clip are decoded as one batch. Gradients flow through the whole
chain, memories and object pointers included, so the memory path is trained.
:class:`TrainingModule` wraps this with the losses in an ``nn.Module`` whose forward
takes a list of samples, so that DistributedDataParallel sees one forward per step.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch
import torch.nn.functional as F
import torch.utils.checkpoint
from torch import nn

from sam2_engine import ImageFeatures, SAM2Model
from sam2_engine.training_hooks import (
    FrameOutput,
    ObjectMemory,
    select_memory,
    step_memory,
    track_step,
)
from sam2_training.config import LossConfig, PromptConfig
from sam2_training.instance_task import instance_loss
from sam2_training.losses import LossTerms, step_loss
from sam2_training.prompt_simulation import (
    PromptPlan,
    noisy_boxes,
    points_at_error_centres,
    points_from_errors,
)


@dataclass
class StepPrediction:
    """One decoder call for the K objects of a frame.

    Attributes
    ----------
    multi_logits
        (K, M, S/4, S/4) candidate mask logits, before the object-presence gating (the
        mask losses count only objects that are present, and a mask the presence head
        wrongly gates off must still teach the decoder; SAM 2's own recipe gates them,
        which from random weights stalls mask learning until the presence head learns).
    multi_iou
        (K, M) their predicted IoU.
    object_score
        (K, 1) object-presence logits.
    """

    multi_logits: torch.Tensor
    multi_iou: torch.Tensor
    object_score: torch.Tensor


@dataclass
class FramePrediction:
    """Every prediction step on one frame and the final mask logits.

    ``logits`` is (K, 1, S/4, S/4): the chosen mask after the last step.
    """

    frame: int
    steps: list[StepPrediction]
    logits: torch.Tensor


def encode_frames(model: SAM2Model, images: torch.Tensor, encoder_grad: bool) -> ImageFeatures:
    """Encode (T, 3, S, S) normalised frames (see ``SAM2Model.encode_image``)."""
    return model.encode_image(images, encoder_grad=encoder_grad)


def _object_memories(
    model: SAM2Model,
    frame: int,
    cond: dict[int, FrameOutput],
    recent: dict[int, FrameOutput],
    num_frames: int,
    past_pointers_only: bool,
) -> tuple[list[ObjectMemory], int]:
    """Per-object memories read on ``frame`` (the video predictor's selection rules).

    The bank's outputs hold the K objects of the clip along their first axis.
    """
    mem, max_offset = select_memory(
        cond,
        recent,
        frame,
        False,
        num_frames,
        model.cfg.tracking,
        only_past_pointers=past_pointers_only,
    )
    k = next(iter(cond.values())).obj_ptr.shape[0]
    per_object = [
        ObjectMemory(
            spatial=[(slot, feat[i]) for slot, feat in mem.spatial],
            pointers=[(off, ptr[i]) for off, ptr in mem.pointers],
        )
        for i in range(k)
    ]
    return per_object, max(max_offset, 1)


def _initial_prompt(
    plan: PromptPlan,
    gt: torch.Tensor,
    prompts: PromptConfig,
    generator: torch.Generator,
    center_click: bool,
    background: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Points and labels of the first prompt on an initial conditioning frame.

    ``background`` (K, 2) holds, for "no object" targets, the background pixel that is
    clicked (a positive click the model must answer with "nothing here"); NaN rows are
    ordinary objects.
    """
    if plan.kind == "box":
        return noisy_boxes(gt, prompts.box_noise, prompts.box_max_noise, generator)
    if center_click:
        points, labels = points_at_error_centres(gt, None)
    else:
        points, labels = points_from_errors(gt, None, generator)
    if background is not None:
        rows = ~torch.isnan(background[:, 0])
        points = points.clone()
        labels = labels.clone()
        points[rows, 0] = background[rows].to(points)
        labels[rows, 0] = 1
    return points, labels


def run_clip(
    model: SAM2Model,
    images: torch.Tensor,
    masks: torch.Tensor,
    plan: PromptPlan,
    prompts: PromptConfig,
    generator: torch.Generator,
    *,
    encoder_grad: bool = True,
    training: bool = True,
    features: ImageFeatures | None = None,
    background: torch.Tensor | None = None,
) -> list[FramePrediction]:
    """Prompt and track the K objects of one clip; return every frame's predictions.

    Parameters
    ----------
    model
        The SAM 2 model (its mode decides dropout; the caller sets it).
    images
        (T, 3, S, S) ImageNet-normalised frames.
    masks
        (K, T, S, S) bool ground truth (used for prompts and correction clicks).
    plan
        Which prompts, on which frames (see :func:`sam2_training.prompt_simulation.draw_plan`).
    prompts
        Box-noise settings.
    generator
        CPU generator for clicks and boxes (the sample's own, for reproducibility).
    encoder_grad
        Back-propagate into the image encoder.
    training
        Training rules (object pointers of later conditioning frames are read, memory
        masks are never binarised) or evaluation rules (the video predictor's).
    features
        Precomputed features of the T frames (skips the encoder).
    background
        (K, 2) background clicks of "no object" targets (see
        :attr:`~sam2_training.datasets.ClipSample.background_points`), or None.

    Returns
    -------
    list of FramePrediction
        One per frame, in time order.
    """
    num_frames = images.shape[0]
    if masks.ndim != 4 or masks.shape[1] != num_frames:
        raise ValueError(
            f"masks must be (K, T, S, S) with T={num_frames} frames; got {tuple(masks.shape)}"
        )
    k = masks.shape[0]
    feats = features if features is not None else encode_frames(model, images, encoder_grad)
    cond: dict[int, FrameOutput] = {}
    recent: dict[int, FrameOutput] = {}
    order = plan.processing_order
    corrected = set(plan.correction_frames)
    results: dict[int, FramePrediction] = {}

    for position, t in enumerate(order):
        frame_feats = feats.select(t).expand(k)
        gt = masks[:, t : t + 1]  # (K, 1, S, S)
        initial = t in plan.init_cond_frames
        points = labels = None
        memories, max_offset = None, 1
        if not initial:
            memories, max_offset = _object_memories(
                model, t, cond, recent, num_frames, past_pointers_only=not training
            )
        mask_prompt = initial and plan.kind == "mask"
        if initial and not mask_prompt:
            points, labels = _initial_prompt(plan, gt, prompts, generator, not training, background)
        # this frame's decoding; its memory is encoded once, after the corrections
        decode = partial(track_step, model, frame_feats, memories, encode_memory=False)
        step = decode(
            points=points,
            labels=labels,
            mask=gt.to(frame_feats.embed.dtype) if mask_prompt else None,
            max_ptr_offset=max_offset,
        )
        head = step.head
        steps = [StepPrediction(head.ungated_logits, head.multi_iou, head.object_score)]

        if t in corrected and step.embed is not None:
            flags = plan.from_gt[plan.correction_frames.index(t)]
            for j in range(plan.num_corrections):
                pred = None if flags[j] else model.upsample_logits(head.logits.detach()) > 0
                new_pts, new_lbl = points_from_errors(gt, pred, generator)
                points = new_pts if points is None else torch.cat([points, new_pts], dim=1)
                labels = new_lbl if labels is None else torch.cat([labels, new_lbl], dim=1)
                step = decode(
                    points=points, labels=labels, prev_logits=head.logits, embed=step.embed
                )
                head = step.head
                steps.append(StepPrediction(head.ungated_logits, head.multi_iou, head.object_score))

        results[t] = FramePrediction(t, steps, head.logits)
        if position < len(order) - 1:  # the last frame's memory would never be read
            # clicked frames are binarised before memory encoding in evaluation only
            binarize = (
                not training
                and points is not None
                and model.cfg.tracking.binarize_mask_from_pts_for_mem_enc
            )
            memory, _ = step_memory(model, frame_feats, head, binarize)
            entry = FrameOutput(head.logits, head.obj_ptr, head.object_score, head.iou, memory)
            if initial or t in corrected:
                cond[t] = entry
            else:
                recent[t] = entry
    return [results[t] for t in range(num_frames)]


def _full_resolution_loss(
    logits: torch.Tensor,
    pred_iou: torch.Tensor,
    object_score: torch.Tensor,
    gt: torch.Tensor,
    num_objects: float,
    cfg: LossConfig,
    size: int,
) -> tuple[torch.Tensor, ...]:
    """Upsample (K, M, s, s) logits to (size, size) and compute the step's loss terms."""
    k, m, h, w = logits.shape
    hi = F.interpolate(
        logits.reshape(k * m, 1, h, w).float(),
        size=(size, size),
        mode="bilinear",
        align_corners=False,
    )
    terms = step_loss(hi.reshape(k, m, size, size), pred_iou, object_score, gt, num_objects, cfg)
    return terms.mask, terms.dice, terms.iou, terms.object, terms.total


def clip_loss(
    model: SAM2Model,
    predictions: list[FramePrediction],
    masks: torch.Tensor,
    num_objects: float,
    cfg: LossConfig,
    checkpoint: bool = True,
) -> LossTerms:
    """Sum of :func:`~sam2_training.losses.step_loss` over every frame and step.

    Logits are upsampled to the model input size (S x S) before the loss, as SAM 2
    computes its losses at full resolution. With ``checkpoint`` (default) the
    full-resolution intermediates are not kept for the backward pass but recomputed
    (activation checkpointing): memory then grows with the low-resolution logits only,
    which matters at 1024 px with several frames and correction clicks (about 0.4 GB
    per prediction step otherwise). The values are the same either way.
    """
    total = LossTerms.zeros(masks.device)
    size = model.image_size
    for pred in predictions:
        gt = masks[:, pred.frame : pred.frame + 1]
        for step in pred.steps:
            args = (
                step.multi_logits,
                step.multi_iou,
                step.object_score,
                gt,
                num_objects,
                cfg,
                size,
            )
            needs_grad = torch.is_grad_enabled() and step.multi_logits.requires_grad
            if checkpoint and needs_grad:
                terms = torch.utils.checkpoint.checkpoint(
                    _full_resolution_loss, *args, use_reentrant=False
                )
            else:
                terms = _full_resolution_loss(*args)
            total = total + LossTerms(*terms)
    return total


class TrainingModule(nn.Module):
    """The model plus the prompt simulation and the losses, for one training step.

    Its ``forward`` takes the samples of a (per-process) batch and returns the loss,
    so that DistributedDataParallel can wrap it. Each sample is processed on its own
    with torch's random state forked and seeded from the sample's seed: dropout masks
    then depend only on the sample, not on which process or batch it landed in.

    Parameters
    ----------
    model
        The SAM 2 model being trained (``self.model``).
    prompts, loss
        Prompt-simulation and loss settings.
    """

    def __init__(self, model: SAM2Model, prompts: PromptConfig, loss: LossConfig) -> None:
        super().__init__()
        self.model = model
        self.prompts = prompts
        self.loss_cfg = loss

    @property
    def encoder_grad(self) -> bool:
        return any(p.requires_grad for p in self.model.image_encoder.parameters())

    def forward(
        self,
        samples: list,
        num_objects: float,
        fields: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
        instance_weight: float = 1.0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Total loss and its (5,) detached components [mask, dice, iou, object, instance].

        Parameters
        ----------
        samples
            :class:`~sam2_training.datasets.ClipSample` items, already on the device.
        num_objects
            Loss normaliser (objects per process in the global batch).
        fields
            Whole-field tiles for the instance head (see
            :class:`~sam2_training.instance_task.FieldTiles`), already on the device;
            None when the model has no head or the task is off.
        instance_weight
            Weight of the instance loss in the total.
        """
        device = self.model.device
        total = LossTerms.zeros(device)
        fork_devices = [device.index or 0] if device.type == "cuda" else []
        for sample in samples:
            with torch.random.fork_rng(devices=fork_devices, device_type=device.type):
                torch.manual_seed(sample.seed)
                generator = torch.Generator().manual_seed(sample.seed)
                preds = run_clip(
                    self.model,
                    sample.images,
                    sample.masks,
                    sample.plan,
                    self.prompts,
                    generator,
                    encoder_grad=self.encoder_grad,
                    training=True,
                    background=sample.background_points,
                )
                terms = clip_loss(self.model, preds, sample.masks, num_objects, self.loss_cfg)
                total = total + terms
        loss, components = total.total, total.components()
        head = torch.zeros((), device=device)
        if fields is not None:
            images, foreground, distance = fields
            head = instance_loss(self.model.instance_maps(images), foreground, distance)
            loss = loss + instance_weight * head
        return loss, torch.cat([components, head.detach().float().reshape(1)])
