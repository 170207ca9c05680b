"""Small layers shared by the model's blocks."""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn


class MLP(nn.Module):
    """A stack of ``num_layers`` linear layers with an activation between them.

    Parameters
    ----------
    in_dim, hidden_dim, out_dim
        Widths of the input, the hidden layers and the output.
    num_layers
        Number of linear layers (``>= 1``).
    activation
        Module class applied after every layer but the last.
    sigmoid_output
        Apply a sigmoid to the output.
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int,
        out_dim: int,
        num_layers: int,
        activation: type[nn.Module] = nn.ReLU,
        sigmoid_output: bool = False,
    ) -> None:
        super().__init__()
        dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in itertools.pairwise(dims))
        self.act = activation()
        self.sigmoid_output = sigmoid_output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < last:
                x = self.act(x)
        return torch.sigmoid(x) if self.sigmoid_output else x


class LayerNorm2d(nn.Module):
    """Layer normalisation over the channel axis of a (B, C, H, W) tensor."""

    def __init__(self, num_channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(1, keepdim=True)
        var = (x - mean).pow(2).mean(1, keepdim=True)
        x = (x - mean) / torch.sqrt(var + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


class DropPath(nn.Module):
    """Stochastic depth: drop whole residual branches per sample while training."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        return x * x.new_empty(shape).bernoulli_(keep).div_(keep)


def activation_fn(name: str):
    """The functional activation called ``name`` ("relu", "gelu" or "glu")."""
    table = {"relu": F.relu, "gelu": F.gelu, "glu": F.glu}
    if name not in table:
        raise ValueError(f"unknown activation {name!r}; use one of {sorted(table)}")
    return table[name]


def downscaler(in_chans: int, hidden: int, out_dim: int) -> nn.Sequential:
    """SAM's mask-prompt network: two stride-2 convolutions (LayerNorm2d + GELU), then a
    1x1 projection: (B, in_chans, 4h, 4w) -> (B, out_dim, h, w).

    The layer order is part of the official checkpoint layout (``mask_downscaling.0`` ...
    ``.6``); prompt maps reuse the same shape for their three input maps.
    """
    quarter = max(hidden // 4, 1)
    return nn.Sequential(
        nn.Conv2d(in_chans, quarter, kernel_size=2, stride=2),
        LayerNorm2d(quarter),
        nn.GELU(),
        nn.Conv2d(quarter, hidden, kernel_size=2, stride=2),
        LayerNorm2d(hidden),
        nn.GELU(),
        nn.Conv2d(hidden, out_dim, kernel_size=1),
    )
