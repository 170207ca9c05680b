"""Hiera: the hierarchical vision transformer trunk of SAM 2's image encoder.

Four stages of transformer blocks on a (B, H, W, C) token map. At each of the first
``q_pool`` stage changes, the first block of the new stage max-pools its *queries*
(2 x 2), halving the resolution while doubling channels and heads. Most blocks attend
inside non-overlapping windows; a few "global" blocks attend over the whole map.
Stage outputs are returned from fine (stride 4) to coarse (stride 32).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from sam2_engine.config import TrunkConfig
from sam2_engine.model.common import MLP, DropPath


def _max_pool(x: torch.Tensor, stride: tuple[int, int]) -> torch.Tensor:
    """Max-pool a (B, H, W, C) map by ``stride`` (floor), keeping channels last."""
    x = F.max_pool2d(x.permute(0, 3, 1, 2), kernel_size=stride, stride=stride)
    return x.permute(0, 2, 3, 1)


def _padded(n: int, window: int) -> int:
    return n + (window - n % window) % window


def to_windows(x: torch.Tensor, window: int) -> torch.Tensor:
    """Split (B, H, W, C) into (B * nh * nw, window, window, C), zero-padding H and W."""
    b, h, w, c = x.shape
    hp, wp = _padded(h, window), _padded(w, window)
    if (hp, wp) != (h, w):
        x = F.pad(x, (0, 0, 0, wp - w, 0, hp - h))
    x = x.view(b, hp // window, window, wp // window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window, window, c)


def from_windows(windows: torch.Tensor, window: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`to_windows` for a map of (unpadded) size (h, w)."""
    hp, wp = _padded(h, window), _padded(w, window)
    b = windows.shape[0] // ((hp // window) * (wp // window))
    x = windows.reshape(b, hp // window, wp // window, window, window, -1)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, -1)
    return x[:, :h, :w, :]


class PatchEmbed(nn.Module):
    """Strided convolution from pixels to a channels-last token map."""

    def __init__(self, dim: int, kernel: int = 7, stride: int = 4, padding: int = 3) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=kernel, stride=stride, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).permute(0, 2, 3, 1)


class PooledAttention(nn.Module):
    """Multi-head self-attention whose queries may be max-pooled (stage changes)."""

    def __init__(
        self, dim: int, dim_out: int, num_heads: int, q_stride: tuple[int, int] | None
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q_stride = q_stride
        self.qkv = nn.Linear(dim, dim_out * 3)
        self.proj = nn.Linear(dim_out, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        qkv = self.qkv(x).reshape(b, h * w, 3, self.num_heads, -1)
        q, k, v = qkv.unbind(2)  # each (B, HW, heads, head_dim)
        if self.q_stride is not None:
            q = _max_pool(q.reshape(b, h, w, -1), self.q_stride)
            h, w = q.shape[1:3]
            q = q.reshape(b, h * w, self.num_heads, -1)
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        )
        return self.proj(out.transpose(1, 2).reshape(b, h, w, -1))


class HieraBlock(nn.Module):
    """Pre-norm transformer block with optional windowing and query pooling."""

    def __init__(
        self,
        dim: int,
        dim_out: int,
        num_heads: int,
        window: int,
        q_stride: tuple[int, int] | None,
        mlp_ratio: float,
        drop_path: float,
    ) -> None:
        super().__init__()
        self.dim, self.dim_out = dim, dim_out
        self.window = window  # 0 means global attention
        self.q_stride = q_stride
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = PooledAttention(dim, dim_out, num_heads, q_stride)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim_out, eps=1e-6)
        self.mlp = MLP(dim_out, int(dim_out * mlp_ratio), dim_out, 2, activation=nn.GELU)
        if dim != dim_out:
            self.proj = nn.Linear(dim, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.norm1(x)
        if self.dim != self.dim_out:
            shortcut = self.proj(x)
            if self.q_stride is not None:
                shortcut = _max_pool(shortcut, self.q_stride)
        if self.window > 0:
            x = self.attn(to_windows(x, self.window))
            window = self.window // self.q_stride[0] if self.q_stride else self.window
            x = from_windows(x, window, shortcut.shape[1], shortcut.shape[2])
        else:
            x = self.attn(x)
        x = shortcut + self.drop_path(x)
        return x + self.drop_path(self.mlp(self.norm2(x)))


@dataclass(frozen=True)
class _BlockPlan:
    dim: int
    dim_out: int
    heads: int
    window: int
    pools: bool


def plan_blocks(cfg: TrunkConfig) -> tuple[list[_BlockPlan], list[int]]:
    """Widths, heads, windows and pooling of every block; and the stage-end indices.

    The first block of a stage still sees the previous stage's resolution (it pools its
    own queries), so it uses the previous stage's window size.
    """
    stage_ends = [sum(cfg.stages[: i + 1]) - 1 for i in range(len(cfg.stages))]
    pool_blocks = {end + 1 for end in stage_ends[:-1][: cfg.q_pool]}
    dim, heads, stage = cfg.embed_dim, cfg.num_heads, 0
    plans = []
    for i in range(sum(cfg.stages)):
        window = 0 if i in cfg.global_att_blocks else cfg.window_spec[stage]
        dim_out = dim
        if i - 1 in stage_ends:  # first block of a new stage
            dim_out = int(dim * cfg.dim_mul)
            heads = int(heads * cfg.head_mul)
            stage += 1
        plans.append(_BlockPlan(dim, dim_out, heads, window, i in pool_blocks))
        dim = dim_out
    return plans, stage_ends


class Hiera(nn.Module):
    """The trunk; ``forward`` maps (B, 3, S, S) images to one map per stage.

    Returns
    -------
    list of Tensor
        Stage outputs (B, C_i, S / 4 / 2**i, S / 4 / 2**i) for i = 0..3 (fine to coarse).
    """

    def __init__(self, cfg: TrunkConfig) -> None:
        super().__init__()
        plans, self.stage_ends = plan_blocks(cfg)
        self.patch_embed = PatchEmbed(
            cfg.embed_dim, cfg.patch_kernel, cfg.patch_stride, cfg.patch_padding
        )
        bkg = cfg.window_pos_embed_bkg_spatial_size
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.embed_dim, bkg[0], bkg[1]))
        win = cfg.window_spec[0]
        self.pos_embed_window = nn.Parameter(torch.zeros(1, cfg.embed_dim, win, win))
        n = len(plans)
        rates = [cfg.drop_path_rate * i / max(n - 1, 1) for i in range(n)]  # linear decay rule
        q_stride = (cfg.q_stride[0], cfg.q_stride[1])
        self.blocks = nn.ModuleList(
            HieraBlock(
                p.dim,
                p.dim_out,
                p.heads,
                p.window,
                q_stride if p.pools else None,
                cfg.mlp_ratio,
                rate,
            )
            for p, rate in zip(plans, rates, strict=True)
        )
        self.channel_list = [plans[e].dim_out for e in self.stage_ends[::-1]]
        self._pos_cache: dict[tuple, torch.Tensor] = {}

    def position_embedding(self, h: int, w: int) -> torch.Tensor:
        """Background embedding resized to (h, w) plus the tiled window embedding.

        Returns a (1, h, w, C) tensor. ``h`` and ``w`` must be multiples of the first
        window size (true for inputs that are multiples of 32 pixels). Without autograd
        the result is cached until the two embeddings change (e.g. weights are loaded).
        """
        caching = not torch.is_grad_enabled()
        key = (
            h,
            w,
            self.pos_embed.device,
            self.pos_embed.dtype,
            self.pos_embed._version,
            self.pos_embed_window._version,
        )
        if caching and key in self._pos_cache:
            return self._pos_cache[key]
        bkg = F.interpolate(self.pos_embed, size=(h, w), mode="bicubic")
        win = self.pos_embed_window
        reps = (1, 1, h // win.shape[-2], w // win.shape[-1])
        pos = (bkg + win.tile(reps)).permute(0, 2, 3, 1)
        if caching:
            self._pos_cache = {key: pos}
        return pos

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.patch_embed(x)
        x = x + self.position_embedding(x.shape[1], x.shape[2])
        outputs = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.stage_ends:
                outputs.append(x.permute(0, 3, 1, 2))
        return outputs
