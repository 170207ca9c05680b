"""Mask decoder: output tokens + prompt tokens -> mask logits, IoU and object scores."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from sam2_engine.config import DecoderConfig
from sam2_engine.model.common import MLP, LayerNorm2d
from sam2_engine.model.two_way_transformer import TwoWayTransformer


@dataclass
class DecoderOutput:
    """Raw decoder output for a batch of B prompts.

    Attributes
    ----------
    masks
        (B, M, 4h, 4w) mask logits at a quarter of the input resolution
        (M = 3 with multimask output, else 1).
    iou
        (B, M) predicted IoU of each mask.
    tokens
        (B, M, C) mask tokens from which object pointers are made (all three
        multimask tokens, or the single-mask token).
    object_score
        (B, 1) logit that the object is present.
    """

    masks: torch.Tensor
    iou: torch.Tensor
    tokens: torch.Tensor
    object_score: torch.Tensor


def stability_of_logits(logits: torch.Tensor, delta: float) -> torch.Tensor:
    """IoU of (logits > delta) and (logits > -delta) per mask; (..., H, W) -> (...)."""
    flat = logits.flatten(-2)
    inner = (flat > delta).sum(-1).float()
    outer = (flat > -delta).sum(-1).float()
    return torch.where(outer > 0, inner / outer, torch.ones_like(inner))


class MaskDecoder(nn.Module):
    """SAM 2 mask decoder with high-resolution skip features and an object-score head."""

    def __init__(self, dim: int, cfg: DecoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.num_mask_tokens = cfg.num_multimask_outputs + 1
        self.transformer = TwoWayTransformer(
            cfg.transformer_depth,
            dim,
            cfg.transformer_heads,
            cfg.transformer_mlp_dim,
            cfg.attention_downsample_rate,
        )
        self.obj_score_token = nn.Embedding(1, dim)
        self.iou_token = nn.Embedding(1, dim)
        self.mask_tokens = nn.Embedding(self.num_mask_tokens, dim)
        self.output_upscaling = nn.Sequential(
            nn.ConvTranspose2d(dim, dim // 4, kernel_size=2, stride=2),
            LayerNorm2d(dim // 4),
            nn.GELU(),
            nn.ConvTranspose2d(dim // 4, dim // 8, kernel_size=2, stride=2),
            nn.GELU(),
        )
        # projections of the stride-4 and stride-8 backbone maps (applied once per image)
        self.conv_s0 = nn.Conv2d(dim, dim // 8, kernel_size=1)
        self.conv_s1 = nn.Conv2d(dim, dim // 4, kernel_size=1)
        self.output_hypernetworks_mlps = nn.ModuleList(
            MLP(dim, dim, dim // 8, 3) for _ in range(self.num_mask_tokens)
        )
        self.iou_prediction_head = MLP(
            dim,
            cfg.iou_head_hidden_dim,
            self.num_mask_tokens,
            cfg.iou_head_depth,
            sigmoid_output=True,
        )
        self.pred_obj_score_head = MLP(dim, dim, 1, 3)

    def _upscale(
        self, src: torch.Tensor, high_res: tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        deconv1, norm1, act1, deconv2, act2 = self.output_upscaling
        feat_s0, feat_s1 = high_res
        up = act1(norm1(deconv1(src) + feat_s1))
        return act2(deconv2(up) + feat_s0)

    def forward(
        self,
        image_embed: torch.Tensor,
        image_pe: torch.Tensor,
        sparse: torch.Tensor,
        dense: torch.Tensor,
        high_res: tuple[torch.Tensor, torch.Tensor],
        multimask: bool,
    ) -> DecoderOutput:
        """Decode B prompts; see :class:`DecoderOutput` for the shapes.

        ``image_embed`` and ``high_res`` may have batch 1 (broadcast to the B prompts).
        """
        b = sparse.shape[0]
        out_tokens = torch.cat(
            [self.obj_score_token.weight, self.iou_token.weight, self.mask_tokens.weight], dim=0
        )
        tokens = torch.cat([out_tokens.unsqueeze(0).expand(b, -1, -1), sparse], dim=1)
        src = image_embed + dense
        if src.shape[0] != b:
            src = src.expand(b, -1, -1, -1)
        hs, src_tokens = self.transformer(src, image_pe, tokens)
        mask_token_out = hs[:, 2 : 2 + self.num_mask_tokens]
        c, h, w = src.shape[1:]
        up = self._upscale(src_tokens.transpose(1, 2).reshape(b, c, h, w), high_res)
        hyper = torch.stack(
            [mlp(mask_token_out[:, i]) for i, mlp in enumerate(self.output_hypernetworks_mlps)],
            dim=1,
        )
        bu, cu, hu, wu = up.shape
        masks = (hyper @ up.reshape(bu, cu, hu * wu)).reshape(b, -1, hu, wu)
        iou = self.iou_prediction_head(hs[:, 1])
        score = self.pred_obj_score_head(hs[:, 0])
        return self._choose(DecoderOutput(masks, iou, mask_token_out, score), multimask)

    def _choose(self, out: DecoderOutput, multimask: bool) -> DecoderOutput:
        """The three multimask outputs, or the single-mask one (all four tokens in ``out``)."""
        if multimask:
            return DecoderOutput(
                out.masks[:, 1:], out.iou[:, 1:], out.tokens[:, 1:], out.object_score
            )
        single = DecoderOutput(
            out.masks[:, :1], out.iou[:, :1], out.tokens[:, :1], out.object_score
        )
        if self.cfg.dynamic_multimask_via_stability and not self.training:
            return self._stable_or_best(out, single)
        return single

    def _stable_or_best(self, out: DecoderOutput, single: DecoderOutput) -> DecoderOutput:
        """Keep the single-mask output where it is stable, else the best multimask one.

        The object-pointer token stays the single-mask token either way.
        """
        multi_iou = out.iou[:, 1:]
        best = multi_iou.argmax(dim=-1)
        rows = torch.arange(best.shape[0], device=best.device)
        best_masks = out.masks[:, 1:][rows, best].unsqueeze(1)
        best_iou = multi_iou[rows, best].unsqueeze(1)
        stable = stability_of_logits(single.masks, self.cfg.dynamic_multimask_stability_delta)
        stable = stable >= self.cfg.dynamic_multimask_stability_thresh  # (B, 1)
        masks = torch.where(stable[..., None, None], single.masks, best_masks)
        iou = torch.where(stable, single.iou, best_iou)
        return DecoderOutput(masks, iou, single.tokens, out.object_score)
