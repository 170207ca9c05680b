"""The training loop: model, data, optimiser, validation, checkpoints, resume, DDP.

:func:`train` runs a whole fine-tuning described by a
:class:`~sam2_training.config.TrainConfig`. It works in a single process (CPU, one GPU,
Apple MPS) and in every process of a ``torchrun`` job (see
:mod:`sam2_training.distributed`); only the main process writes files, validates and
reports progress.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import OmegaConf
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from sam2_engine import CancelCallback, config_to_dict, resolve_device
from sam2_training import distributed
from sam2_training.base_model import build_base_model, uses_windows
from sam2_training.checkpointing import (
    RunPaths,
    TrainingState,
    capture_rng,
    check_writable,
    config_differences,
    copy_atomic,
    restore_rng,
    write_model,
)
from sam2_training.config import TrainConfig
from sam2_training.data_setup import TrainingData, build_datasets, prepare_data
from sam2_training.datasets import ClipDataset, collate_samples
from sam2_training.instance_task import FieldTiles
from sam2_training.logs import MetricsLogger
from sam2_training.optim import apply_freezing, build_optimizer, build_scheduler, lr_factor
from sam2_training.progress import LossComponents, Phase, TrainingProgress
from sam2_training.rollout import TrainingModule
from sam2_training.sampling import ResumableSampler
from sam2_training.validation import ValidationMetrics, evaluate

#: ``trainer.val_every: 0`` validates once per epoch, but at most about this many times a
#: run: a few annotated images make epochs of one to three steps, and validating after
#: each of them cost as much as the training itself (the Fine-tune tab's rule too)
MAX_EPOCH_VALIDATIONS = 20

TrainingProgressCallback = Callable[[TrainingProgress], None]
"""Called with a :class:`TrainingProgress` report after every step and validation: a
record (loss, learning rate, metrics, phase), not the engine's ``(done, total)`` count."""


@dataclass(frozen=True)
class TrainResult:
    """What a finished (or cancelled) run produced.

    Attributes
    ----------
    checkpoint
        The weights file to use (``last.pt``, or the ``.pt`` path asked for).
    best_checkpoint
        ``best.pt`` if a validation ran, else None.
    run_folder
        The folder with every file of the run.
    steps
        Optimizer steps done in total.
    cancelled
        True when ``cancel()`` stopped the run early.
    loss
        Loss of the last step (None if no step ran in this call).
    validation
        The last validation metrics, if any.
    """

    checkpoint: Path
    best_checkpoint: Path | None
    run_folder: Path
    steps: int
    cancelled: bool
    loss: float | None
    validation: ValidationMetrics | None


def _precision(cfg: TrainConfig, device: torch.device) -> torch.dtype | None:
    if cfg.trainer.precision == "fp32":
        return None
    if cfg.trainer.precision == "bf16":
        return torch.bfloat16
    return torch.bfloat16 if device.type == "cuda" else None


def _autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def _device(cfg: TrainConfig, info: distributed.DistInfo) -> torch.device:
    device = resolve_device(cfg.trainer.device)
    if device.type == "cuda" and device.index is None:
        # one GPU per process: the local rank's under torchrun, else the current one
        index = info.local_rank if info.is_distributed else torch.cuda.current_device()
        device = torch.device("cuda", index)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


def _metadata(
    cfg: TrainConfig, data: TrainingData, step: int, epoch: int, metrics: dict, kind: str
) -> dict:
    return {
        "kind": f"sam2_training.{kind}",
        "base_model": cfg.model.base,
        "base_checkpoint": cfg.model.checkpoint,
        "training": config_to_dict(cfg),
        "data_fingerprint": data.fingerprint,
        "step": step,
        "epoch": epoch,
        "metrics": metrics,
    }


def _field_tiles(
    cfg: TrainConfig, data: TrainingData, model: torch.nn.Module, rank: int, val: bool = False
) -> FieldTiles | None:
    """The instance head's training (or validation) tiles, or None: no head, no frames,
    or (training) a frozen head or a weight of 0."""
    head = getattr(model, "instance_head", None)
    segments = data.val if val else data.train
    if head is None or not segments:
        return None
    if not val and (
        cfg.instance.weight <= 0 or not any(p.requires_grad for p in head.parameters())
    ):
        return None
    return FieldTiles(
        data.stacks,
        segments,
        cfg.instance,
        model.cfg.instance_head.diameter,
        cfg.data.percentiles,
        cfg.trainer.seed + (1 if val else 7919 * rank),
    )


class _TrainingRun:
    """State of one call of :func:`train` (kept small; the loop is in :meth:`run`)."""

    def __init__(
        self,
        cfg: TrainConfig,
        data: TrainingData,
        progress: TrainingProgressCallback | None,
        cancel: CancelCallback | None,
    ) -> None:
        self.cfg, self.data = cfg, data
        self.progress_cb, self.cancel_cb = progress, cancel
        self.paths = RunPaths.from_output(cfg.output)
        self.info = distributed.setup(cfg.trainer.backend, resolve_device(cfg.trainer.device).type)
        try:
            self._setup()
        except BaseException:
            distributed.teardown(self.info)
            raise

    def _setup(self) -> None:
        cfg, info = self.cfg, self.info
        t = cfg.trainer
        if t.batch_size % info.world_size:
            raise ValueError(
                f"trainer.batch_size={t.batch_size} must be a multiple of the number of "
                f"processes ({info.world_size})"
            )
        check_writable(self.paths)  # on every process: all of them fail alike, none hangs
        self.device = _device(cfg, info)
        self.dtype = _precision(cfg, self.device)
        self.model = build_base_model(cfg, self.device)
        self.trainable = apply_freezing(self.model, t.freeze)
        encoder = self.model.image_encoder
        self.encoder_frozen = not any(p.requires_grad for p in encoder.parameters())
        self.module = TrainingModule(self.model, cfg.prompts, cfg.loss)
        self.train_set, self.val_set = build_datasets(
            self.data,
            cfg.data,
            cfg.prompts,
            self.model.image_size,
            t.seed,
            t.batch_size,
            t.val_max_objects,
            windows=uses_windows(cfg.data.windows, self.model),
        )
        self.fields = _field_tiles(cfg, self.data, self.model, info.rank)
        self.val_fields = _field_tiles(cfg, self.data, self.model, info.rank, val=True)
        self.sampler = ResumableSampler(
            self.train_set, t.batch_size, info.world_size, info.rank, t.seed
        )
        self.optimizer = build_optimizer(self.model, cfg.optim)
        self.scheduler = build_scheduler(self.optimizer, t.max_steps, cfg.optim)
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.step = 0
        self.best_score: float | None = None
        self.best_step: int | None = None
        self.validation: ValidationMetrics | None = None
        self.last_loss: float | None = None
        self.last_components: LossComponents | None = None
        self.resumed = False
        self.speed = 0.0
        if cfg.resume and self.paths.state.exists():
            self._resume(TrainingState.load(self.paths.state))
        elif info.is_main:
            self.paths.best.unlink(missing_ok=True)  # a fresh run: no stale best.pt
        self.wrapped: nn.Module = self.module
        if info.is_distributed:
            self.wrapped = DistributedDataParallel(self.module, find_unused_parameters=True)
        self.logger = None
        if info.is_main:
            self.paths.config.write_text(OmegaConf.to_yaml(OmegaConf.structured(cfg)))
            self.logger = MetricsLogger(
                self.paths.metrics,
                self.paths.tensorboard if t.tensorboard else None,
                self.step if self.resumed else None,
            )

    # ------------------------------------------------------------------ resume
    def _resume(self, state: TrainingState) -> None:
        if state.fingerprint != self.data.fingerprint:
            raise ValueError(
                f"cannot resume from {self.paths.state}: it was trained on other data "
                f"(fingerprint {state.fingerprint} vs {self.data.fingerprint}); use another "
                "output folder or set resume=false"
            )
        changed = config_differences(state.config, config_to_dict(self.cfg))
        if changed:
            raise ValueError(
                f"cannot resume from {self.paths.state}: the config differs in {changed}; "
                "restore those values, or use another output folder"
            )
        self.model.load_state_dict(state.model)
        self.optimizer.load_state_dict(state.optimizer)
        self.scheduler.load_state_dict(state.scheduler)
        restore_rng(state, self.device)
        self.step = state.step
        self.best_score, self.best_step = state.best_score, state.best_step
        self.resumed = True

    # ------------------------------------------------------------------ pieces
    @property
    def epoch(self) -> int:
        """Epoch of the last completed step (0-based)."""
        return max(self.step - 1, 0) // self.sampler.steps_per_epoch

    def _train_mode(self) -> None:
        self.model.train()
        if self.encoder_frozen:
            self.model.image_encoder.eval()  # no stochastic depth in a frozen encoder

    def _train_step(self, batch: list) -> tuple[float, torch.Tensor]:
        samples = [s.to(self.device) for s in batch]
        local = torch.tensor([float(sum(s.num_objects for s in samples))], device=self.device)
        num_objects = max(
            distributed.all_reduce_sum(local, self.info).item() / self.info.world_size, 1.0
        )
        fields = None
        if self.fields is not None:
            images, foreground, distance = self.fields.batch(self.step)
            fields = (images.to(self.device), foreground.to(self.device), distance.to(self.device))
        self._train_mode()
        with _autocast(self.device, self.dtype):
            loss, components = self.wrapped(samples, num_objects, fields, self.cfg.instance.weight)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.optim.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.params, self.cfg.optim.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        stats = torch.cat([loss.detach().float().reshape(1), components.to(loss.device)])
        stats = distributed.all_reduce_sum(stats, self.info) / self.info.world_size
        return float(stats[0]), stats[1:].cpu()

    def _validate(self) -> None:
        if self.val_set is None:
            return
        if self.info.is_main:
            self.validation = evaluate(
                self.model,
                self.val_set,
                max_samples=self.cfg.trainer.val_max_samples,
                autocast_dtype=self.dtype,
                fields=self.val_fields,
            )
            score = self.validation.score
            if self.best_score is None or score > self.best_score:
                self.best_score, self.best_step = score, self.step
                write_model(self.model, self.paths.best, self._meta("best"))
            assert self.logger is not None
            self.logger.log(self.step, {"epoch": self.epoch, **self.validation.as_dict()})
            self._report("validate", self.speed)
        distributed.barrier(self.info)

    def _meta(self, kind: str) -> dict:
        metrics: dict = {
            "loss": self.last_loss,
            "best_score": self.best_score,
            "best_step": self.best_step,
        }
        if self.validation is not None:
            metrics.update(self.validation.as_dict())
        return _metadata(self.cfg, self.data, self.step, self.epoch, metrics, kind)

    def _save(self) -> None:
        """last.pt and training_state.pt (main process)."""
        if self.info.is_main:
            write_model(self.model, self.paths.last, self._meta("last"))
            torch_rng, cuda_rng = capture_rng(self.device)
            TrainingState(
                step=self.step,
                model={k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()},
                optimizer=self.optimizer.state_dict(),
                scheduler=self.scheduler.state_dict(),
                fingerprint=self.data.fingerprint,
                config=config_to_dict(self.cfg),
                best_score=self.best_score,
                best_step=self.best_step,
                torch_rng=torch_rng,
                cuda_rng=cuda_rng,
            ).save(self.paths.state)
        distributed.barrier(self.info)

    def _report(self, phase: Phase, speed: float) -> None:
        if self.progress_cb is None or not self.info.is_main:
            return
        lr = self.cfg.optim.lr * lr_factor(
            max(self.step - 1, 0), self.cfg.trainer.max_steps, self.cfg.optim
        )
        final = phase in ("done", "cancelled")
        last = self.paths.result if final else self.paths.last
        last = last if last.exists() else None
        self.progress_cb(
            TrainingProgress(
                step=self.step,
                max_steps=self.cfg.trainer.max_steps,
                epoch=self.epoch,
                loss=self.last_loss,
                components=self.last_components,
                lr=lr,
                steps_per_second=speed,
                validation=self.validation,
                phase=phase,
                checkpoint=str(last) if last is not None else None,
            )
        )

    def _cancelled(self) -> bool:
        flag = False
        if self.cancel_cb is not None and self.info.is_main:
            flag = bool(self.cancel_cb())
        return distributed.broadcast_flag(flag, self.info, self.device)

    def _loader(self, dataset: ClipDataset) -> DataLoader:
        workers = self.cfg.data.num_workers
        return DataLoader(
            dataset,
            batch_size=self.sampler.local_batch,
            sampler=self.sampler,
            collate_fn=collate_samples,
            num_workers=workers,
            persistent_workers=False,
            pin_memory=self.device.type == "cuda",
        )

    # ------------------------------------------------------------------ loop
    def run(self) -> TrainResult:
        t = self.cfg.trainer
        spe = self.sampler.steps_per_epoch
        val_every = t.val_every or validation_interval(spe, t.max_steps)
        cancelled = False
        window_start, window_steps, speed = time.perf_counter(), 0, 0.0
        try:
            while self.step < t.max_steps and not cancelled:
                self.sampler.set_position(self.step // spe, self.step % spe)
                for batch in self._loader(self.train_set):
                    loss, comps = self._train_step(batch)
                    self.step += 1
                    window_steps += 1
                    now = time.perf_counter()
                    speed = window_steps / max(now - window_start, 1e-9)
                    self.speed = speed
                    weights = self.cfg.loss
                    self.last_loss = loss
                    self.last_components = LossComponents(
                        float(comps[0]), float(comps[1]), float(comps[2]), float(comps[3]), loss
                    )
                    if self.logger is not None and (
                        self.step % max(t.log_every, 1) == 0 or self.step == t.max_steps
                    ):
                        self.logger.log(
                            self.step,
                            {
                                "epoch": self.epoch,
                                "loss": loss,
                                "loss_mask": float(comps[0]) * weights.mask,
                                "loss_dice": float(comps[1]) * weights.dice,
                                "loss_iou": float(comps[2]) * weights.iou,
                                "loss_object": float(comps[3]) * weights.object,
                                "loss_instance": float(comps[4]) * self.cfg.instance.weight,
                                "lr": self.scheduler.get_last_lr()[-1],
                                "steps_per_second": speed,
                            },
                        )
                        window_start, window_steps = now, 0
                    self._report("train", speed)
                    cancelled = self._cancelled()
                    if self.step % val_every == 0 or self.step == t.max_steps:
                        self._validate()
                    if t.checkpoint_every and self.step % t.checkpoint_every == 0:
                        self._save()
                    if cancelled or self.step >= t.max_steps:
                        break
            self._save()
            if self.info.is_main and self.paths.final is not None:
                copy_atomic(self.paths.last, self.paths.final)
            self._report("cancelled" if cancelled else "done", speed)
        finally:
            if self.logger is not None:
                self.logger.close()
            distributed.teardown(self.info)
        best = self.paths.best if self.best_step is not None else None
        return TrainResult(
            checkpoint=self.paths.result,
            best_checkpoint=best,
            run_folder=self.paths.folder,
            steps=self.step,
            cancelled=cancelled,
            loss=self.last_loss,
            validation=self.validation,
        )


def validation_interval(steps_per_epoch: int, max_steps: int) -> int:
    """Steps between validations for ``trainer.val_every: 0``: every epoch, at most
    :data:`MAX_EPOCH_VALIDATIONS` times in ``max_steps``."""
    return max(steps_per_epoch, -(-max_steps // MAX_EPOCH_VALIDATIONS), 1)


def train(
    cfg: TrainConfig,
    data: TrainingData | None = None,
    *,
    progress: TrainingProgressCallback | None = None,
    cancel: CancelCallback | None = None,
) -> TrainResult:
    """Run a fine-tuning.

    Parameters
    ----------
    cfg
        The run (see :class:`~sam2_training.config.TrainConfig`).
    data
        Prepared data (:func:`~sam2_training.data_setup.prepare_data`); by default read
        from ``cfg.data.folder``.
    progress
        Called on the main process with a
        :class:`~sam2_training.progress.TrainingProgress` after every step and every
        validation, and once at the end.
    cancel
        Polled after every step; returning True stops the run, which still writes
        ``last.pt`` (usable weights) and a resumable state.

    Returns
    -------
    TrainResult

    Raises
    ------
    ValueError
        Bad config or data, an output folder that cannot be written, a resume that does
        not match the saved run. All checked before the first step.
    """
    cfg.validate()
    if data is None:
        data = prepare_data(cfg.data, cfg.trainer.seed)
    return _TrainingRun(cfg, data, progress, cancel).run()
