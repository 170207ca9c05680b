"""A residual convolutional image trunk: a drop-in alternative to Hiera.

The SAM 2 family swaps its image trunk for efficiency (EdgeTAM, EfficientTAM); this
one is made to *learn from scratch on a laptop CPU*: convolutions learn shapes from
little data, where a vision transformer needs far more. It keeps Hiera's contract,
four maps at strides 4, 8, 16 and 32 with ``embed_dim * dim_mul**i`` channels, so the
FPN neck, prompt encoder, mask decoder and memory path are unchanged. It is fully
convolutional: any input side that is a multiple of 32 works.
"""

from __future__ import annotations

import torch
from torch import nn

from sam2_engine.config import TrunkConfig


def group_norm(channels: int) -> nn.GroupNorm:
    """Group norm with groups of 8 channels (at most 32 groups).

    Group norm rather than batch norm: the statistics do not depend on the batch, so a
    model trained one window at a time (SAM 2's training rolls out one clip at a time)
    or fine-tuned on one image behaves the same in training and in use.
    """
    return nn.GroupNorm(max(1, min(32, channels // 8)), channels)


def _conv_norm(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        group_norm(c_out),
    )


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with group norm and a shortcut (ResNet's basic block).

    A block with ``stride=2`` or a change of width projects its shortcut with a strided
    1x1 convolution.
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = _conv_norm(c_in, c_out, stride)
        self.conv2 = _conv_norm(c_out, c_out)
        self.act = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), group_norm(c_out)
            )
        # start every residual branch near zero: deep stacks train from the first step
        nn.init.zeros_(self.conv2[1].weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.act(self.conv1(x)))
        return self.act(y + self.shortcut(x))


class ConvTrunk(nn.Module):
    """Stem (two stride-2 convolutions) then one stage of residual blocks per entry of
    ``cfg.stages``; every stage after the first starts by halving the resolution.

    Parameters
    ----------
    cfg
        ``embed_dim`` (channels of the first stage), ``dim_mul`` (width factor per
        stage) and ``stages`` (blocks per stage) are used; the Hiera-only fields are
        ignored.

    Notes
    -----
    ``forward`` maps (B, 3, H, W) images (H, W multiples of 32) to a list of stage maps
    (B, C_i, H / 4 / 2**i, W / 4 / 2**i), fine to coarse, like :class:`Hiera`.
    ``channel_list`` gives the stage widths coarse to fine (the neck's order).
    """

    def __init__(self, cfg: TrunkConfig) -> None:
        super().__init__()
        widths = [int(cfg.embed_dim * cfg.dim_mul**i) for i in range(len(cfg.stages))]
        half = max(widths[0] // 2, 8)
        self.stem = nn.Sequential(
            _conv_norm(3, half, stride=2),
            nn.ReLU(inplace=True),
            _conv_norm(half, widths[0], stride=2),
            nn.ReLU(inplace=True),
        )
        self.stages = nn.ModuleList()
        c_in = widths[0]
        for i, (width, depth) in enumerate(zip(widths, cfg.stages, strict=True)):
            blocks = [ResidualBlock(c_in, width, stride=1 if i == 0 else 2)]
            blocks += [ResidualBlock(width, width) for _ in range(depth - 1)]
            self.stages.append(nn.Sequential(*blocks))
            c_in = width
        self.channel_list = widths[::-1]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        outputs = []
        for stage in self.stages:
            x = stage(x)
            outputs.append(x)
        return outputs
