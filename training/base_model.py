"""The model a run starts from: base name or file, weights, input size, dropout."""

from __future__ import annotations

import torch
from torch import nn

import sam2_engine
from sam2_engine.model.attention import RopeAttention
from sam2_engine.model.sam2 import SAM2Model
from sam2_training.config import TrainConfig


def build_base_model(cfg: TrainConfig, device: torch.device) -> SAM2Model:
    """The model to fine-tune, from ``cfg.model`` (base name or file, weights, size)."""
    checkpoint: str | bool | None = cfg.model.checkpoint
    if isinstance(checkpoint, str) and checkpoint.lower() == "random":
        checkpoint = False
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.trainer.seed)  # random weights (if any) depend on the seed only
        model = sam2_engine.build_model(
            cfg.model.base, checkpoint=checkpoint, device=device, image_size=cfg.model.image_size
        )
    if cfg.model.dropout is not None:
        set_memory_dropout(model, cfg.model.dropout)
    return model


def set_memory_dropout(model: SAM2Model, p: float) -> None:
    """Change the dropout probability of memory attention (training only)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"model.dropout={p} must be in [0, 1)")
    for module in model.memory_attention.modules():
        if isinstance(module, nn.Dropout):
            module.p = p
        elif isinstance(module, RopeAttention):
            module.dropout = p
