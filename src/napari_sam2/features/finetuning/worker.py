"""The fine-tuning run itself: a checked plan in, a registered model out (worker thread)."""

from __future__ import annotations

import queue
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from napari_sam2.core.jobs import JobContext
from napari_sam2.features.finetuning.data import DataSummary


@dataclass(frozen=True)
class TrainingPlan:
    """A checked run, ready to start: data, config, name and output file."""

    summary: DataSummary
    config: Any  # sam2_training.TrainConfig, with trainer.max_steps set
    name: str
    output: Path  # <folder>/<name>.pt; the run folder is <folder>/<name>_run
    epochs: int

    @property
    def max_steps(self) -> int:
        return int(self.config.trainer.max_steps)


@dataclass(frozen=True)
class FinetuneOutcome:
    """A finished (or cancelled) run; its model is registered under ``name`` unless
    ``register_error`` says why not (the file is there either way)."""

    name: str
    checkpoint: Path
    run_folder: Path
    steps: int
    cancelled: bool
    best_checkpoint: Path | None = None
    register_error: str | None = None  # why the name could not be registered, if so


@dataclass
class RunSlot:
    """Written by the worker, read on the GUI thread once the worker finished."""

    outcome: FinetuneOutcome | None = None


def train(plan: TrainingPlan, reports: queue.SimpleQueue, slot: RunSlot, ctx: JobContext) -> None:
    """The worker: fine-tune, then register the model (cancelled runs too)."""
    import sam2_training
    from sam2_engine import register_model

    def progress(report: Any) -> None:
        reports.put(report)
        ctx.report(report.step, report.max_steps)

    arrays = plan.summary.arrays
    result = sam2_training.finetune(
        arrays.images,
        arrays.labels,
        plan.config.model.base,
        plan.output,
        config=plan.config,
        progress=progress,
        cancel=lambda: ctx.cancelled,
        return_result=True,
    )
    problem = None
    try:
        register_model(plan.name, result.checkpoint)
    except (OSError, ValueError) as err:  # e.g. an unwritable cache folder: keep the file
        problem = str(err)
    slot.outcome = FinetuneOutcome(
        plan.name,
        Path(result.checkpoint),
        Path(result.run_folder),
        int(result.steps),
        bool(result.cancelled),
        result.best_checkpoint,
        problem,
    )
