"""Multi-head attention with separate q/k/v projections, optional RoPE and key masking."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sam2_engine.model.rope import AxialRope, apply_rope


class Attention(nn.Module):
    """Attention whose inner width may be ``dim // downsample_rate``.

    Parameters
    ----------
    dim
        Width of the queries and of the output.
    num_heads
        Number of heads (must divide the inner width).
    downsample_rate
        Inner width is ``dim // downsample_rate``.
    kv_dim
        Width of keys/values if it differs from ``dim`` (memory tokens).
    dropout
        Attention dropout, used only in training mode.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        downsample_rate: int = 1,
        kv_dim: int | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        inner = dim // downsample_rate
        if inner % num_heads:
            raise ValueError(f"{num_heads} heads do not divide the attention width {inner}")
        kv_dim = kv_dim or dim
        self.num_heads = num_heads
        self.inner_dim = inner
        self.dropout = dropout
        self.q_proj = nn.Linear(dim, inner)
        self.k_proj = nn.Linear(kv_dim, inner)
        self.v_proj = nn.Linear(kv_dim, inner)
        self.out_proj = nn.Linear(inner, dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        return x.reshape(b, n, self.num_heads, c // self.num_heads).transpose(1, 2)

    def _attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_mask: torch.Tensor | None
    ) -> torch.Tensor:
        mask = None if key_mask is None else key_mask[:, None, None, :]
        p = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        b, _, n, _ = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(b, n, self.inner_dim))

    def forward(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        key_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Attend from (B, Nq, dim) queries to (B, Nk, kv_dim) keys/values.

        ``key_mask`` (B, Nk) bool marks the keys that may be attended to (padding is
        False); every row must keep at least one key.
        """
        q, k, v = (
            self._heads(self.q_proj(q)),
            self._heads(self.k_proj(k)),
            self._heads(self.v_proj(v)),
        )
        return self._attend(q, k, v, key_mask)


class RopeAttention(Attention):
    """Attention with 2D rotary encoding on the queries and on the spatial keys.

    Queries form an (h, w) grid; keys are several copies of that grid (e.g. memory
    frames) followed by ``num_plain_keys`` tokens that get no rotation (object pointers).
    """

    def __init__(self, *args, rope_theta: float = 10000.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rope = AxialRope(self.inner_dim // self.num_heads, rope_theta)

    def forward(  # type: ignore[override]
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        grid: tuple[int, int],
        num_plain_keys: int = 0,
        key_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        q, k, v = (
            self._heads(self.q_proj(q)),
            self._heads(self.k_proj(k)),
            self._heads(self.v_proj(v)),
        )
        cos, sin = self.rope.tables(grid[0], grid[1], q.device)
        q = apply_rope(q, cos, sin)
        n_rot = k.shape[-2] - num_plain_keys
        if n_rot > 0:
            rotated = apply_rope(k[:, :, :n_rot], cos, sin)
            if rotated.data_ptr() != k.data_ptr():  # rotated out of place (autograd)
                k = torch.cat([rotated, k[:, :, n_rot:]], dim=2) if num_plain_keys else rotated
        return self._attend(q, k, v, key_mask)
