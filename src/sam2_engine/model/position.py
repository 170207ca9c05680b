"""Position encodings: 2D sine (feature maps), random Fourier (prompts), 1D sine (time)."""

from __future__ import annotations

import math

import torch
from torch import nn


def sine_1d(positions: torch.Tensor, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """Sine/cosine embedding of scalar positions.

    Parameters
    ----------
    positions
        Tensor of shape (N,) (any float values, e.g. normalised time offsets).
    dim
        Output width (even).

    Returns
    -------
    Tensor of shape (N, dim): the first half sines, the second half cosines.
    """
    half = dim // 2
    idx = torch.arange(half, dtype=torch.float32, device=positions.device)
    freqs = temperature ** (2 * (idx // 2) / half)
    angles = positions.unsqueeze(-1) / freqs
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class SinePositionEncoding(nn.Module):
    """Fixed 2D sine encoding of a feature map's pixel grid (DETR style, normalised).

    Half of the ``num_pos_feats`` channels encode the row, half the column; within each
    half, even channels are sines and odd channels cosines of geometric frequencies.
    The encoding depends only on (H, W), so it is computed once per size and cached.
    """

    def __init__(self, num_pos_feats: int, temperature: float = 10000.0) -> None:
        super().__init__()
        if num_pos_feats % 2:
            raise ValueError(f"num_pos_feats={num_pos_feats} must be even")
        self.half = num_pos_feats // 2
        self.temperature = temperature
        self._cache: dict[tuple[int, int, str], torch.Tensor] = {}

    def _axis(self, n: int, device: torch.device) -> torch.Tensor:
        # positions 1..n normalised so that the last one sits at 2*pi
        pos = torch.arange(1, n + 1, dtype=torch.float32, device=device)
        pos = pos / (pos[-1:] + 1e-6) * (2 * math.pi)
        idx = torch.arange(self.half, dtype=torch.float32, device=device)
        freqs = self.temperature ** (2 * (idx // 2) / self.half)
        angles = pos[:, None] / freqs  # (n, half)
        # interleave: sin of the even frequencies, cos of the odd ones
        return torch.stack((angles[:, 0::2].sin(), angles[:, 1::2].cos()), dim=2).flatten(1)

    @torch.no_grad()
    def encode(self, h: int, w: int, device: torch.device) -> torch.Tensor:
        """Encoding of an (h, w) grid, shape (2 * half, h, w), float32."""
        key = (h, w, str(device))
        if key not in self._cache:
            rows = self._axis(h, device)[:, None, :].expand(h, w, self.half)
            cols = self._axis(w, device)[None, :, :].expand(h, w, self.half)
            self._cache[key] = torch.cat((rows, cols), dim=2).permute(2, 0, 1).contiguous()
        return self._cache[key]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Encoding for a (B, C, H, W) map, shape (B, num_pos_feats, H, W), x's dtype."""
        pe = self.encode(x.shape[-2], x.shape[-1], x.device)
        return pe.to(x.dtype).unsqueeze(0).expand(x.shape[0], -1, -1, -1)


class RandomFourierEncoding(nn.Module):
    """Random Fourier features of (x, y) positions, as used by SAM's prompt encoder.

    The frequency matrix is a buffer named ``positional_encoding_gaussian_matrix`` of
    shape (2, num_pos_feats) so official checkpoints load into it.
    """

    def __init__(self, num_pos_feats: int = 64, scale: float = 1.0) -> None:
        super().__init__()
        self.register_buffer(
            "positional_encoding_gaussian_matrix", scale * torch.randn((2, num_pos_feats))
        )

    def _encode(self, coords01: torch.Tensor) -> torch.Tensor:
        # coords01: (..., 2) in [0, 1]; returns (..., 2 * num_pos_feats)
        proj = (2 * coords01 - 1) @ self.positional_encoding_gaussian_matrix
        proj = 2 * math.pi * proj
        return torch.cat([proj.sin(), proj.cos()], dim=-1)

    def grid(self, h: int, w: int) -> torch.Tensor:
        """Dense encoding of the centres of an (h, w) grid, shape (C, h, w)."""
        device = self.positional_encoding_gaussian_matrix.device
        ys = (torch.arange(h, device=device, dtype=torch.float32) + 0.5) / h
        xs = (torch.arange(w, device=device, dtype=torch.float32) + 0.5) / w
        grid = torch.stack(
            [xs[None, :].expand(h, w), ys[:, None].expand(h, w)], dim=-1
        )  # (h, w, 2) as (x, y)
        return self._encode(grid).permute(2, 0, 1)

    def points(self, coords: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
        """Encode pixel coordinates.

        Parameters
        ----------
        coords
            (B, N, 2) points as (x, y) in pixels of a (H, W) = ``image_size`` image.

        Returns
        -------
        Tensor of shape (B, N, C).
        """
        h, w = image_size
        scale = torch.tensor([w, h], dtype=torch.float32, device=coords.device)
        return self._encode(coords.float() / scale)
