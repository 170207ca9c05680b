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
    """Cached rotation tables for an attention layer; not a module (holds no weights)."""

    def __init__(self, head_dim: int, theta: float = 10000.0) -> None:
        self.head_dim = head_dim
        self.theta = theta
        self._tables: dict[tuple[int, int, str], tuple[torch.Tensor, torch.Tensor]] = {}

    def tables(self, h: int, w: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(cos, sin) of shape (h * w, head_dim), float32 on ``device``.

        Each pair's angle is repeated for both of its channels; ``sin`` carries the sign
        of the rotation (negative on the first channel of each pair), see
        :func:`apply_rope`.
        """
        key = (h, w, str(device))
        if key not in self._tables:
            angles = rope_angles(self.head_dim, h, w, self.theta).to(device)
            cos = angles.cos().repeat_interleave(2, dim=-1)
            sin = angles.sin().repeat_interleave(2, dim=-1)
            sin[:, 0::2] = -sin[:, 0::2]
            self._tables[key] = (cos, sin)
        return self._tables[key]


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate the channel pairs (2i, 2i+1) of ``x``.

    Parameters
    ----------
    x
        (B, heads, N, head_dim) queries or keys; ``N`` must be a multiple of the table
        length L (the tables are broadcast over the copies, e.g. several memory frames
        of one grid).
    cos, sin
        (L, head_dim) tables from :meth:`AxialRope.tables`.

    Returns
    -------
    Tensor like ``x`` (same dtype); the rotation runs in float32:
    ``(a, b) -> (a cos - b sin, a sin + b cos)`` for every pair. Without autograd a
    float32 ``x`` is rotated in place (and returned), so pass a tensor you own.
    """
    n, length = x.shape[-2], cos.shape[0]
    if n % length:
        raise ValueError(f"cannot apply RoPE of {length} positions to {n} tokens")
    if x.dtype == torch.float32 and not (torch.is_grad_enabled() and x.requires_grad):
        # in place: no copy of a large key tensor (e.g. seven memory frames)
        grid = x.view(*x.shape[:-2], n // length, length, x.shape[-1])
        swapped = grid.unflatten(-1, (-1, 2)).flip(-1).flatten(-2)  # (b, a) per pair (a, b)
        grid.mul_(cos).addcmul_(swapped, sin)
        return x
    xf = x.float()
    shape = xf.shape
    xf = xf.reshape(*shape[:-2], n // length, length, shape[-1])
    swapped = xf.unflatten(-1, (-1, 2)).flip(-1).flatten(-2)
    out = torch.addcmul(xf * cos, swapped, sin)
    return out.reshape(shape).type_as(x)
