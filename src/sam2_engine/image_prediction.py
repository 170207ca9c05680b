"""What the image predictor returns: candidate masks, their scores and logits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sam2_engine.focus.window import Window

__all__ = ["ImagePrediction"]


@dataclass
class ImagePrediction:
    """Masks for one prompt (or K prompts when several boxes/point sets are given).

    Attributes
    ----------
    masks
        (M, H, W) bool masks at the original size, or (K, M, H, W) for K prompts.
    scores
        (M,) or (K, M) predicted IoU of each mask.
    logits
        (M, S/4, S/4) or (K, M, S/4, S/4) low-resolution logits, clamped to +-32; feed
        one back as ``mask_input`` to refine with more clicks.
    object_scores
        () or (K,) object-presence logits.
    window
        In window mode, the :class:`~sam2_engine.focus.window.Window` the prompt was
        decoded in (a list of K for K prompts; ``logits`` are in its coordinates); None
        for whole-image decoding.
    """

    masks: np.ndarray
    scores: np.ndarray
    logits: np.ndarray
    object_scores: np.ndarray
    window: Window | list[Window] | None = None

    @property
    def best(self) -> int | np.ndarray:
        """Index (or (K,) indices) of the highest-scoring mask."""
        return np.argmax(self.scores, axis=-1)

    @property
    def mask(self) -> np.ndarray:
        """The highest-scoring mask: (H, W), or (K, H, W) for K prompts."""
        if self.masks.ndim == 3:
            return self.masks[int(self.best)]
        return self.masks[np.arange(self.masks.shape[0]), self.best]
