"""What a tracking session yields per frame: the objects' masks, scores and logits.

Masks of whole-frame sessions are computed at once, (K, H, W). In window mode every
object was segmented in its own window (:mod:`sam2_engine.focus`): the masks are then
pasted into the frame only when asked for, and :meth:`FrameResult.label_image` builds the
frame's label image window by window, so that a frame of hundreds of small objects never
needs K full-frame arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from sam2_engine.focus.window import Window

if TYPE_CHECKING:
    from sam2_engine.video.memory_bank import FrameOutput

__all__ = ["FrameResult"]


class FrameResult:
    """Masks of several objects on one frame.

    Attributes
    ----------
    frame : int
        Frame (or z-plane) index.
    obj_ids : list of int
        Object ids, in the order of the arrays below.
    scores : numpy.ndarray
        (K,) predicted IoU of each mask.
    object_scores : numpy.ndarray
        (K,) object-presence logits (> 0: the object is visible on this frame).
    logits : numpy.ndarray
        (K, S/4, S/4) float32 low-resolution mask logits (in window coordinates in
        window mode).
    windows : list of Window or None
        Window mode: where each object was segmented; None for whole frames.
    """

    def __init__(
        self,
        frame: int,
        obj_ids: list[int],
        masks: np.ndarray | None,
        scores: np.ndarray,
        object_scores: np.ndarray,
        logits: np.ndarray,
        *,
        windows: Sequence[Window] | None = None,
        frame_hw: tuple[int, int] | None = None,
        exclusive: bool = False,
    ) -> None:
        self.frame = int(frame)
        self.obj_ids = list(obj_ids)
        self.scores = scores
        self.object_scores = object_scores
        self.logits = logits
        self.windows = None if windows is None else list(windows)
        self._masks = masks
        self._frame_hw = frame_hw
        self._exclusive = exclusive
        if masks is None and (windows is None or frame_hw is None):
            raise ValueError("a FrameResult needs masks, or windows and the frame size")

    def __repr__(self) -> str:
        return f"FrameResult(frame={self.frame}, obj_ids={self.obj_ids})"

    @classmethod
    def empty(cls, frame: int, frame_hw: tuple[int, int], side: int) -> FrameResult:
        """A frame without objects: (0, H, W) masks and (0, side, side) logits."""
        z = np.zeros(0, dtype=np.float32)
        masks = np.zeros((0, *frame_hw), dtype=bool)
        return cls(frame, [], masks, z, z, np.zeros((0, side, side), np.float32))

    @classmethod
    def from_windows(
        cls,
        frame: int,
        ids: list[int],
        outs: Sequence[FrameOutput],
        frame_hw: tuple[int, int],
        side: int,
        exclusive: bool,
    ) -> FrameResult:
        """The result of objects each segmented in its own window (window and tile views).

        Parameters
        ----------
        frame
            Frame index.
        ids
            Object ids, in the order of ``outs``.
        outs
            Each object's output, its (1, side, side) logits in its ``window``.
        frame_hw
            (H, W) of the frame.
        side
            Low-resolution logit side (four times the embedding side).
        exclusive
            Whether each pixel goes to one object when the masks are pasted.
        """
        if not outs:
            return cls.empty(frame, frame_hw, side)
        return cls(
            frame,
            ids,
            None,
            torch.cat([o.iou for o in outs]).cpu().numpy(),
            torch.cat([o.object_score for o in outs]).cpu().numpy(),
            torch.stack([o.logits[0] for o in outs]).float().cpu().numpy(),  # type: ignore[index]
            windows=[o.window for o in outs],  # type: ignore[misc]
            frame_hw=frame_hw,
            exclusive=exclusive,
        )

    @property
    def masks(self) -> np.ndarray:
        """(K, H, W) bool masks at the frame size (pasted from the windows on first use)."""
        if self._masks is None:
            assert self._frame_hw is not None
            labels = self.label_image() if self._exclusive else None
            out = np.zeros((len(self.obj_ids), *self._frame_hw), dtype=bool)
            for i in range(len(self.obj_ids)):
                if labels is not None:
                    out[i] = labels == i + 1
                else:
                    region, crop = self._crop(i)
                    out[i][region] = crop > 0
            self._masks = out
        return self._masks

    def mask_of(self, obj_id: int) -> np.ndarray:
        """(H, W) mask of one object; raises ``KeyError`` if it is not in this result."""
        if obj_id not in self.obj_ids:
            raise KeyError(f"object {obj_id} is not in this result; ids: {self.obj_ids}")
        return self.masks[self.obj_ids.index(obj_id)]

    def label_image(self, ids: Sequence[int] | None = None) -> np.ndarray:
        """(H, W) int32 label image: pixel value ``k`` is ``ids[k - 1]`` (default: the
        object's position + 1), 0 background; a pixel claimed by several objects goes to
        the one with the highest logit there."""
        values = np.arange(1, len(self.obj_ids) + 1) if ids is None else np.asarray(ids)
        if self.windows is None:
            masks = self.masks
            out = np.zeros(masks.shape[1:], dtype=np.int32)
            for i in range(len(masks)):
                out[masks[i] & (out == 0)] = values[i]
            return out
        assert self._frame_hw is not None
        out = np.zeros(self._frame_hw, dtype=np.int32)
        best = np.full(self._frame_hw, 0.0, dtype=np.float32)
        for i in range(len(self.obj_ids)):
            region, crop = self._crop(i)
            wins = (crop > 0) & (crop > best[region])
            best[region][wins] = crop[wins]
            out[region][wins] = values[i]
        return out

    def _crop(self, i: int) -> tuple[tuple[slice, slice], np.ndarray]:
        """Object ``i``'s logits upsampled to its window, clipped to the frame."""
        assert self.windows is not None and self._frame_hw is not None
        w = self.windows[i]
        h, wd = self._frame_hw
        up = F.interpolate(
            torch.from_numpy(self.logits[i])[None, None].float(),
            size=(w.side, w.side),
            mode="bilinear",
            align_corners=False,
        )[0, 0].numpy()
        y0, x0 = max(w.top, 0), max(w.left, 0)
        y1, x1 = min(w.top + w.side, h), min(w.left + w.side, wd)
        crop = up[y0 - w.top : y1 - w.top, x0 - w.left : x1 - w.left]
        return (slice(y0, y1), slice(x0, x1)), crop
