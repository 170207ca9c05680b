"""Fine-tuning SAM 2 from napari: the Qt-free controller of the fine-tuning widget.

:class:`FinetuneController` turns pairs of layers (see :mod:`napari_sam2.finetune_data`)
and a few settings (:class:`FinetuneSettings`) into one call of
:func:`sam2_training.finetune`, run as a :class:`~napari_sam2.jobs.Job` off the GUI
thread. Everything that can be wrong with the input is refused by
:meth:`FinetuneController.plan` *before* anything starts, with the training package's
own checks where they exist. When the run ends (finished, or cancelled: the loop still
writes usable weights) the model is registered by name
(``sam2_engine.register_model``) and announced through
:data:`napari_sam2.models.MODEL_LIST`, so that model lists refresh at once.

Threading: the training loop calls its progress callback in the worker thread; the
worker puts each :class:`~sam2_training.progress.TrainingProgress` in a queue and pokes
the runner's progress channel (``JobContext.report``), which the runner delivers on the
GUI thread; there the queue is drained in order and ``progressed`` is emitted.
Cancelling sets the job's flag, which the loop polls after every step.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psygnal import Signal

from napari_sam2.finetune_data import (
    DataSummary,
    LayerPair,
    TrainingArrays,
    collect_arrays,
    summarize,
)
from napari_sam2.jobs import Job, JobContext, JobHandle, Runner, SyncRunner
from napari_sam2.notify import notify
from napari_sam2.torch_guard import guard_triton_import

log = logging.getLogger(__name__)

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
DEFAULT_FOLDER = Path.home() / "sam2_models"
VALIDATIONS = 20  # validate once per epoch, but not more often than this many times a run
#: checkbox name -> parts of the model it freezes (see sam2_training.config.FREEZABLE)
FREEZE_GROUPS = {
    "image_encoder": ("image_encoder",),
    "memory": ("memory_attention", "memory_encoder"),
}


# --------------------------------------------------------------------------- settings


def preset_for(device: str) -> str:
    """The bundled run config for a device: ``finetune_cpu`` on a CPU, else ``finetune``."""
    from sam2_engine import resolve_device

    return (
        "finetune_cpu"
        if resolve_device(None if device == "auto" else device).type == "cpu"
        else "finetune"
    )


@dataclass
class FinetuneSettings:
    """What the user chose (the widget's fields).

    Attributes
    ----------
    base_model
        A name or ``.pt`` path from :func:`napari_sam2.models.available_models`.
    device
        ``"auto"``, ``"cpu"``, ``"cuda"``, ... (also picks the preset: ``finetune_cpu``
        on a CPU, ``finetune`` elsewhere).
    epochs
        Passes over the training clips; the number of steps follows from the data.
    lr
        Peak learning rate (``optim.lr``).
    image_size
        Model input side while training and afterwards (multiple of 32); None: the base
        model's own.
    freeze
        Parts of the model that stay fixed (``trainer.freeze``).
    output_folder
        Where ``<name>.pt`` and its run folder ``<name>_run/`` are written.
    name
        Name of the new model in the model lists.
    replace
        Allow a name that is registered already (its file is overwritten).
    overrides
        Further ``{"section.key": value}`` settings of the run config.
    """

    base_model: str = "sam2.1_hiera_tiny"
    device: str = "auto"
    epochs: int = 10
    lr: float = 5.0e-5
    image_size: int | None = 512
    freeze: tuple[str, ...] = ("image_encoder",)
    output_folder: Path | None = DEFAULT_FOLDER
    name: str = "sam2_finetuned"
    replace: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_device(cls, device: str = "auto", **changes: Any) -> FinetuneSettings:
        """Defaults of the device's preset (learning rate, image size, freezing)."""
        from sam2_training import load_train_config

        cfg = load_train_config(preset_for(device))
        defaults = {
            "device": device,
            "lr": cfg.optim.lr,
            "image_size": cfg.model.image_size,
            "freeze": tuple(cfg.trainer.freeze),
        }
        return cls(**{**defaults, **changes})


def probe_writable(folder: Path) -> bool:
    """Whether a file can be created in ``folder`` (tried for real: permission bits lie,
    e.g. for root or on network drives)."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".sam2_write_test.")
    except OSError:
        return False
    os.close(fd)
    os.unlink(probe)
    return True


def check_output_folder(folder: Path | None) -> Path:
    """Refuse an output folder that cannot be written (nothing is created here).

    A folder that does not exist yet is judged by its nearest existing parent, where the
    training loop will create it.
    """
    if folder is None or str(folder).strip() in ("", "."):
        raise ValueError("choose an output folder for the fine-tuned model")
    folder = Path(folder).expanduser().absolute()
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(
            f"cannot write to the output folder {folder}: {existing} is a file, not a folder; "
            "choose another output folder"
        )
    if not probe_writable(existing):
        raise ValueError(
            f"cannot write to the output folder {folder}: {existing} is not writable; "
            "choose a folder you can write to"
        )
    return folder


def check_base_model(name: str) -> str:
    """Refuse a base model that is neither a known name nor an existing ``.pt`` file."""
    from sam2_engine import list_models

    name = str(name or "").strip()
    if not name:
        raise ValueError("choose a base model to start from")
    if name not in list_models() and not (name.endswith((".pt", ".pth")) and Path(name).is_file()):
        raise ValueError(
            f"unknown base model {name!r}; pick one from the list (⟳ refreshes it) or a .pt "
            "file written by fine-tuning"
        )
    return name


def check_name(name: str, output: Path, replace: bool) -> str:
    """Refuse an empty or odd name, a built-in model's name, or one already taken."""
    from sam2_engine import builtin_config_names, list_models

    name = name.strip()
    if not name:
        raise ValueError("give the fine-tuned model a name (e.g. my_nuclei)")
    if not NAME_PATTERN.match(name) or name.endswith(".pt"):
        raise ValueError(
            f"model name {name!r} may only hold letters, digits and _ . + - (and not end "
            "in .pt); e.g. my_nuclei"
        )
    if name in builtin_config_names():
        raise ValueError(f"{name!r} is the name of a built-in model; choose another name")
    if not replace:
        if name in list_models():
            raise ValueError(
                f"a model named {name!r} exists already; choose another name, or tick "
                "'Replace' to overwrite it"
            )
        if output.exists():
            raise ValueError(
                f"{output} exists already; choose another name, or tick 'Replace' to overwrite it"
            )
    return name


# --------------------------------------------------------------------------- runs


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


@dataclass
class _RunSlot:
    """Written by the worker, read on the GUI thread once the worker finished."""

    outcome: FinetuneOutcome | None = None


def _train(plan: TrainingPlan, reports: queue.SimpleQueue, slot: _RunSlot, ctx: JobContext) -> None:
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


class FinetuneController:
    """Layer pairs and settings in, a fine-tuned model registered by name out.

    Parameters
    ----------
    runner
        Where training runs (default inline: :class:`~napari_sam2.jobs.SyncRunner`; the
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
        """The run config: the device's preset with the settings applied (validated)."""
        from sam2_training import load_train_config

        s = self.settings
        if not s.lr > 0:
            raise ValueError(f"the learning rate must be a positive number, got {s.lr}")
        overrides = {
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
        slot = _RunSlot()
        self.curves, self.last, self.outcome, self.current = TrainingCurves(), None, None, plan

        def work(ctx: JobContext) -> None:
            _train(plan, reports, slot, ctx)

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

    def _finished(self, reports: queue.SimpleQueue, slot: _RunSlot) -> None:
        from napari_sam2.models import model_registered

        self._drain(reports)
        outcome = self.outcome = slot.outcome
        if outcome is not None and outcome.register_error is not None:
            self._notify(
                "warning",
                f"Fine-tuned weights saved to {outcome.checkpoint}, but the name "
                f"{outcome.name!r} could not be registered ({outcome.register_error}); load "
                "the file with File… in the SAM 2 widget",
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
                    f"{outcome.checkpoint}; pick it in the SAM 2 widget's model list"
                )
            self._notify("info", text)
        if not self._closed:
            self.finished.emit(outcome)
