"""What the fine-tuning widget shows of a run: plotted curves and progress text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class TrainingCurves:
    """The plotted series, filled on the GUI thread from progress reports."""

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    one_click: list[float | None] = field(default_factory=list)
    tracking: list[float | None] = field(default_factory=list)

    def add(self, report: Any) -> None:
        """Take one :class:`~sam2_training.progress.TrainingProgress`."""
        if report.phase == "train" and report.loss is not None:
            self.steps.append(int(report.step))
            self.loss.append(float(report.loss))
        elif report.phase == "validate" and report.validation is not None:
            self.val_steps.append(int(report.step))
            self.one_click.append(report.validation.one_click_iou)
            self.tracking.append(report.validation.tracking_iou)


def format_progress(report: Any, epochs: int | None = None) -> str:
    """One or two lines of text for a progress report (step, epoch, speed, loss, IoU)."""
    epoch = f"epoch {report.epoch + 1}" + (f" / {epochs}" if epochs else "")
    parts = [f"step {report.step} / {report.max_steps}", epoch]
    if report.steps_per_second > 0:
        left = (report.max_steps - report.step) / report.steps_per_second
        parts.append(f"{report.steps_per_second:.2f} steps/s")
        if report.phase in ("train", "validate") and left > 0:
            parts.append(f"about {_duration(left)} left")
    if report.loss is not None:
        parts.append(f"loss {report.loss:.4f}")
    head = {"done": "Finished: ", "cancelled": "Cancelled: "}.get(report.phase, "")
    text = head + " · ".join(parts)
    v = report.validation
    if v is not None:
        ious = [
            f"{label} IoU {value:.3f}"
            for label, value in (("one-click", v.one_click_iou), ("tracking", v.tracking_iou))
            if value is not None
        ]
        text += "\nvalidation: " + (", ".join(ious) or "no metric")
    return text


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
