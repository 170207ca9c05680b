"""Training losses of SAM 2: focal + dice on masks, IoU prediction, object presence.

Every prediction step (the first prompt of a frame, each correction click, each tracked
frame) contributes. For a step that returns several candidate masks, the focal and dice
losses are taken from the candidate that matches the ground truth best (lowest
``w_mask * focal + w_dice * dice``), so the other candidates are free to cover other
plausible interpretations of an ambiguous click. Mask, dice and IoU losses count only
for objects present in the frame; the presence score is trained on every object.

Normalisation follows SAM 2: focal loss is averaged over pixels, dice uses +1
smoothing, and every per-object term is divided by ``num_objects`` (the number of
objects in the batch per process), then summed over objects, frames and steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from sam2_training.config import LossConfig


def sigmoid_focal_loss(
    logits: torch.Tensor, targets: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0
) -> torch.Tensor:
    """Focal loss per mask, averaged over pixels.

    Parameters
    ----------
    logits, targets
        (B, M, H, W) mask logits and {0, 1} float targets of the same shape.
    alpha
        Weight of positive pixels (``1 - alpha`` for negatives); a negative value
        disables the weighting.
    gamma
        Focusing exponent; 0 gives plain binary cross-entropy.

    Returns
    -------
    (B, M) loss of each mask.
    """
    prob = logits.sigmoid()
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_true = prob * targets + (1 - prob) * (1 - targets)
    loss = bce * (1 - p_true) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss.flatten(2).mean(-1)


def dice_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """``1 - (2 |P ∩ G| + 1) / (|P| + |G| + 1)`` with soft P = sigmoid(logits).

    Parameters
    ----------
    logits, targets
        (B, M, H, W) mask logits and {0, 1} float targets.

    Returns
    -------
    (B, M) loss of each mask.
    """
    prob = logits.sigmoid().flatten(2)
    tgt = targets.flatten(2)
    overlap = 2 * (prob * tgt).sum(-1)
    total = prob.sum(-1) + tgt.sum(-1)
    return 1 - (overlap + 1) / (total + 1)


def mask_iou(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """IoU of the binarised masks ``logits > 0`` with the targets, (B, M, H, W) -> (B, M).

    An empty union gives 0 (as SAM 2 computes the IoU target).
    """
    pred = logits.flatten(2) > 0
    gt = targets.flatten(2) > 0
    inter = (pred & gt).sum(-1).float()
    union = (pred | gt).sum(-1).float()
    return inter / union.clamp(min=1.0)


def iou_prediction_loss(
    pred_iou: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor, l1: bool = True
) -> torch.Tensor:
    """Error of the predicted IoU against the real IoU of each mask, (B, M).

    The real IoU is a target (no gradient flows through it); L1 as in SAM 2.1 or MSE.
    """
    real = mask_iou(logits, targets).to(pred_iou.dtype)
    if l1:
        return F.l1_loss(pred_iou, real, reduction="none")
    return F.mse_loss(pred_iou, real, reduction="none")


def object_score_loss(score_logits: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the presence logit, (B, 1) logits and {0, 1} -> (B,)."""
    return F.binary_cross_entropy_with_logits(
        score_logits.float(), present.float(), reduction="none"
    ).mean(-1)


@dataclass
class LossTerms:
    """Loss components, summed over objects / frames / steps and already normalised.

    ``total`` is the weighted sum that is back-propagated.
    """

    mask: torch.Tensor
    dice: torch.Tensor
    iou: torch.Tensor
    object: torch.Tensor
    total: torch.Tensor

    @classmethod
    def zeros(cls, device: torch.device | str = "cpu") -> LossTerms:
        z = torch.zeros((), device=device)
        return cls(z, z, z, z, z)

    def __add__(self, other: LossTerms) -> LossTerms:
        return LossTerms(
            self.mask + other.mask,
            self.dice + other.dice,
            self.iou + other.iou,
            self.object + other.object,
            self.total + other.total,
        )

    def components(self) -> torch.Tensor:
        """(4,) detached [mask, dice, iou, object], for logging."""
        return torch.stack([self.mask, self.dice, self.iou, self.object]).detach().float()


def best_candidate(focal: torch.Tensor, dice: torch.Tensor, cfg: LossConfig) -> torch.Tensor:
    """Index of the candidate mask with the lowest weighted focal + dice loss, (B, M) -> (B,)."""
    return torch.argmin(focal * cfg.mask + dice * cfg.dice, dim=-1)


def step_loss(
    multi_logits: torch.Tensor,
    pred_iou: torch.Tensor,
    object_score: torch.Tensor,
    targets: torch.Tensor,
    num_objects: float,
    cfg: LossConfig,
) -> LossTerms:
    """Losses of one prediction step for B objects.

    Parameters
    ----------
    multi_logits
        (B, M, H, W) candidate mask logits at the resolution of ``targets``.
    pred_iou
        (B, M) predicted IoU of each candidate.
    object_score
        (B, 1) object-presence logits.
    targets
        (B, 1, H, W) bool or {0, 1} ground truth.
    num_objects
        Normaliser (objects per process in the batch, at least 1).
    cfg
        Weights and options.

    Returns
    -------
    LossTerms
        Each term summed over the B objects and divided by ``num_objects``.
    """
    logits = multi_logits.float()
    tgt = targets.to(logits.dtype).expand_as(logits)
    focal = sigmoid_focal_loss(logits, tgt, cfg.focal_alpha, cfg.focal_gamma)
    dice = dice_loss(logits, tgt)
    iou = iou_prediction_loss(pred_iou.float(), logits, tgt, cfg.iou_l1)
    present = targets.flatten(1).any(dim=1).to(logits.dtype)  # (B,)
    if logits.shape[1] > 1:
        best = best_candidate(focal, dice, cfg)
        rows = torch.arange(logits.shape[0], device=logits.device)
        focal, dice = focal[rows, best], dice[rows, best]
        iou = iou.mean(-1) if cfg.supervise_all_iou else iou[rows, best]
    else:
        focal, dice, iou = focal[:, 0], dice[:, 0], iou[:, 0]
    obj = object_score_loss(object_score, present[:, None])
    terms = [
        (focal * present).sum() / num_objects,
        (dice * present).sum() / num_objects,
        (iou * present).sum() / num_objects,
        obj.sum() / num_objects,
    ]
    total = cfg.mask * terms[0] + cfg.dice * terms[1] + cfg.iou * terms[2] + cfg.object * terms[3]
    return LossTerms(*terms, total)
