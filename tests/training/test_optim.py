"""Freezing, layer-wise learning-rate decay, weight-decay groups and the schedule."""

from __future__ import annotations

import itertools

import pytest
import torch

import sam2_engine
from sam2_training.config import OptimConfig
from sam2_training.optim import (
    apply_freezing,
    build_optimizer,
    build_scheduler,
    lr_factor,
    param_groups,
    trunk_layer_scale,
)


@pytest.fixture
def model():
    return sam2_engine.build_model("test_tiny", checkpoint=False, device="cpu")


def _lr_of(groups: list[dict]) -> dict[str, float]:
    return {name: g["lr"] for g in groups for name in g["names"]}


def test_layer_decay_follows_the_block_depth(model):
    cfg = OptimConfig(lr=1.0, encoder_lr=0.5, layer_decay=0.9)
    lrs = _lr_of(param_groups(model, cfg))
    n = len(model.image_encoder.trunk.blocks)  # 5 in test_tiny
    assert lrs["image_encoder.trunk.patch_embed.proj.weight"] == pytest.approx(0.5 * 0.9 ** (n + 1))
    for i in range(n):
        name = f"image_encoder.trunk.blocks.{i}.mlp.layers.0.weight"
        assert lrs[name] == pytest.approx(0.5 * 0.9 ** (n - i))
    assert lrs["image_encoder.trunk.pos_embed"] == pytest.approx(0.5)
    assert lrs["image_encoder.neck.convs.0.conv.weight"] == pytest.approx(0.5)
    assert lrs["sam_mask_decoder.iou_token.weight"] == pytest.approx(1.0)
    assert lrs["memory_attention.layers.0.linear1.weight"] == pytest.approx(1.0)
    assert trunk_layer_scale("sam_mask_decoder.x", n, 0.9) == 1.0


def test_no_weight_decay_on_biases_and_layernorms(model):
    groups = param_groups(model, OptimConfig(weight_decay=0.1))
    wd = {name: g["weight_decay"] for g in groups for name in g["names"]}
    assert wd["sam_mask_decoder.iou_prediction_head.layers.0.bias"] == 0.0
    assert wd["memory_attention.layers.0.norm1.weight"] == 0.0
    assert wd["memory_attention.layers.0.linear1.weight"] == 0.1
    assert len(wd) == sum(1 for _ in model.parameters())


def test_freezing_removes_parameters_from_the_optimizer(model):
    trainable = apply_freezing(model, ["image_encoder"])
    assert not any(name.startswith("image_encoder.") for name in trainable)
    assert all(not p.requires_grad for p in model.image_encoder.parameters())
    opt = build_optimizer(model, OptimConfig())
    n_opt = sum(len(g["params"]) for g in opt.param_groups)
    assert n_opt == len(trainable)


def test_freezing_refuses_unknown_parts_and_freezing_everything(model):
    with pytest.raises(ValueError, match="cannot freeze 'decoder'"):
        apply_freezing(model, ["decoder"])
    everything = [
        "image_encoder",
        "memory_attention",
        "memory_encoder",
        "sam_prompt_encoder",
        "sam_mask_decoder",
    ]
    fresh = sam2_engine.build_model("test_tiny", checkpoint=False)
    # the learnt embeddings (no_mem_embed, ...) still train; freezing is by module
    assert apply_freezing(fresh, everything)


def test_schedule_warms_up_then_decays_by_a_cosine():
    cfg = OptimConfig(warmup_fraction=0.1, final_lr_ratio=0.1)
    factors = [lr_factor(s, 100, cfg) for s in range(100)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert all(a <= b for a, b in itertools.pairwise(factors[:10]))
    assert all(a >= b for a, b in itertools.pairwise(factors[9:]))
    assert factors[-1] == pytest.approx(0.1)
    assert factors[10 + 89 // 2] == pytest.approx(0.55, abs=0.02)


def test_scheduler_applies_the_factor_to_every_group(model):
    cfg = OptimConfig(lr=1e-3, encoder_lr=1e-4, warmup_fraction=0.0)
    opt = build_optimizer(model, cfg)
    sched = build_scheduler(opt, 10, cfg)
    peak = [g["lr"] for g in opt.param_groups]
    for _ in range(9):
        opt.step()
        sched.step()
    for g, p in zip(opt.param_groups, peak, strict=True):
        assert g["lr"] == pytest.approx(p * cfg.final_lr_ratio)
    assert torch.is_tensor(next(iter(model.parameters())))
