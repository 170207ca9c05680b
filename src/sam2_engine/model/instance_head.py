"""Instance head: per-pixel foreground and distance maps from the neck's features.

The idea of micro-sam's automatic instance segmentation: instead of prompting the mask
decoder with a grid of points, one pass predicts for every pixel whether it belongs to
an object and how far it lies from the object's boundary (1 at the centre, falling to 0
at the edge). Seeded watershed turns the two maps into objects
(:mod:`sam2_engine.automatic.instances`). The head is small and fully convolutional: it
runs on whole frames of any size that is a multiple of 32.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sam2_engine.config import InstanceHeadConfig
from sam2_engine.model.conv_trunk import group_norm


class InstanceHead(nn.Module):
    """Fuse the stride-4, -8 and -16 neck maps and predict two maps at full resolution.

    Parameters
    ----------
    d_model
        Channels of the neck's maps.
    cfg
        Width of the head (``hidden``).
    """

    def __init__(self, d_model: int, cfg: InstanceHeadConfig) -> None:
        super().__init__()
        h = cfg.hidden
        self.lateral = nn.ModuleList(nn.Conv2d(d_model, h, 1) for _ in range(3))
        self.fuse = nn.Sequential(
            nn.Conv2d(h, h, 3, padding=1, bias=False),
            group_norm(h),
            nn.ReLU(inplace=True),
            nn.Conv2d(h, h, 3, padding=1, bias=False),
            group_norm(h),
            nn.ReLU(inplace=True),
        )
        self.out = nn.Conv2d(h, 2, 1)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        """Neck maps (fine to coarse, strides 4, 8, 16) -> (B, 2, 4 h0, 4 w0) logits.

        Channel 0 is the foreground logit; channel 1 the logit of the normalised
        distance to the object's boundary (apply a sigmoid to both).
        """
        fine = features[0]
        size = fine.shape[-2:]
        x = self.lateral[0](fine)
        for lateral, f in zip(self.lateral[1:], features[1:3], strict=False):
            x = x + F.interpolate(lateral(f), size=size, mode="bilinear", align_corners=False)
        y = self.out(self.fuse(x))
        return F.interpolate(y, scale_factor=4.0, mode="bilinear", align_corners=False)
