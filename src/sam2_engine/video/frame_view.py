"""How a tracking session looks at a frame: the whole frame at once (the official way).

A *frame view* turns prompts into model-input tensors, hands out image features for the
objects of a frame, gives each object the memories it reads and assembles the frame's
result. :class:`WholeFrameView` squashes the whole frame into the model input, as SAM 2
does; :class:`~sam2_engine.focus.window_view.ObjectWindowView` looks at every object
through its own window. The session (:mod:`sam2_engine.video.session`) is the same for
both.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from sam2_engine.focus.window import Window
from sam2_engine.imaging.frames import resize_to_model
from sam2_engine.model.image_encoder import ImageFeatures
from sam2_engine.model.prompt_encoder import BOX_LABELS
from sam2_engine.model.sam2 import SAM2Model
from sam2_engine.prompts import to_model_coords
from sam2_engine.video.frame_result import FrameResult
from sam2_engine.video.memory_bank import FrameOutput, ObjectTrack

if TYPE_CHECKING:
    from sam2_engine.embedding_cache import EmbeddingCache

__all__ = ["PromptInput", "WholeFrameView"]

FrameLoader = Callable[[int], torch.Tensor]  # frame -> (H, W, 3) float32 RGB in [0, 1]


@dataclass
class PromptInput:
    """A prompt in model-input pixels, and the window it refers to.

    Attributes
    ----------
    window
        Window mode: the window of the prompt; None for the whole frame.
    points, labels
        (N, 2) float32 (x, y) model-input pixels and (N,) int32 labels (box corners
        first), or None for a mask prompt.
    mask
        (1, S, S) float32 {0, 1} mask prompt, or None.
    """

    window: Window | None
    points: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    mask: torch.Tensor | None = None


def corner_points(
    points: np.ndarray | None, labels: np.ndarray | None, box: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) frame points with the box's two corners first, and their (N,) labels."""
    pts = np.zeros((0, 2)) if points is None else np.asarray(points, dtype=np.float64)
    lab = np.zeros(0, dtype=np.int32) if labels is None else np.asarray(labels, dtype=np.int32)
    if box is not None:
        pts = np.concatenate([np.asarray(box, dtype=np.float64).reshape(2, 2), pts])
        lab = np.concatenate([np.array(BOX_LABELS, dtype=np.int32), lab])
    return pts, lab


def binary_mask_input(mask: np.ndarray, size: int, device: torch.device) -> torch.Tensor:
    """(H, W) mask -> (1, S, S) float32 {0, 1} at the model input size."""
    t = torch.as_tensor(np.asarray(mask, dtype=np.float32), device=device)[None, None]
    if t.shape[-2:] != (size, size):
        t = F.interpolate(
            t, size=(size, size), mode="bilinear", align_corners=False, antialias=True
        )
        t = (t >= 0.5).float()
    return t[0]


class WholeFrameView:
    """The whole frame, resized to the model input (see module docstring).

    Parameters
    ----------
    model
        The SAM 2 model.
    frame_hw
        (H, W) of the frames.
    load
        Reads a frame's RGB.
    cache_size
        Frames whose features are kept.
    disk
        Optional on-disk embedding cache: a frame whose encoder input is there is not
        encoded again (reopening a time-lapse).
    """

    windowed = False
    tiled = False

    def __init__(
        self,
        model: SAM2Model,
        frame_hw: tuple[int, int],
        load: FrameLoader,
        cache_size: int,
        disk: EmbeddingCache | None = None,
    ) -> None:
        self.model = model
        self.frame_hw = frame_hw
        self._load = load
        self._disk = disk
        self._cache_size = max(1, cache_size)
        self._features: OrderedDict[int, ImageFeatures] = OrderedDict()

    def prompt_input(
        self,
        track: ObjectTrack,
        frame: int,
        points: np.ndarray | None,
        labels: np.ndarray | None,
        box: np.ndarray | None,
        mask: np.ndarray | None,
    ) -> PromptInput:
        """A prompt in model pixels (frame points/box are (x, y); mask is (H, W))."""
        dev, size = self.model.device, self.model.image_size
        if mask is not None:
            return PromptInput(None, mask=binary_mask_input(mask, size, dev))
        pts, lab = corner_points(points, labels, box)
        xy = to_model_coords(pts, self.frame_hw, size, dev)
        return PromptInput(None, xy, torch.as_tensor(lab, device=dev))

    def tracking_window(self, track: ObjectTrack, frame: int, reverse: bool) -> Window | None:
        return None

    def features(self, frame: int, windows: list[Window | None]) -> ImageFeatures:
        """Features of the frame (batch 1: every object reads the same)."""
        cached = self._features.get(frame)
        if cached is not None:
            self._features.move_to_end(frame)
            return cached
        rgb = self._load(frame).to(self.model.device, non_blocking=True)
        x = resize_to_model(rgb, self.model.image_size)
        feats = (
            self._disk.encode(self.model, x)
            if self._disk is not None
            else self.model.encode_image(x)
        )
        self._features[frame] = feats
        while len(self._features) > self._cache_size:
            self._features.popitem(last=False)
        return feats

    def memories(
        self, track: ObjectTrack, window: Window | None
    ) -> tuple[Mapping[int, FrameOutput], Mapping[int, FrameOutput]]:
        """The conditioning and recent outputs the object reads (as they are)."""
        return track.cond, track.recent

    def nbytes(self) -> int:
        return sum(f.nbytes() for f in self._features.values())

    def result(
        self, frame: int, ids: list[int], outs: list[FrameOutput], exclusive: bool
    ) -> FrameResult:
        """Masks at the frame size; with ``exclusive`` each pixel goes to one object."""
        h, w = self.frame_hw
        if not outs:
            return _empty_result(frame, self.frame_hw, self.model.embedding_size * 4)
        logits = torch.stack([o.logits for o in outs]).to(self.model.device)  # type: ignore[misc]
        video = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False)
        if exclusive and len(outs) > 1:
            winner = video.argmax(dim=0, keepdim=True)
            keep = winner == torch.arange(len(outs), device=video.device)[:, None, None, None]
            video = torch.where(keep, video, video.clamp(max=-10.0))
        return FrameResult(
            frame,
            ids,
            (video[:, 0] > 0).cpu().numpy(),
            torch.cat([o.iou for o in outs]).cpu().numpy(),
            torch.cat([o.object_score for o in outs]).cpu().numpy(),
            logits[:, 0].cpu().numpy(),
        )


def _empty_result(frame: int, hw: tuple[int, int], side: int) -> FrameResult:
    z = np.zeros(0, dtype=np.float32)
    empty = np.zeros((0, *hw), dtype=bool)
    return FrameResult(frame, [], empty, z, z, np.zeros((0, side, side), np.float32))
