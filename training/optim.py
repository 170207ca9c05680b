"""Freezing, AdamW parameter groups with layer-wise lr decay, and the lr schedule.

Layer-wise decay (as in BEiT and SAM 2): the Hiera trunk's blocks nearer the input
learn more slowly. With n trunk blocks and decay d, block i (0-based) gets
``encoder_lr * d ** (n - i)``, the patch embedding ``encoder_lr * d ** (n + 1)``, the
position embeddings and the neck the full ``encoder_lr``; every other part of the model
(prompt encoder, mask decoder, memory attention and encoder) uses ``lr``. Biases and
LayerNorm weights get no weight decay.

The schedule multiplies every group's rate by the same factor: a linear warm-up from
``1 / warmup_steps`` to 1, then a half cosine down to ``final_lr_ratio`` at the last
step.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import torch
from torch import nn

from sam2_engine import SAM2Model
from sam2_training.config import FREEZABLE, OptimConfig

_BLOCK = re.compile(r"\.blocks\.(\d+)\.")


def apply_freezing(model: SAM2Model, parts: Sequence[str]) -> list[str]:
    """Stop gradients for the named parts of the model (``requires_grad = False``).

    Parameters
    ----------
    model
        The model to fine-tune (modified in place).
    parts
        Module names among :data:`~sam2_training.config.FREEZABLE`, e.g.
        ``["image_encoder"]`` (the usual choice on a CPU).

    Returns
    -------
    list of str
        Names of the parameters that still train.

    Raises
    ------
    ValueError
        For an unknown part, or when nothing would be left to train.
    """
    modules = dict(model.named_modules())
    for part in parts:
        if part not in FREEZABLE or part not in modules:
            raise ValueError(f"cannot freeze {part!r}; choose among {list(FREEZABLE)}")
        for p in modules[part].parameters():
            p.requires_grad_(False)
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    if not trainable:
        raise ValueError(f"freezing {list(parts)} leaves nothing to train; freeze fewer parts")
    return trainable


def trunk_layer_scale(name: str, num_blocks: int, decay: float) -> float:
    """Learning-rate multiplier of a parameter (full name in ``SAM2Model``)."""
    if not name.startswith("image_encoder.trunk.") or num_blocks == 0:
        return 1.0
    if "pos_embed" in name:
        return 1.0
    if ".patch_embed." in name:
        layer = 0
    else:
        match = _BLOCK.search(name)
        layer = int(match.group(1)) + 1 if match else num_blocks + 1
    return decay ** (num_blocks + 1 - layer)


def _no_weight_decay(model: nn.Module) -> set[str]:
    names = set()
    for mod_name, module in model.named_modules():
        for p_name, _ in module.named_parameters(recurse=False):
            full = f"{mod_name}.{p_name}" if mod_name else p_name
            if "bias" in p_name or isinstance(module, nn.LayerNorm | nn.GroupNorm):
                names.add(full)
    return names


def param_groups(model: SAM2Model, cfg: OptimConfig) -> list[dict]:
    """AdamW parameter groups of the trainable parameters.

    Each group holds ``params``, ``lr`` (peak rate), ``weight_decay`` and ``names``
    (parameter names, for inspection); groups are ordered deterministically so that a
    saved optimizer state always loads into the same groups.
    """
    # layer decay applies to Hiera's blocks; a conv trunk learns at one rate
    num_blocks = len(getattr(model.image_encoder.trunk, "blocks", ()))
    skip_decay = _no_weight_decay(model)
    groups: dict[tuple[float, float], dict] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        base = cfg.encoder_lr if name.startswith("image_encoder.") else cfg.lr
        lr = base * trunk_layer_scale(name, num_blocks, cfg.layer_decay)
        wd = 0.0 if name in skip_decay else cfg.weight_decay
        group = groups.setdefault(
            (lr, wd), {"params": [], "names": [], "lr": lr, "weight_decay": wd}
        )
        group["params"].append(param)
        group["names"].append(name)
    return [groups[key] for key in sorted(groups)]


def build_optimizer(model: SAM2Model, cfg: OptimConfig) -> torch.optim.AdamW:
    """AdamW over :func:`param_groups`."""
    groups = param_groups(model, cfg)
    return torch.optim.AdamW(
        groups, lr=cfg.lr, betas=(cfg.betas[0], cfg.betas[1]), weight_decay=cfg.weight_decay
    )


def warmup_steps(max_steps: int, cfg: OptimConfig) -> int:
    """Number of warm-up steps for a run of ``max_steps``."""
    return round(cfg.warmup_fraction * max_steps)


def lr_factor(step: int, max_steps: int, cfg: OptimConfig) -> float:
    """Schedule factor for the (0-based) ``step``: warm-up, then cosine to ``final_lr_ratio``."""
    warm = warmup_steps(max_steps, cfg)
    if step < warm:
        return (step + 1) / warm
    span = max(max_steps - 1 - warm, 1)
    progress = min(max(step - warm, 0) / span, 1.0)
    final = cfg.final_lr_ratio
    return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(
    optimizer: torch.optim.Optimizer, max_steps: int, cfg: OptimConfig
) -> torch.optim.lr_scheduler.LambdaLR:
    """A LambdaLR applying :func:`lr_factor` (call ``step()`` after every optimizer step)."""

    def factor(step: int) -> float:
        return lr_factor(step, max_steps, cfg)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
