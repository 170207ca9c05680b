"""The model a run starts from: base name or file, weights, input size, dropout."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

import sam2_engine
from sam2_engine import SAM2Model
from sam2_training.config import TrainConfig, WindowCropConfig

log = logging.getLogger(__name__)


def build_base_model(cfg: TrainConfig, device: torch.device) -> SAM2Model:
    """The model to fine-tune, from ``cfg.model`` (base name or file, weights, size)."""
    checkpoint: str | bool | None = cfg.model.checkpoint
    if isinstance(checkpoint, str) and checkpoint.lower() == "random":
        checkpoint = False
    size = cfg.model.image_size
    if size is not None and _recommends_windows(cfg.model.base, checkpoint):
        # a window model sees objects at one scale in its own input size: keep it
        log.info("model.image_size=%s ignored: %s works in windows", size, cfg.model.base)
        size = None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.trainer.seed)  # random weights (if any) depend on the seed only
        model = sam2_engine.build_model(
            cfg.model.base, checkpoint=checkpoint, device=device, image_size=size
        )
    if cfg.model.dropout is not None:
        model.set_memory_dropout(cfg.model.dropout)
    if cfg.model.recommended:
        model.recommended = {**model.recommended, **dict(cfg.model.recommended)}
    return model


def _recommends_windows(base: str, checkpoint: str | bool | None) -> bool:
    """Whether the base model's own file recommends windows (read without building)."""
    return bool(base_recommendations(base, checkpoint).get("windows"))


def base_recommendations(base: str, checkpoint: str | bool | None = None) -> dict[str, Any]:
    """What the base model's file recommends (``recommended`` metadata), read without
    building the model; empty for random weights, official files and unreadable files."""
    if checkpoint is False:
        return {}
    path = checkpoint if isinstance(checkpoint, str) else sam2_engine.model_file(base)
    if path is None:
        return {}
    try:
        return dict(sam2_engine.read_metadata(path).get("recommended", {}) or {})
    except (OSError, sam2_engine.CheckpointError):
        return {}


def finetune_defaults(base: str, checkpoint: str | Path | None = None) -> dict[str, Any]:
    """The fine-tuning settings the base model recommends, as ``{"section.key": value}``.

    A model trained by this project stores the settings that fine-tune it well (its
    ``recommended["finetune"]``, e.g. a higher learning rate than the official SAM 2.1
    recipe, which is tuned for large pretrained models); :func:`~sam2_training.finetune`
    applies them over the run config and under the caller's own settings.
    """
    if isinstance(checkpoint, str) and checkpoint.lower() == "random":
        return {}
    found = base_recommendations(base, None if checkpoint is None else str(checkpoint))
    return dict(found.get("finetune", {}) or {})


def uses_windows(windows: WindowCropConfig, model: SAM2Model) -> bool:
    """Whether samples are object-centred windows: ``data.windows.enabled`` "on", or
    "auto" with a base model that recommends windows (``model.recommended["windows"]``)."""
    if windows.enabled == "on":
        return True
    if windows.enabled == "off":
        return False
    return bool((getattr(model, "recommended", None) or {}).get("windows"))
