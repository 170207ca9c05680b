"""Fine-tuning SAM 2 from napari: the Qt-free controller of the fine-tuning widget.

:class:`FinetuneController` turns pairs of layers (see :mod:`napari_sam2.features.finetuning.data`)
and a few settings (:class:`FinetuneSettings`) into one call of
:func:`sam2_training.finetune`, run as a :class:`~napari_sam2.core.jobs.Job` off the GUI
thread. Everything that can be wrong with the input is refused by
:meth:`FinetuneController.plan` *before* anything starts, with the training package's
own checks where they exist. When the run ends (finished, or cancelled: the loop still
writes usable weights) the model is registered by name
(``sam2_engine.register_model``) and announced through
:data:`napari_sam2.core.models.MODEL_LIST`, so that model lists refresh at once.

Threading: the training loop calls its progress callback in the worker thread; the
worker puts each :class:`~sam2_training.progress.TrainingProgress` in a queue and pokes
the runner's progress channel (``JobContext.report``), which the runner delivers on the
GUI thread; there the queue is drained in order and ``progressed`` is emitted.
Cancelling sets the job's flag, which the loop polls after every step.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from pathlib import Path
from typing import Any

from psygnal import Signal

from napari_sam2.core.jobs import Job, JobContext, JobHandle, Runner, SyncRunner
from napari_sam2.core.notify import notify
from napari_sam2.core.torch_guard import guard_triton_import
from napari_sam2.features.finetuning.checks import (
    check_base_model,
    check_name,
    check_output_folder,
)
from napari_sam2.features.finetuning.data import (
    DataSummary,
    LayerPair,
    TrainingArrays,
    collect_arrays,
    summarize,
)
from napari_sam2.features.finetuning.presets import (
    VALIDATIONS,
    FinetuneSettings,
    base_finetune_defaults,
    preset_for,
)
from napari_sam2.features.finetuning.progress_text import TrainingCurves
from napari_sam2.features.finetuning.worker import FinetuneOutcome, RunSlot, TrainingPlan, train

log = logging.getLogger(__name__)


class FinetuneController:
    """Layer pairs and settings in, a fine-tuned model registered by name out.

    Parameters
    ----------
    runner
        Where training runs (default inline: :class:`~napari_sam2.core.jobs.SyncRunner`; the
        widget passes a threaded ``QtRunner``).
    notify_fn
        ``notify_fn(level, message)`` for user-facing messages (default: napari
        notifications).
    settings
        Initial settings (default: :meth:`FinetuneSettings.for_device` of ``"auto"``).

    Notes
    -----
    Signals are emitted on the GUI thread: ``progressed(TrainingProgress)``,
    ``started(TrainingPlan)``, ``finished(FinetuneOutcome | None)`` (None after an error).
    """

    progressed = Signal(object)
    started = Signal(object)
    finished = Signal(object)

    def __init__(
        self,
        runner: Runner | None = None,
        notify_fn: Callable[[str, str], None] | None = None,
        settings: FinetuneSettings | None = None,
    ) -> None:
        self.runner: Runner = runner or SyncRunner()
        self._notify = notify_fn or notify
        self.settings = settings or FinetuneSettings.for_device("auto")
        self.pairs: list[LayerPair] = []
        self.curves = TrainingCurves()
        self.last: Any = None  # the latest TrainingProgress
        self.current: TrainingPlan | None = None
        self.outcome: FinetuneOutcome | None = None
        self._handle: JobHandle | None = None
        self._closed = False

    def notify(self, level: str, message: str) -> None:
        """Show a user-facing message ("info", "warning" or "error")."""
        self._notify(level, message)

    # ------------------------------------------------------------------ pairs
    def add_pair(self, pair: LayerPair) -> None:
        self.pairs.append(pair)

    def remove_pair(self, index: int) -> None:
        del self.pairs[index]

    def drop_layer(self, layer: Any) -> bool:
        """Forget pairs using ``layer`` (it was deleted); True if any was dropped."""
        kept = [p for p in self.pairs if p.image is not layer and p.labels is not layer]
        dropped = len(kept) != len(self.pairs)
        self.pairs = kept
        return dropped

    # ------------------------------------------------------------------ checks
    def config(self, arrays: TrainingArrays, output: Path | None = None) -> Any:
        """The run config (validated): the device's preset, then what the base model
        recommends for fine-tuning itself, then the tab's settings (the user's own win)."""
        from sam2_training import load_train_config

        s = self.settings
        recommended = base_finetune_defaults(str(s.base_model))
        if not s.lr > 0:
            raise ValueError(f"the learning rate must be a positive number, got {s.lr}")
        overrides = {
            **recommended,
            "model.base": str(s.base_model),
            "model.image_size": s.image_size,
            "optim.lr": float(s.lr),
            "trainer.freeze": list(s.freeze),
            "trainer.device": s.device,
            "data.channel_axis": arrays.channel_axis,
            **({} if output is None else {"output": str(output)}),
            **s.overrides,
        }
        return load_train_config(preset_for(s.device), overrides)

    def summary(self) -> DataSummary:
        """What the pairs give to train on (steps per epoch included).

        Raises
        ------
        ValueError, TypeError
            As :meth:`plan` for the data.
        """
        arrays = collect_arrays(self.pairs)
        return summarize(arrays, self.config(arrays))

    def plan(self) -> TrainingPlan:
        """Check everything and build the run; nothing is written or started.

        Raises
        ------
        ValueError
            No pair, a pair without labels, mismatched shapes, labels with no object,
            a bad setting, an output folder that cannot be written, an empty name or
            one that is taken (by a built-in model, or by a model or file unless
            ``settings.replace``).
        TypeError
            Labels that are not integers.
        """
        from sam2_training.config import apply_overrides

        s = self.settings
        arrays = collect_arrays(self.pairs)
        check_base_model(s.base_model)
        if int(s.epochs) < 1:
            raise ValueError(f"train for at least one epoch, got {s.epochs}")
        folder = check_output_folder(s.output_folder)
        output = folder / f"{s.name.strip()}.pt"
        name = check_name(s.name, output, s.replace)
        cfg = self.config(arrays, output)
        summary = summarize(arrays, cfg)
        max_steps = int(s.epochs) * summary.steps_per_epoch
        changes: dict[str, Any] = {"trainer.max_steps": max_steps}
        if "trainer.val_every" not in s.overrides:  # every epoch, at most ~VALIDATIONS times
            every = max(summary.steps_per_epoch, -(-max_steps // VALIDATIONS))
            changes["trainer.val_every"] = every
        cfg = apply_overrides(cfg, changes)
        return TrainingPlan(summary, cfg, name, output, int(s.epochs))

    # ------------------------------------------------------------------ running
    @property
    def is_running(self) -> bool:
        return self._handle is not None and self._handle.running

    def start(self) -> JobHandle | None:
        """Check the input and start training; on bad input notify and start nothing."""
        if self.is_running:
            self._notify("warning", "SAM 2 fine-tuning is running already")
            return None
        try:
            plan = self.plan()
        except (ValueError, TypeError) as err:
            self._notify("warning", f"Cannot start fine-tuning: {err}")
            return None
        reports: queue.SimpleQueue = queue.SimpleQueue()
        slot = RunSlot()
        self.curves, self.last, self.outcome, self.current = TrainingCurves(), None, None, plan

        def work(ctx: JobContext) -> None:
            train(plan, reports, slot, ctx)

        job = Job(
            "finetune",
            work,
            on_progress=lambda done, total: self._drain(reports),
            on_error=self._failed,
            on_finish=lambda cancelled: self._finished(reports, slot),
            description=f"Fine-tuning {plan.name}",
        )
        self._handle = JobHandle(job, JobContext())
        self.started.emit(plan)
        guard_triton_import()
        log.info("fine-tuning %s: %d steps into %s", plan.name, plan.max_steps, plan.output)
        return self.runner.start(job, self._handle)

    def cancel(self) -> None:
        """Stop after the current step; the weights reached so far are saved and registered."""
        if self._handle is not None and self._handle.running:
            self._handle.cancel()

    def shutdown(self) -> None:
        """The widget or the viewer is closing: cancel, and stop updating the widget."""
        self._closed = True
        self.cancel()

    def _drain(self, reports: queue.SimpleQueue) -> None:
        while True:
            try:
                report = reports.get_nowait()
            except queue.Empty:
                return
            self.curves.add(report)
            self.last = report
            if not self._closed:
                self.progressed.emit(report)

    def _failed(self, err: BaseException) -> None:
        log.error("fine-tuning failed", exc_info=err)
        self._notify("error", f"SAM 2 fine-tuning failed: {err}")

    def _finished(self, reports: queue.SimpleQueue, slot: RunSlot) -> None:
        from napari_sam2.core.models import model_registered

        self._drain(reports)
        outcome = self.outcome = slot.outcome
        if outcome is not None and outcome.register_error is not None:
            self._notify(
                "warning",
                f"Fine-tuned weights saved to {outcome.checkpoint}, but the name "
                f"{outcome.name!r} could not be registered ({outcome.register_error}); load "
                "the file with File… in the SAM 2 dock's setup",
            )
        elif outcome is not None:
            model_registered(outcome.name)
            steps = f"{outcome.steps} step{'s' * (outcome.steps != 1)}"
            if outcome.cancelled:
                text = (
                    f"Fine-tuning cancelled after {steps}; the weights reached so far are "
                    f"model {outcome.name!r}, saved to {outcome.checkpoint}"
                )
            else:
                text = (
                    f"Fine-tuned model {outcome.name!r} ({steps}) saved to "
                    f"{outcome.checkpoint}; pick it in the Model list of the SAM 2 dock's setup"
                )
            self._notify("info", text)
        if not self._closed:
            self.finished.emit(outcome)
