"""SAM's two-way transformer: prompt tokens and image tokens attend to each other."""

from __future__ import annotations

import torch
from torch import nn

from sam2_engine.model.attention import Attention
from sam2_engine.model.common import MLP


class TwoWayBlock(nn.Module):
    """Token self-attention, token->image attention, token MLP, image->token attention.

    Each step is residual and followed by a LayerNorm (post-norm). Position encodings
    are added to queries/keys (not values) at every step; the very first block's
    self-attention takes the raw prompt tokens, which already carry their positions.
    """

    def __init__(
        self, dim: int, num_heads: int, mlp_dim: int, downsample_rate: int, first: bool
    ) -> None:
        super().__init__()
        self.first = first
        self.self_attn = Attention(dim, num_heads)
        self.norm1 = nn.LayerNorm(dim)
        self.cross_attn_token_to_image = Attention(dim, num_heads, downsample_rate)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = MLP(dim, mlp_dim, dim, 2, activation=nn.ReLU)
        self.norm3 = nn.LayerNorm(dim)
        self.norm4 = nn.LayerNorm(dim)
        self.cross_attn_image_to_token = Attention(dim, num_heads, downsample_rate)

    def forward(
        self,
        tokens: torch.Tensor,
        image: torch.Tensor,
        token_pe: torch.Tensor,
        image_pe: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.first:
            tokens = self.self_attn(tokens, tokens, tokens)
        else:
            q = tokens + token_pe
            tokens = tokens + self.self_attn(q, q, tokens)
        tokens = self.norm1(tokens)

        keys = image + image_pe
        tokens = self.norm2(tokens + self.cross_attn_token_to_image(tokens + token_pe, keys, image))
        tokens = self.norm3(tokens + self.mlp(tokens))

        attn = self.cross_attn_image_to_token(keys, tokens + token_pe, tokens)
        image = self.norm4(image + attn)
        return tokens, image


class TwoWayTransformer(nn.Module):
    """``depth`` two-way blocks and a final token->image attention.

    Forward maps (B, C, h, w) image features, their (B, C, h, w) position encoding and
    (B, N, C) prompt/output tokens to updated tokens (B, N, C) and image tokens (B, hw, C).
    """

    def __init__(
        self, depth: int, dim: int, num_heads: int, mlp_dim: int, downsample_rate: int = 2
    ) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            TwoWayBlock(dim, num_heads, mlp_dim, downsample_rate, first=(i == 0))
            for i in range(depth)
        )
        self.final_attn_token_to_image = Attention(dim, num_heads, downsample_rate)
        self.norm_final_attn = nn.LayerNorm(dim)

    def forward(
        self, image: torch.Tensor, image_pe: torch.Tensor, tokens: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        image = image.flatten(2).transpose(1, 2)
        image_pe = image_pe.flatten(2).transpose(1, 2)
        token_pe = tokens
        for layer in self.layers:
            tokens, image = layer(tokens, image, token_pe, image_pe)
        attn = self.final_attn_token_to_image(tokens + token_pe, image + image_pe, image)
        return self.norm_final_attn(tokens + attn), image
