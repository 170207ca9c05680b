"""How a tracking session looks at a frame: the whole frame at once (the official way).

A *frame view* turns prompts into model-input tensors, hands out image features for the
objects of a frame, gives each object the memories it reads and assembles the frame's
result. :class:`WholeFrameView` squashes the whole frame into the model input, as SAM 2
does; :class:`~sam2_engine.focus.window_view.ObjectWindowView` looks at every object
through its own window. The session (:mod:`sam2_engine.video.session`) is the same for
both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from sam2_engine.focus.window import Window
from sam2_engine.focus.window_cache import WindowFeatureCache
from sam2_engine.imaging.frames import resize_to_model
from sam2_engine.model.image_encoder import ImageFeatures
from sam2_engine.model.sam2 import SAM2Model
from sam2_engine.prompts import corners_first, to_model_coords
from sam2_engine.video.frame_result import FrameResult
from sam2_engine.video.memory_bank import FrameOutput, ObjectTrack

if TYPE_CHECKING:
    from sam2_engine.embedding_cache import EmbeddingCache

__all__ = ["FramePrompt", "PromptInput", "WholeFrameView"]

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


@dataclass(frozen=True)
class FramePrompt:
    """One object's prompt on a frame, in frame pixels, as the session checked it.

    Attributes
    ----------
    points, labels
        (N, 2) float (x, y) pixels and (N,) int labels (1 positive, 0 negative), or None.
    box
        (4,) box (x0, y0, x1, y1) in pixels, or None.
    mask
        (H, W) bool mask at the frame size, or None (then points and/or a box are given).
    """

    points: np.ndarray | None = None
    labels: np.ndarray | None = None
    box: np.ndarray | None = None
    mask: np.ndarray | None = None


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
        self._features = WindowFeatureCache(
            model, 0, max_images=max(1, cache_size), encode=self._encode
        )

    def prompt_input(self, track: ObjectTrack, frame: int, prompt: FramePrompt) -> PromptInput:
        """A prompt in model pixels (frame points/box are (x, y); mask is (H, W))."""
        dev, size = self.model.device, self.model.image_size
        if prompt.mask is not None:
            return PromptInput(None, mask=binary_mask_input(prompt.mask, size, dev))
        pts, lab = corners_first(prompt.points, prompt.labels, prompt.box)
        xy = to_model_coords(pts, self.frame_hw, size, dev)
        return PromptInput(None, xy, torch.as_tensor(lab, device=dev))

    def tracking_window(self, track: ObjectTrack, frame: int, reverse: bool) -> Window | None:
        return None

    def features(self, frame: int, windows: list[Window | None]) -> ImageFeatures:
        """Features of the frame (batch 1: every object reads the same)."""
        return self._features.get(frame, [None], lambda: self._load(frame))

    def _encode(self, rgb: torch.Tensor, windows: list[Window | None]) -> ImageFeatures:
        """Features of a (H, W, 3) frame squashed into the model input (the disk cache's
        if it holds them)."""
        x = resize_to_model(rgb.to(self.model.device, non_blocking=True), self.model.image_size)
        return (
            self._disk.encode(self.model, x)
            if self._disk is not None
            else self.model.encode_image(x)
        )

    def memories(
        self, track: ObjectTrack, window: Window | None
    ) -> tuple[Mapping[int, FrameOutput], Mapping[int, FrameOutput]]:
        """The conditioning and recent outputs the object reads (as they are)."""
        return track.cond, track.recent

    def nbytes(self) -> int:
        return self._features.nbytes()

    def result(
        self, frame: int, ids: list[int], outs: list[FrameOutput], exclusive: bool
    ) -> FrameResult:
        """Masks at the frame size; with ``exclusive`` each pixel goes to one object."""
        h, w = self.frame_hw
        if not outs:
            return FrameResult.empty(frame, self.frame_hw, self.model.embedding_size * 4)
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
