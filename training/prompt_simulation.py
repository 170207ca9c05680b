"""Simulated user prompts for training and validation.

SAM 2 learns interactive segmentation from prompts generated out of the ground truth:
a click or a box on the first (conditioning) frame, or the mask itself, followed by
correction clicks placed where the current prediction is wrong. This module holds
those generators and the per-sample :class:`PromptPlan` (which prompt kind, which
frames are conditioning frames, which frames get correction clicks).

Conventions: masks are boolean tensors ``(B, 1, S, S)`` at the model input size,
points are ``(x, y)`` = (column, row) pixel indices of that S x S grid, labels follow
the SAM convention (1 positive, 0 negative, 2 / 3 box top-left / bottom-right corner).
All randomness comes from an explicit ``torch.Generator`` (tensors) or
``numpy.random.Generator`` (choices), so that a sample's prompts depend only on its seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from scipy import ndimage as ndi

from sam2_engine import masks_to_boxes
from sam2_engine.training_hooks import PromptLabel
from sam2_training.config import PromptConfig

PromptKind = Literal["point", "box", "mask"]


def _check_masks(masks: torch.Tensor, name: str) -> None:
    if masks.ndim != 4 or masks.shape[1] != 1 or masks.dtype != torch.bool:
        raise ValueError(
            f"{name} must be a boolean tensor of shape (B, 1, H, W); got dtype "
            f"{masks.dtype} and shape {tuple(masks.shape)}"
        )


def _pick_pixels(
    weights: torch.Tensor, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """One uniformly random pixel among the non-zero pixels of each (H, W) map.

    Parameters
    ----------
    weights
        (B, C, H, W) bool; row b draws among all True pixels of its C channels.

    Returns
    -------
    channel : (B,) int64 index of the channel the pixel was drawn from
    xy : (B, 2) float32 (x, y) pixel of the draw; rows without any True pixel get the
        channel and pixel of the maximum of pure noise, i.e. an arbitrary pixel.
    """
    h, w = weights.shape[-2:]
    noise = torch.rand(weights.shape, generator=generator, dtype=torch.float32)
    noise = noise.to(weights.device) * weights
    flat = noise.flatten(1).argmax(dim=1)
    channel = flat // (h * w)
    pixel = flat % (h * w)
    xy = torch.stack([pixel % w, pixel // w], dim=1).to(torch.float32)
    return channel, xy


def points_from_errors(
    gt: torch.Tensor,
    pred: torch.Tensor | None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One correction click per object, uniformly drawn from the error region.

    A click in the false-negative region (object pixel predicted as background) is
    positive, one in the false-positive region is negative; the draw is uniform over
    the union of both regions. Where the prediction is already perfect, a negative
    click is drawn from the background. With ``pred=None`` the prediction counts as
    empty, so the click is a uniformly drawn positive point inside the object.

    Parameters
    ----------
    gt
        (B, 1, H, W) bool ground-truth masks.
    pred
        (B, 1, H, W) bool predicted masks, or None.
    generator
        Source of randomness (CPU generator); None uses torch's global one.

    Returns
    -------
    points : (B, 1, 2) float32 (x, y) pixels
    labels : (B, 1) int32, 1 positive or 0 negative
    """
    _check_masks(gt, "gt")
    if pred is None:
        pred = torch.zeros_like(gt)
    _check_masks(pred, "pred")
    false_pos = pred & ~gt
    false_neg = gt & ~pred
    perfect = ~(false_pos | false_neg).flatten(1).any(dim=1)
    negatives = false_pos | (perfect[:, None, None, None] & ~gt)
    channel, xy = _pick_pixels(torch.cat([negatives, false_neg], dim=1), generator)
    labels = channel.to(torch.int32)  # channel 0: negative click, channel 1: positive click
    return xy.unsqueeze(1), labels.unsqueeze(1)


def points_at_error_centres(
    gt: torch.Tensor, pred: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """One deterministic click per object: the error pixel farthest from the error's border.

    This is the evaluation protocol of SAM (and of interactive-segmentation benchmarks):
    the largest of the false-negative and false-positive regions, measured by the
    Euclidean distance to its boundary, receives the click (positive for a false
    negative, negative for a false positive). With ``pred=None`` it is the centre-most
    pixel of the object, as a user would click.

    Parameters
    ----------
    gt, pred
        (B, 1, H, W) bool ground truth and prediction (None: empty prediction).

    Returns
    -------
    points : (B, 1, 2) float32 (x, y) pixels
    labels : (B, 1) int32
    """
    _check_masks(gt, "gt")
    if pred is None:
        pred = torch.zeros_like(gt)
    _check_masks(pred, "pred")
    gt_np = gt[:, 0].cpu().numpy()
    pred_np = pred[:, 0].cpu().numpy()
    points = torch.zeros(gt.shape[0], 1, 2, dtype=torch.float32)
    labels = torch.ones(gt.shape[0], 1, dtype=torch.int32)
    for i, (g, p) in enumerate(zip(gt_np, pred_np, strict=True)):
        # padding by one pixel makes the image border count as a region border
        fn = ndi.distance_transform_edt(np.pad(g & ~p, 1))[1:-1, 1:-1]
        fp = ndi.distance_transform_edt(np.pad(p & ~g, 1))[1:-1, 1:-1]
        fn_best, fp_best = int(fn.argmax()), int(fp.argmax())
        positive = fn.flat[fn_best] > fp.flat[fp_best]
        best = fn_best if positive else fp_best
        row, col = divmod(best, g.shape[1])
        points[i, 0] = torch.tensor([col, row], dtype=torch.float32)
        labels[i, 0] = int(positive)
    return points.to(gt.device), labels.to(gt.device)


def noisy_boxes(
    masks: torch.Tensor,
    noise: float = 0.1,
    max_noise: float = 20.0,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Box prompts from masks, each corner jittered as a user would draw it.

    Every coordinate moves by a uniform amount in ``[-d, d]`` where ``d`` is ``noise``
    times the box width (x) or height (y), capped at ``max_noise`` pixels; the result
    is clipped to the image.

    Parameters
    ----------
    masks
        (B, 1, H, W) bool.
    noise
        Jitter as a fraction of the box side (SAM uses 0.1).
    max_noise
        Largest jitter in pixels (SAM uses 20 at 1024 px).
    generator
        Source of randomness.

    Returns
    -------
    points : (B, 2, 2) float32 corners ``[[x0, y0], [x1, y1]]``
    labels : (B, 2) int32, ``[2, 3]`` (top-left, bottom-right)
    """
    _check_masks(masks, "masks")
    boxes = masks_to_boxes(masks[:, 0]).to(torch.float32)  # (B, 4), inclusive corners
    b = boxes.shape[0]
    h, w = masks.shape[-2:]
    if noise > 0:
        width = boxes[:, 2] - boxes[:, 0]
        height = boxes[:, 3] - boxes[:, 1]
        dx = torch.clamp(width * noise, max=max_noise)
        dy = torch.clamp(height * noise, max=max_noise)
        jitter = torch.rand(b, 4, generator=generator).to(boxes.device) * 2 - 1
        boxes = boxes + jitter * torch.stack([dx, dy, dx, dy], dim=1)
        upper = torch.tensor([w - 1, h - 1, w - 1, h - 1], dtype=boxes.dtype, device=boxes.device)
        boxes = torch.minimum(boxes.clamp(min=0), upper)
    labels = torch.tensor(
        [PromptLabel.BOX_TOP_LEFT, PromptLabel.BOX_BOTTOM_RIGHT], dtype=torch.int32
    )
    return boxes.reshape(b, 2, 2), labels.to(boxes.device).expand(b, 2).contiguous()


@dataclass
class PromptPlan:
    """How one training clip is prompted.

    Attributes
    ----------
    kind
        ``"point"`` (one click from the ground truth), ``"box"`` (a noisy box) or
        ``"mask"`` (the ground-truth mask itself) on every initial conditioning frame.
    init_cond_frames
        Frames (indices into the clip) prompted before tracking; always starts with 0.
    correction_frames
        Frames that receive ``num_corrections`` correction clicks (point and box plans
        only); they become conditioning frames once corrected.
    num_corrections
        Correction clicks per corrected frame.
    from_gt
        One flag per (corrected frame, click): draw that click from the ground truth
        instead of the error region.
    num_frames
        Frames in the clip.
    """

    kind: PromptKind
    init_cond_frames: list[int]
    correction_frames: list[int] = field(default_factory=list)
    num_corrections: int = 0
    from_gt: list[list[bool]] = field(default_factory=list)
    num_frames: int = 1

    @property
    def processing_order(self) -> list[int]:
        """Initial conditioning frames first, then the others in time order."""
        return list(self.init_cond_frames) + [
            t for t in range(self.num_frames) if t not in self.init_cond_frames
        ]


def draw_plan(num_frames: int, cfg: PromptConfig, rng: np.random.Generator) -> PromptPlan:
    """Draw the prompting of one training clip, as SAM 2 does.

    A clip of one frame is always prompted with a click or a box (a still image has no
    use for a mask prompt). Longer clips use clicks/boxes with probability
    ``cfg.prob_point_input`` and the mask otherwise; 1 to ``cfg.max_init_cond_frames``
    frames are prompted up front (the first one always), and with clicks/boxes between
    that many and ``cfg.max_frames_to_correct`` frames receive correction clicks.

    Parameters
    ----------
    num_frames
        Frames in the clip (T >= 1).
    cfg
        Prompt-simulation settings.
    rng
        The sample's random generator.
    """
    if num_frames < 1:
        raise ValueError(f"a clip needs at least one frame, got num_frames={num_frames}")
    use_points = num_frames == 1 or rng.random() < cfg.prob_point_input
    n_init = 1
    if num_frames > 1 and cfg.max_init_cond_frames > 1:
        n_init = int(rng.integers(1, min(cfg.max_init_cond_frames, num_frames), endpoint=True))
    init = [0]
    if n_init > 1:
        init += sorted(rng.choice(np.arange(1, num_frames), n_init - 1, replace=False).tolist())
    if not use_points:
        return PromptPlan("mask", init, num_frames=num_frames)
    kind: PromptKind = "box" if rng.random() < cfg.prob_box_input else "point"
    n_correct = n_init
    upper = min(cfg.max_frames_to_correct, num_frames)
    if upper > n_init:
        n_correct = int(rng.integers(n_init, upper, endpoint=True))
    rest = [t for t in range(num_frames) if t not in init]
    extra = rng.choice(rest, n_correct - n_init, replace=False).tolist() if rest else []
    correct = init + sorted(extra[: n_correct - n_init])
    if cfg.num_correction_points <= 0:
        correct = []
    from_gt = [
        [bool(rng.random() < cfg.prob_correction_from_gt) for _ in range(cfg.num_correction_points)]
        for _ in correct
    ]
    return PromptPlan(
        kind, init, correct, max(cfg.num_correction_points, 0), from_gt, num_frames=num_frames
    )
