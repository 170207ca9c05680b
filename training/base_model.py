"""The model a run starts from: base name or file, weights, input size, dropout."""

from __future__ import annotations

import logging

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
    if checkpoint is False:
        return False
    path = checkpoint if isinstance(checkpoint, str) else sam2_engine.model_file(base)
    if path is None:
        return False
    try:
        return bool(sam2_engine.read_metadata(path).get("recommended", {}).get("windows"))
    except (OSError, sam2_engine.CheckpointError):
        return False


def uses_windows(windows: WindowCropConfig, model: SAM2Model) -> bool:
    """Whether samples are object-centred windows: ``data.windows.enabled`` "on", or
    "auto" with a base model that recommends windows (``model.recommended["windows"]``)."""
    if windows.enabled == "on":
        return True
    if windows.enabled == "off":
        return False
    return bool((getattr(model, "recommended", None) or {}).get("windows"))
