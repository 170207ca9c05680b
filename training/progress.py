"""What a running fine-tuning reports to its caller (a napari widget, a CLI, a notebook)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sam2_training.validation import ValidationMetrics

Phase = Literal["train", "validate", "done", "cancelled"]


@dataclass(frozen=True)
class LossComponents:
    """Unweighted loss terms of a step (already normalised by the number of objects).

    ``total`` = ``20 * mask + 1 * dice + 1 * iou + 1 * object`` with the default weights.
    """

    mask: float
    dice: float
    iou: float
    object: float
    total: float


@dataclass(frozen=True)
class TrainingProgress:
    """One report, sent after every optimizer step and after every validation.

    Attributes
    ----------
    step, max_steps
        Optimizer steps done and planned.
    epoch
        Current epoch (0-based).
    loss
        The step's total loss (mean over processes), or None before the first step.
    components
        Its terms.
    lr
        Peak-rate group's current learning rate (``optim.lr`` times the schedule).
    steps_per_second
        Training speed over the recent steps.
    validation
        The latest validation metrics, if any validation ran yet.
    phase
        ``"train"``, ``"validate"`` (the report follows a validation), ``"done"`` or
        ``"cancelled"`` (the last report of a run).
    checkpoint
        Path of the latest written weights file, if any.
    """

    step: int
    max_steps: int
    epoch: int
    loss: float | None
    components: LossComponents | None
    lr: float
    steps_per_second: float
    validation: ValidationMetrics | None = None
    phase: Phase = "train"
    checkpoint: str | None = None

    @property
    def fraction(self) -> float:
        """Share of the run done, in [0, 1]."""
        return min(self.step / max(self.max_steps, 1), 1.0)
