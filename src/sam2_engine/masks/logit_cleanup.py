"""Turning low-resolution mask logits into masks: the predictor's clean-up settings.

A frozen settings object, so that code decoding for a predictor (e.g. the windowed
prompts of :mod:`sam2_engine.focus.image_prompts`) is given the settings it needs
rather than the predictor that owns them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from sam2_engine.masks.postprocess import fill_small_holes, remove_small_islands

__all__ = ["MaskCleanup"]


@dataclass(frozen=True)
class MaskCleanup:
    """How logits become masks.

    Attributes
    ----------
    threshold : float
        Logit threshold that turns logits into masks.
    max_hole_area, max_sprinkle_area : int
        If > 0, fill holes / remove islands up to this area (in low-resolution pixels)
        before upsampling; runs on CPU.
    """

    threshold: float = 0.0
    max_hole_area: int = 0
    max_sprinkle_area: int = 0

    def clean(self, logits: torch.Tensor) -> torch.Tensor:
        """Fill small holes / remove small islands of (K, M, h, w) logits (if asked)."""
        if self.max_hole_area > 0:
            logits = fill_small_holes(logits, self.max_hole_area, threshold=self.threshold)
        if self.max_sprinkle_area > 0:
            logits = remove_small_islands(logits, self.max_sprinkle_area, threshold=self.threshold)
        return logits

    def masks(self, logits: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        """Low-resolution logits (K, M, h, w) -> (K, M, H, W) bool masks at ``hw`` (rows, cols)."""
        up = F.interpolate(self.clean(logits), size=hw, mode="bilinear", align_corners=False)
        return up > self.threshold
