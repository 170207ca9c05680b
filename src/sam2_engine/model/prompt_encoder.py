"""Prompt encoder: points/box corners to sparse tokens, a mask to a dense embedding.

Point labels follow the SAM convention: 1 positive click, 0 negative click, 2 a box's
top-left corner, 3 its bottom-right corner, -1 padding (no point). Boxes are always
given as two labelled corner points, so there is a single code path for both.
"""

from __future__ import annotations

from enum import IntEnum

import torch
from torch import nn

from sam2_engine.model.common import downscaler
from sam2_engine.model.position import RandomFourierEncoding


class PromptLabel(IntEnum):
    """Point labels of the SAM prompt encoder (the one set of codes of the project)."""

    PAD = -1  # no point (padding)
    NEGATIVE = 0  # background click
    POSITIVE = 1  # object click
    BOX_TOP_LEFT = 2  # a box's (x0, y0) corner
    BOX_BOTTOM_RIGHT = 3  # a box's (x1, y1) corner


BOX_LABELS = (PromptLabel.BOX_TOP_LEFT, PromptLabel.BOX_BOTTOM_RIGHT)


class PromptEncoder(nn.Module):
    """Embed prompts for the mask decoder.

    Parameters
    ----------
    dim
        Token width (the model's ``d_model``).
    embedding_size
        Side of the square image embedding (``image_size // 16``).
    image_size
        Side of the square model input in pixels.
    mask_in_chans
        Hidden channels of the mask downscaling network.
    """

    def __init__(self, dim: int, embedding_size: int, image_size: int, mask_in_chans: int) -> None:
        super().__init__()
        self.dim = dim
        self.embedding_size = (embedding_size, embedding_size)
        self.image_size = (image_size, image_size)
        self.mask_input_size = (4 * embedding_size, 4 * embedding_size)
        self.pe_layer = RandomFourierEncoding(dim // 2)
        # one learnt offset per label 0..3 and one token for padding
        self.point_embeddings = nn.ModuleList(nn.Embedding(1, dim) for _ in range(4))
        self.not_a_point_embed = nn.Embedding(1, dim)
        self.mask_downscaling = downscaler(1, mask_in_chans, dim)
        self.no_mask_embed = nn.Embedding(1, dim)

    def dense_pe(self) -> torch.Tensor:
        """(1, dim, h, w) position encoding of the image embedding grid."""
        return self.pe_layer.grid(*self.embedding_size).unsqueeze(0)

    def embed_points(self, coords: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """(B, N, 2) pixel (x, y) points and (B, N) labels -> (B, N + 1, dim) tokens.

        A padding point is always appended (the official models were trained so).
        """
        b = coords.shape[0]
        coords = torch.cat([coords + 0.5, coords.new_zeros(b, 1, 2)], dim=1)  # pixel centres
        labels = torch.cat([labels, labels.new_full((b, 1), PromptLabel.PAD)], dim=1)
        emb = self.pe_layer.points(coords, self.image_size)
        labels = labels.unsqueeze(-1)
        pad = self.not_a_point_embed.weight.expand_as(emb)
        emb = torch.where(labels == PromptLabel.PAD, pad, emb)
        for value, table in enumerate(self.point_embeddings):
            emb = torch.where(labels == value, emb + table.weight, emb)
        return emb

    def embed_mask(self, mask_logits: torch.Tensor | None, batch: int) -> torch.Tensor:
        """(B, 1, 4h, 4w) mask logits (or None) -> (B, dim, h, w) dense embedding."""
        if mask_logits is None:
            h, w = self.embedding_size
            return self.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(batch, -1, h, w)
        return self.mask_downscaling(mask_logits)
