"""Memory encoder: fuse a frame's features with its predicted mask into a memory."""

from __future__ import annotations

import math

import torch
from torch import nn

from sam2_engine.config import MemoryEncoderConfig
from sam2_engine.model.common import LayerNorm2d
from sam2_engine.model.position import SinePositionEncoding


class MaskDownSampler(nn.Module):
    """Strided convolutions taking a full-resolution mask to the feature resolution.

    Each step divides the size by ``stride`` and multiplies channels by ``stride**2``;
    a final 1x1 convolution gives ``dim`` channels.
    """

    def __init__(self, dim: int, kernel: int, stride: int, padding: int, total_stride: int) -> None:
        super().__init__()
        steps = round(math.log(total_stride, stride))
        if stride**steps != total_stride:
            raise ValueError(f"total_stride {total_stride} is not a power of stride {stride}")
        self.encoder = nn.Sequential()
        c_in = 1
        for _ in range(steps):
            c_out = c_in * stride**2
            self.encoder.append(nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding))
            self.encoder.append(LayerNorm2d(c_out))
            self.encoder.append(nn.GELU())
            c_in = c_out
        self.encoder.append(nn.Conv2d(c_in, dim, kernel_size=1))

    def forward(self, mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(mask)


class CXBlock(nn.Module):
    """ConvNeXt block: depthwise conv, LayerNorm, pointwise MLP, layer scale, residual."""

    def __init__(self, dim: int, kernel: int, layer_scale_init: float) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = LayerNorm2d(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(layer_scale_init * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm(self.dwconv(x)).permute(0, 2, 3, 1)
        h = self.gamma * self.pwconv2(self.act(self.pwconv1(h)))
        return x + h.permute(0, 3, 1, 2)


class Fuser(nn.Module):
    """A few ConvNeXt blocks applied to the sum of features and mask embedding."""

    def __init__(self, dim: int, num_layers: int, kernel: int, layer_scale_init: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            CXBlock(dim, kernel, layer_scale_init) for _ in range(num_layers)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class MemoryEncoder(nn.Module):
    """(features, mask) -> (memory features, memory position encoding).

    Parameters
    ----------
    dim
        Channels of the image features (``d_model``).
    cfg
        Sizes; ``cfg.out_dim`` is the memory width.
    """

    def __init__(self, dim: int, cfg: MemoryEncoderConfig) -> None:
        super().__init__()
        self.mask_downsampler = MaskDownSampler(
            dim,
            cfg.downsampler_kernel,
            cfg.downsampler_stride,
            cfg.downsampler_padding,
            cfg.downsampler_total_stride,
        )
        self.pix_feat_proj = nn.Conv2d(dim, dim, kernel_size=1)
        self.fuser = Fuser(dim, cfg.fuser_layers, cfg.fuser_kernel, cfg.fuser_layer_scale_init)
        self.out_proj = (
            nn.Conv2d(dim, cfg.out_dim, kernel_size=1) if cfg.out_dim != dim else nn.Identity()
        )
        self.position_encoding = SinePositionEncoding(cfg.out_dim)

    def forward(
        self, features: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode a memory.

        Parameters
        ----------
        features
            (B, C, h, w) image features of the frame.
        mask
            (B, 1, 16h, 16w) mask, already mapped to the encoder's input scale
            (scaled sigmoid of logits, or a binarised mask).

        Returns
        -------
        (B, out_dim, h, w) memory features and their (B, out_dim, h, w) position encoding.
        """
        x = self.pix_feat_proj(features) + self.mask_downsampler(mask)
        x = self.out_proj(self.fuser(x))
        return x, self.position_encoding(x)
