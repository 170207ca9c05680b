"""Build the reference implementation (PyPI ``sam2==1.1.0``) from one of our configs.

Test-only. The reference is an oracle: we describe our config in the reference's own
Hydra/OmegaConf layout (its ``_target_`` classes), instantiate it, and compare numbers.
Post-processing options mirror what the reference's ``build_sam2`` /
``build_sam2_video_predictor`` enable by default.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from sam2_engine.config import ModelConfig

sam2 = pytest.importorskip("sam2", reason="the reference sam2==1.1.0 is not installed")

from hydra.utils import instantiate  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402


def _rope_attention(cfg: ModelConfig, kv_dim: int | None) -> dict:
    side = cfg.embedding_size
    att = {
        "_target_": "sam2.modeling.sam.transformer.RoPEAttention",
        "rope_theta": cfg.memory_attention.rope_theta,
        "feat_sizes": [side, side],
        "embedding_dim": cfg.neck.d_model,
        "num_heads": cfg.memory_attention.num_heads,
        "downsample_rate": 1,
        "dropout": cfg.memory_attention.dropout,
    }
    if kv_dim is not None:
        att.update(rope_k_repeat=True, kv_in_dim=kv_dim)
    return att


def reference_model_dict(cfg: ModelConfig, video: bool) -> dict:
    """The reference's ``model:`` config section equivalent to ``cfg``."""
    t, n, ma, me, trk = cfg.trunk, cfg.neck, cfg.memory_attention, cfg.memory_encoder, cfg.tracking
    d = n.d_model
    tpos = trk.obj_ptr_tpos
    model = {
        "_target_": "sam2.sam2_video_predictor.SAM2VideoPredictor"
        if video
        else "sam2.modeling.sam2_base.SAM2Base",
        "image_encoder": {
            "_target_": "sam2.modeling.backbones.image_encoder.ImageEncoder",
            "scalp": n.scalp,
            "trunk": {
                "_target_": "sam2.modeling.backbones.hieradet.Hiera",
                "embed_dim": t.embed_dim,
                "num_heads": t.num_heads,
                "stages": list(t.stages),
                "global_att_blocks": list(t.global_att_blocks),
                "window_spec": list(t.window_spec),
                "window_pos_embed_bkg_spatial_size": list(t.window_pos_embed_bkg_spatial_size),
            },
            "neck": {
                "_target_": "sam2.modeling.backbones.image_encoder.FpnNeck",
                "position_encoding": {
                    "_target_": "sam2.modeling.position_encoding.PositionEmbeddingSine",
                    "num_pos_feats": d,
                    "normalize": True,
                    "scale": None,
                    "temperature": 10000,
                },
                "d_model": d,
                "backbone_channel_list": cfg.trunk_channels,
                "fpn_top_down_levels": list(n.fpn_top_down_levels),
                "fpn_interp_model": n.fpn_interp_mode,
            },
        },
        "memory_attention": {
            "_target_": "sam2.modeling.memory_attention.MemoryAttention",
            "d_model": d,
            "pos_enc_at_input": True,
            "layer": {
                "_target_": "sam2.modeling.memory_attention.MemoryAttentionLayer",
                "activation": "relu",
                "dim_feedforward": ma.dim_feedforward,
                "dropout": ma.dropout,
                "pos_enc_at_attn": False,
                "self_attention": _rope_attention(cfg, None),
                "d_model": d,
                "pos_enc_at_cross_attn_keys": True,
                "pos_enc_at_cross_attn_queries": False,
                "cross_attention": _rope_attention(cfg, me.out_dim),
            },
            "num_layers": ma.num_layers,
        },
        "memory_encoder": {
            "_target_": "sam2.modeling.memory_encoder.MemoryEncoder",
            "out_dim": me.out_dim,
            "in_dim": d,
            "position_encoding": {
                "_target_": "sam2.modeling.position_encoding.PositionEmbeddingSine",
                "num_pos_feats": me.out_dim,
                "normalize": True,
                "scale": None,
                "temperature": 10000,
            },
            "mask_downsampler": {
                "_target_": "sam2.modeling.memory_encoder.MaskDownSampler",
                "embed_dim": d,
                "kernel_size": me.downsampler_kernel,
                "stride": me.downsampler_stride,
                "padding": me.downsampler_padding,
            },
            "fuser": {
                "_target_": "sam2.modeling.memory_encoder.Fuser",
                "layer": {
                    "_target_": "sam2.modeling.memory_encoder.CXBlock",
                    "dim": d,
                    "kernel_size": me.fuser_kernel,
                    "padding": me.fuser_kernel // 2,
                    "layer_scale_init_value": me.fuser_layer_scale_init,
                    "use_dwconv": True,
                },
                "num_layers": me.fuser_layers,
            },
        },
        "num_maskmem": trk.num_maskmem,
        "image_size": cfg.image_size,
        "sigmoid_scale_for_mem_enc": trk.sigmoid_scale_for_mem_enc,
        "sigmoid_bias_for_mem_enc": trk.sigmoid_bias_for_mem_enc,
        "use_mask_input_as_output_without_sam": True,
        "directly_add_no_mem_embed": True,
        "no_obj_embed_spatial": trk.no_obj_embed_spatial,
        "use_high_res_features_in_sam": True,
        "multimask_output_in_sam": trk.multimask_output_in_sam,
        "iou_prediction_use_sigmoid": True,
        "use_obj_ptrs_in_encoder": True,
        "add_tpos_enc_to_obj_ptrs": tpos != "none",
        "proj_tpos_enc_in_obj_ptrs": tpos != "none",
        "use_signed_tpos_enc_to_obj_ptrs": tpos == "projected_signed",
        "only_obj_ptrs_in_the_past_for_eval": trk.only_obj_ptrs_in_the_past,
        "pred_obj_scores": True,
        "pred_obj_scores_mlp": True,
        "fixed_no_obj_ptr": True,
        "multimask_output_for_tracking": trk.multimask_output_for_tracking,
        "use_multimask_token_for_obj_ptr": True,
        "multimask_min_pt_num": trk.multimask_min_pt_num,
        "multimask_max_pt_num": trk.multimask_max_pt_num,
        "use_mlp_for_obj_ptr_proj": True,
        "max_obj_ptrs_in_encoder": trk.max_obj_ptrs,
        "max_cond_frames_in_attn": trk.max_cond_frames_in_attn,
        "compile_image_encoder": False,
        "sam_mask_decoder_extra_args": {
            "dynamic_multimask_via_stability": cfg.decoder.dynamic_multimask_via_stability,
            "dynamic_multimask_stability_delta": cfg.decoder.dynamic_multimask_stability_delta,
            "dynamic_multimask_stability_thresh": cfg.decoder.dynamic_multimask_stability_thresh,
        },
    }
    if video:
        # the reference video builder's post-processing defaults
        model["binarize_mask_from_pts_for_mem_enc"] = trk.binarize_mask_from_pts_for_mem_enc
        model["fill_hole_area"] = 0  # CPU: the reference skips hole filling anyway
    return model


def build_reference(cfg: ModelConfig, video: bool = False) -> torch.nn.Module:
    """Instantiate the reference model for ``cfg`` (random weights, eval, CPU)."""
    conf = OmegaConf.create(reference_model_dict(cfg, video))
    model = instantiate(conf, _recursive_=True)
    return model.eval()


def perturb_(module: torch.nn.Module, scale: float = 0.02, seed: int = 0) -> torch.nn.Module:
    """Add small seeded noise to every parameter and float buffer (in place).

    Random initialisation leaves many parameters at exact defaults (zeros, ones); noise
    makes sure a wiring mistake cannot hide behind them.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in list(module.parameters()) + list(module.buffers()):
            if tensor.is_floating_point():
                tensor.add_(torch.randn(tensor.shape, generator=gen) * scale)
    return module


def copy_weights(src: torch.nn.Module, dst: torch.nn.Module) -> None:
    """Load ``src``'s state dict into ``dst`` strictly (names and shapes must match)."""
    dst.load_state_dict(copy.deepcopy(src.state_dict()), strict=True)


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |b| (a robust relative error for logits)."""
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


def make_pair(name: str, video: bool = False, seed: int = 0, **overrides):
    """(config, reference model, our model) sharing the same perturbed random weights.

    The object-score head is biased towards "present" so that masks are not all empty
    (random weights otherwise predict "absent" about half of the time).
    """
    import sam2_engine as se
    from sam2_engine.config import load_config

    cfg = load_config(name, **overrides)
    torch.manual_seed(seed)  # the reference initialises from the global generator
    ref = build_reference(cfg, video=video)
    perturb_(ref, 0.05, seed)
    with torch.no_grad():
        ref.sam_mask_decoder.pred_obj_score_head.layers[-1].bias += 5.0
    ours = se.SAM2Model(cfg).eval()
    copy_weights(ref, ours)
    if video:
        cast_memory_to_float32(ref)
    return cfg, ref, ours


def cast_memory_to_float32(ref: torch.nn.Module) -> None:
    """Make the reference's memory attention accept its own bfloat16 memories on CPU.

    The reference stores memory features in bfloat16; without autocast, memory attention
    then fails with a dtype mismatch whenever no float32 token is concatenated to them
    (an object first prompted on a later frame, a reverse pass after a forward one).
    """
    original = ref.memory_attention.forward

    def forward(curr, memory, curr_pos=None, memory_pos=None, num_obj_ptr_tokens=0):
        return original(
            curr=curr,
            memory=memory.float(),
            curr_pos=curr_pos,
            memory_pos=memory_pos.float(),
            num_obj_ptr_tokens=num_obj_ptr_tokens,
        )

    ref.memory_attention.forward = forward


def reference_video_state(ref, frames: np.ndarray):
    """Start a reference video session on in-memory uint8 RGB frames (T, S, S, 3).

    The reference only reads JPEG folders or MP4 files; frames already at the model's
    input size make its PIL resize a no-op, so we hand it the same normalised tensor it
    would have built.
    """
    import sam2.sam2_video_predictor as rvp

    _, h, w, _ = frames.shape
    imgs = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
    std = torch.tensor([0.229, 0.224, 0.225])[:, None, None]
    imgs = (imgs - mean) / std
    original = rvp.load_video_frames
    rvp.load_video_frames = lambda **kwargs: (imgs, h, w)
    try:
        return ref.init_state("in-memory")
    finally:
        rvp.load_video_frames = original
