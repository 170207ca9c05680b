"""Prompt maps: clicks and boxes drawn as images and added to the dense prompt embedding.

SAM's prompt encoder turns clicks into tokens (a Fourier position code each) that the
two-way transformer must learn to look up in the image embedding: late fusion, which a
model trained from random weights learns slowly on a CPU. A small U-Net given the click
as an extra input channel learns the same task far faster (early fusion). This module
gives SAM 2 that cue without changing its design: the prompts are also drawn as three
maps at the mask-prompt resolution (S/4) — positive clicks and negative clicks as
Gaussian spots, a box as a filled rectangle — which a small convolutional network
(the shape of SAM's mask downscaling) turns into an offset of the dense prompt
embedding. The dense embedding is added to the image embedding before the transformer
and is carried into the upscaled features the masks are read from, so the clicked place
is marked where the mask is made. Its last layer starts at zero: switched on for a
trained model, it changes nothing until it is trained. Official models do not have it
(``decoder.prompt_maps: false``).
"""

from __future__ import annotations

import torch
from torch import nn

from sam2_engine.model.common import downscaler

__all__ = ["PromptMaps", "render_prompt_maps"]

#: spot size of a click, in model-input pixels
CLICK_SIGMA = 6.0


def render_prompt_maps(
    points: torch.Tensor, labels: torch.Tensor, size: int, image_size: int
) -> torch.Tensor:
    """Draw prompts as (B, 3, size, size) maps: positive spots, negative spots, box.

    Parameters
    ----------
    points
        (B, N, 2) (x, y) pixels of the S x S model input.
    labels
        (B, N) SAM labels: 1 positive, 0 negative, 2 / 3 box corners, -1 padding.
    size
        Side of the maps (the mask-prompt side, S / 4).
    image_size
        S.
    """
    stride = image_size / size
    grid = (torch.arange(size, device=points.device, dtype=torch.float32) + 0.5) * stride
    x = points[..., 0].float()[:, :, None, None] + 0.5  # pixel centres
    y = points[..., 1].float()[:, :, None, None] + 0.5
    d2 = (grid[None, None, None, :] - x) ** 2 + (grid[None, None, :, None] - y) ** 2
    spots = torch.exp(-d2 / (2 * CLICK_SIGMA**2))  # (B, N, size, size)
    lab = labels[:, :, None, None]
    positive = (spots * (lab == 1)).amax(dim=1)
    negative = (spots * (lab == 0)).amax(dim=1)
    first, last = (labels == 2), (labels == 3)
    has_box = (first.any(dim=1) & last.any(dim=1)).float()[:, None, None]
    x0 = (points[..., 0] * first).sum(1)[:, None, None]
    y0 = (points[..., 1] * first).sum(1)[:, None, None]
    x1 = (points[..., 0] * last).sum(1)[:, None, None]
    y1 = (points[..., 1] * last).sum(1)[:, None, None]
    gx, gy = grid[None, None, :] - 0.5, grid[None, :, None] - 0.5
    inside = (gx >= x0) & (gx <= x1 + 1) & (gy >= y0) & (gy <= y1 + 1)
    box = inside.float() * has_box
    return torch.stack([positive, negative, box], dim=1)


class PromptMaps(nn.Module):
    """Prompt maps -> (B, dim, S/16, S/16) offset of the dense prompt embedding.

    Parameters
    ----------
    dim
        Width of the dense embedding (``d_model``).
    hidden
        Channels of the downscaling network (SAM's ``mask_in_chans``).
    image_size
        S, the model's input side.
    """

    def __init__(self, dim: int, hidden: int, image_size: int) -> None:
        super().__init__()
        self.image_size = image_size
        self.net = downscaler(3, hidden, dim)
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, points: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """(B, N, 2) input-pixel (x, y) points, (B, N) labels -> (B, dim, S/16, S/16)."""
        maps = render_prompt_maps(points, labels, self.image_size // 4, self.image_size)
        return self.net(maps.to(self.net[0].weight.dtype))
