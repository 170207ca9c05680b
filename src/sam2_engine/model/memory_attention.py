"""Memory attention: condition the current frame's features on the memory bank."""

from __future__ import annotations

import torch
from torch import nn

from sam2_engine.config import MemoryAttentionConfig
from sam2_engine.model.attention import RopeAttention


class MemoryAttentionLayer(nn.Module):
    """Pre-norm layer: RoPE self-attention, RoPE cross-attention to memory, MLP."""

    def __init__(self, dim: int, mem_dim: int, cfg: MemoryAttentionConfig) -> None:
        super().__init__()
        self.self_attn = RopeAttention(
            dim, cfg.num_heads, dropout=cfg.dropout, rope_theta=cfg.rope_theta
        )
        self.cross_attn_image = RopeAttention(
            dim, cfg.num_heads, kv_dim=mem_dim, dropout=cfg.dropout, rope_theta=cfg.rope_theta
        )
        self.linear1 = nn.Linear(dim, cfg.dim_feedforward)
        self.linear2 = nn.Linear(cfg.dim_feedforward, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        memory_keys: torch.Tensor,
        grid: tuple[int, int],
        num_ptr_tokens: int,
        key_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        """``memory_keys`` is ``memory`` plus its position encoding (keys; values are
        ``memory`` itself)."""
        h = self.norm1(x)
        x = x + self.dropout(self.self_attn(h, h, h, grid))
        h = self.norm2(x)
        x = x + self.dropout(
            self.cross_attn_image(h, memory_keys, memory, grid, num_ptr_tokens, key_mask)
        )
        h = self.norm3(x)
        h = self.linear2(self.dropout(torch.relu(self.linear1(h))))
        return x + self.dropout(h)


class MemoryAttention(nn.Module):
    """A stack of :class:`MemoryAttentionLayer` and a final LayerNorm."""

    def __init__(self, dim: int, mem_dim: int, cfg: MemoryAttentionConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            MemoryAttentionLayer(dim, mem_dim, cfg) for _ in range(cfg.num_layers)
        )
        self.norm = nn.LayerNorm(dim)

    def forward(
        self,
        current: torch.Tensor,
        current_pos: torch.Tensor,
        memory: torch.Tensor,
        memory_pos: torch.Tensor,
        grid: tuple[int, int],
        num_ptr_tokens: int = 0,
        key_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Attend from the current frame to its memories.

        Parameters
        ----------
        current, current_pos
            (B, h*w, C) features of the current frame and their position encoding,
            tokens in row-major order of the (h, w) = ``grid``.
        memory, memory_pos
            (B, M, mem_dim) memory tokens: spatial memories (multiples of h*w tokens)
            followed by ``num_ptr_tokens`` object-pointer tokens, and their encodings
            ((B or 1, M, mem_dim)).
        key_mask
            Optional (B, M) bool, False for padding tokens (objects with fewer memories).

        Returns
        -------
        Tensor of shape (B, h*w, C).
        """
        x = current + 0.1 * current_pos
        keys = memory + memory_pos  # the same for every layer: add once
        for layer in self.layers:
            x = layer(x, memory, keys, grid, num_ptr_tokens, key_mask)
        return self.norm(x)
