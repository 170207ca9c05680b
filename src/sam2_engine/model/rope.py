"""Axial rotary position encoding (2D RoPE) in real arithmetic.

Channel pairs (2i, 2i+1) of every head are rotated by an angle that depends on the
token's column (the first half of the pairs) or on its row (the second half).
Rotating with cos/sin tables instead of complex numbers keeps the model exportable
(ONNX) and runnable on Apple MPS.
"""

from __future__ import annotations

import torch


def rope_angles(head_dim: int, h: int, w: int, theta: float = 10000.0) -> torch.Tensor:
    """Rotation angles for an (h, w) token grid in row-major order.

    Parameters
    ----------
    head_dim
        Channels per attention head (a multiple of 4).
    h, w
        Grid size; token ``k`` sits at row ``k // w`` and column ``k % w``.

    Returns
    -------
    Tensor of shape (h * w, head_dim // 2): one angle per channel pair. Pairs
    ``0 .. head_dim/4 - 1`` turn with the column, the others with the row.
    """
    if head_dim % 4:
        raise ValueError(f"RoPE needs a head width divisible by 4, got {head_dim}")
    quarter = head_dim // 4
    freqs = 1.0 / (theta ** (torch.arange(0, head_dim, 4)[:quarter].float() / head_dim))
    k = torch.arange(h * w, dtype=torch.float32)
    cols = k % w
    rows = torch.div(k, w, rounding_mode="floor")
    return torch.cat([torch.outer(cols, freqs), torch.outer(rows, freqs)], dim=-1)


class AxialRope:
    """Cached cos/sin tables for an attention layer; not a module (holds no weights)."""

    def __init__(self, head_dim: int, theta: float = 10000.0) -> None:
        self.head_dim = head_dim
        self.theta = theta
        self._tables: dict[tuple[int, int, str], tuple[torch.Tensor, torch.Tensor]] = {}

    def tables(self, h: int, w: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(cos, sin), each of shape (h * w, head_dim // 2), float32 on ``device``."""
        key = (h, w, str(device))
        if key not in self._tables:
            angles = rope_angles(self.head_dim, h, w, self.theta).to(device)
            self._tables[key] = (angles.cos(), angles.sin())
        return self._tables[key]


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate channel pairs of ``x``.

    Parameters
    ----------
    x
        (B, heads, N, head_dim) queries or keys; ``N`` must be a multiple of the table
        length L (the table is repeated, e.g. for several memory frames of one grid).
    cos, sin
        (L, head_dim // 2) tables from :class:`AxialRope`.

    Returns
    -------
    Tensor like ``x`` (same dtype); the rotation itself runs in float32.
    """
    n, length = x.shape[-2], cos.shape[0]
    if n != length:
        if n % length:
            raise ValueError(f"cannot apply RoPE of {length} positions to {n} tokens")
        reps = n // length
        cos, sin = cos.repeat(reps, 1), sin.repeat(reps, 1)
    xf = x.float().reshape(*x.shape[:-1], -1, 2)
    a, b = xf[..., 0], xf[..., 1]
    out = torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1)
    return out.flatten(-2).type_as(x)
