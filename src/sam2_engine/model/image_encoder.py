"""Image encoder: a trunk (Hiera or convolutional) followed by a feature-pyramid neck."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from sam2_engine.config import NeckConfig, TrunkConfig
from sam2_engine.model.conv_trunk import ConvTrunk
from sam2_engine.model.hiera import Hiera
from sam2_engine.model.position import SinePositionEncoding


class FpnNeck(nn.Module):
    """Project every trunk stage to ``d_model`` channels; add top-down features.

    Levels listed in ``top_down_levels`` (0 = finest) receive the upsampled (factor 2)
    sum from the coarser level; the other levels keep only their lateral projection.
    There is no output convolution.
    """

    def __init__(self, cfg: NeckConfig, backbone_channels: list[int]) -> None:
        super().__init__()
        self.d_model = cfg.d_model
        self.top_down_levels = set(cfg.fpn_top_down_levels)
        self.interp_mode = cfg.fpn_interp_mode
        # convs[j] projects the j-th coarsest stage (official checkpoint layout)
        self.convs = nn.ModuleList()
        for channels in backbone_channels:
            lateral = nn.Sequential()
            lateral.add_module("conv", nn.Conv2d(channels, cfg.d_model, kernel_size=1))
            self.convs.append(lateral)
        self.position_encoding = SinePositionEncoding(cfg.d_model)

    def forward(self, stages: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Fine-to-coarse stage maps -> (features, position encodings), fine to coarse."""
        n = len(stages)
        features: list[torch.Tensor] = [stages[0]] * n
        coarser = None
        for level in range(n - 1, -1, -1):
            lateral = self.convs[n - 1 - level](stages[level])
            if coarser is not None and level in self.top_down_levels:
                up = F.interpolate(
                    coarser.float(),
                    scale_factor=2.0,
                    mode=self.interp_mode,
                    align_corners=None if self.interp_mode == "nearest" else False,
                )
                coarser = lateral + up
            else:
                coarser = lateral
            features[level] = coarser
        return features, [self.position_encoding(f) for f in features]


@dataclass
class ImageFeatures:
    """Encoded image(s), ready for the decoder and the memory path.

    Attributes
    ----------
    embed
        (B, C, S/16, S/16) lowest-resolution features (C = d_model), *without* the
        no-memory embedding.
    high_res
        Two finer maps already projected for the mask decoder:
        (B, C/8, S/4, S/4) and (B, C/4, S/8, S/8).
    pos
        (1, C, S/16, S/16) sine position encoding of ``embed`` (same for every image).
    """

    embed: torch.Tensor
    high_res: tuple[torch.Tensor, torch.Tensor]
    pos: torch.Tensor

    @property
    def batch_size(self) -> int:
        return self.embed.shape[0]

    @staticmethod
    def concat(parts: Sequence[ImageFeatures]) -> ImageFeatures:
        """The features of several batches as one batch, in order."""
        if len(parts) == 1:
            return parts[0]
        return ImageFeatures(
            torch.cat([f.embed for f in parts]),
            (
                torch.cat([f.high_res[0] for f in parts]),
                torch.cat([f.high_res[1] for f in parts]),
            ),
            parts[0].pos,
        )

    def select(self, index: int | slice | torch.Tensor) -> ImageFeatures:
        """Features of a subset of the batch (keeps the batch axis)."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        return ImageFeatures(
            self.embed[index], (self.high_res[0][index], self.high_res[1][index]), self.pos
        )

    def expand(self, batch: int) -> ImageFeatures:
        """Broadcast a single image's features to ``batch`` rows (no copy)."""
        if self.batch_size == batch:
            return self
        if self.batch_size != 1:
            raise ValueError(f"cannot expand features of batch {self.batch_size} to {batch}")
        return ImageFeatures(
            self.embed.expand(batch, -1, -1, -1),
            tuple(h.expand(batch, -1, -1, -1) for h in self.high_res),  # type: ignore[arg-type]
            self.pos,
        )

    def to(self, device: torch.device | str) -> ImageFeatures:
        return ImageFeatures(
            self.embed.to(device),
            tuple(h.to(device) for h in self.high_res),
            self.pos.to(device),  # type: ignore[arg-type]
        )

    def nbytes(self) -> int:
        tensors = (self.embed, *self.high_res)
        return sum(t.numel() * t.element_size() for t in tensors)


class ImageEncoder(nn.Module):
    """Trunk + neck; drops the ``scalp`` coarsest levels (SAM 2 uses stride 4, 8, 16)."""

    def __init__(self, trunk_cfg: TrunkConfig, neck_cfg: NeckConfig) -> None:
        super().__init__()
        self.trunk: Hiera | ConvTrunk = (
            ConvTrunk(trunk_cfg) if trunk_cfg.kind == "conv" else Hiera(trunk_cfg)
        )
        self.neck = FpnNeck(neck_cfg, self.trunk.channel_list)
        self.scalp = neck_cfg.scalp

    def forward(self, images: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """(B, 3, S, S) normalised images -> (features, position encodings), fine to coarse."""
        features, pos = self.neck(self.trunk(images))
        if self.scalp > 0:
            features, pos = features[: -self.scalp], pos[: -self.scalp]
        return features, pos
