"""What the image predictor returns: candidate masks, their scores and logits.

In window mode a mask lives in a small window of a possibly huge image: the prediction
keeps it as a :class:`MaskCrop` (the window's pixels inside the frame plus their offset),
and the full-size ``masks`` are only built when someone reads them. A caller that writes
into a big label image (the napari plugin) uses :attr:`ImagePrediction.crop` instead and
touches only the pixels of the window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sam2_engine.focus.window import Window

__all__ = ["ImagePrediction", "MaskCrop"]


@dataclass(frozen=True)
class MaskCrop:
    """Masks of one prompt set, cropped to the region where they can be non-zero.

    Attributes
    ----------
    masks : numpy.ndarray
        (M, h, w) bool masks of the region (row, col).
    top, left : int
        Frame row and column of the region's first pixel (>= 0).
    frame_hw : tuple of int
        (H, W) of the frame the region belongs to.
    """

    masks: np.ndarray
    top: int
    left: int
    frame_hw: tuple[int, int]

    @property
    def slices(self) -> tuple[slice, slice]:
        """(rows, cols) of the region in the frame: ``frame[crop.slices]``."""
        h, w = self.masks.shape[-2:]
        return slice(self.top, self.top + h), slice(self.left, self.left + w)

    def full(self) -> np.ndarray:
        """(M, H, W) bool masks at frame size (False outside the region)."""
        out = np.zeros((self.masks.shape[0], *self.frame_hw), dtype=bool)
        out[(slice(None), *self.slices)] = self.masks
        return out


class ImagePrediction:
    """Masks for one prompt (or K prompts when several boxes/point sets are given).

    Attributes
    ----------
    masks
        (M, H, W) bool masks at the original size, or (K, M, H, W) for K prompts. In
        window mode they are built from :attr:`crop` on first access (and kept).
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
    crop
        In window mode, the masks cropped to the window inside the frame
        (:class:`MaskCrop`, a list of K for K prompts); None for whole-image decoding.
    """

    def __init__(
        self,
        masks: np.ndarray | None,
        scores: np.ndarray,
        logits: np.ndarray,
        object_scores: np.ndarray,
        window: Window | list[Window] | None = None,
        crop: MaskCrop | list[MaskCrop] | None = None,
    ) -> None:
        if masks is None and crop is None:
            raise ValueError("an ImagePrediction needs masks or a crop of them")
        self._masks = masks
        self.scores = scores
        self.logits = logits
        self.object_scores = object_scores
        self.window = window
        self.crop = crop

    @property
    def masks(self) -> np.ndarray:
        if self._masks is None:
            crop = self.crop
            assert crop is not None
            self._masks = (
                crop.full() if isinstance(crop, MaskCrop) else np.stack([c.full() for c in crop])
            )
        return self._masks

    @masks.setter
    def masks(self, value: np.ndarray) -> None:
        self._masks = value

    def __repr__(self) -> str:
        shape = None if self._masks is None else self._masks.shape
        return (
            f"ImagePrediction(masks={shape}, scores={np.round(self.scores, 3).tolist()}, "
            f"window={self.window!r})"
        )

    @property
    def best(self) -> int | np.ndarray:
        """Index (or (K,) indices) of the highest-scoring mask."""
        return np.argmax(self.scores, axis=-1)

    @property
    def mask(self) -> np.ndarray:
        """The highest-scoring mask: (H, W), or (K, H, W) for K prompts."""
        if self.scores.ndim == 1:
            if isinstance(self.crop, MaskCrop) and self._masks is None:
                best = self.crop
                return MaskCrop(
                    best.masks[[int(self.best)]], best.top, best.left, best.frame_hw
                ).full()[0]
            return self.masks[int(self.best)]
        return self.masks[np.arange(self.masks.shape[0]), self.best]
