"""Ending an object when the instance head sees no foreground under its mask.

SAM 2 keeps a propagated object alive as long as its object score stays positive. In a
z-stack of nuclei the score stays weakly positive on the out-of-focus blur above and
below a nucleus and on other nuclei there, so the object never ends. A model with an
instance head (:mod:`sam2_engine.model.instance_head`) says more directly whether a
pixel belongs to an object: after each tracked frame the head's foreground map of the
object's window is averaged inside the predicted mask, and an object whose mean stays
below :attr:`~sam2_engine.video.settings.SessionSettings.end_below_foreground` for
``end_after_frames`` consecutive frames is ended for the rest of the propagation pass
(its masks are empty and it is no longer tracked, so its memories cannot pull it back).
A new pass, or a prompted frame met on the way, starts it again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from sam2_engine.focus.window import Window
from sam2_engine.imaging.frames import imagenet_normalize
from sam2_engine.model.sam2 import LOGIT_CLAMP, SAM2Model
from sam2_engine.video.memory_bank import FrameOutput, ObjectTrack

__all__ = [
    "ObjectEnds",
    "ended_output",
    "mask_diameter",
    "mean_foreground",
    "object_diameter",
    "window_foreground",
]


def window_foreground(
    model: SAM2Model, rgb: torch.Tensor, window: Window, diameter: float
) -> torch.Tensor:
    """Foreground probability of the instance head in an object's window.

    The window is resampled so that the object (``diameter`` frame pixels across) has
    the size the head was trained at (``model.cfg.instance_head.diameter`` pixels), as
    :meth:`~sam2_engine.automatic.instances.InstanceSegmenter.maps` does: at the window
    view's own scale (the object a third of the input) the head sees objects about
    three times too large and its foreground breaks up inside them.

    Parameters
    ----------
    model
        A model with an instance head (``model.instance_head`` is not None).
    rgb
        (H, W, 3) float RGB frame in [0, 1].
    window
        The object's window on this frame.
    diameter
        The object's diameter in frame pixels.

    Returns
    -------
    Tensor
        (N, N) float32 foreground probability over the window, N a multiple of 32.
    """
    scale = float(model.cfg.instance_head.diameter) / max(float(diameter), 1.0)
    size = max(32, round(window.side * scale / 32.0) * 32)
    crop = window.crop(rgb, size)[None].to(model.device)
    logits = model.instance_maps(imagenet_normalize(crop).to(model.dtype))
    return logits[0, 0].float().sigmoid()


def mean_foreground(foreground: torch.Tensor, logits: torch.Tensor) -> float:
    """Mean foreground probability inside a mask; 0.0 for an empty mask.

    Parameters
    ----------
    foreground
        (N, N) foreground probability over the window.
    logits
        (1, s, s) low-resolution mask logits of the same window; the mask is
        ``logits > 0``.
    """
    mask = logits[0] > 0
    if not bool(mask.any()):
        return 0.0
    side = mask.shape[-1]
    fg = foreground.to(mask.device, torch.float32)[None, None]
    if fg.shape[-1] != side:
        shrink = fg.shape[-1] > side
        fg = F.interpolate(fg, size=(side, side), mode="bilinear", antialias=shrink)
    return float(fg[0, 0][mask].mean())


def mask_diameter(out: FrameOutput) -> float | None:
    """Equivalent diameter (frame pixels) of an output's mask; None if it is empty."""
    if out.logits is None or out.window is None:
        return None
    area = int((out.logits[0] > 0).sum())
    if area == 0:
        return None
    pixel = out.window.side / out.logits.shape[-1]
    return 2.0 * math.sqrt(area / math.pi) * pixel


def ended_output(last: FrameOutput) -> FrameOutput:
    """An empty output (negative logits and object score) in ``last``'s window."""
    assert last.logits is not None
    return FrameOutput(
        logits=torch.full_like(last.logits, -LOGIT_CLAMP),
        obj_ptr=last.obj_ptr,
        object_score=torch.full_like(last.object_score, -LOGIT_CLAMP),
        iou=torch.zeros_like(last.iou),
        memory=None,
        window=last.window,
    )


@dataclass
class ObjectEnds:
    """Which objects have ended in the current propagation pass.

    Parameters
    ----------
    threshold
        Mean foreground inside the mask below which a frame counts as low.
    after
        Consecutive low frames that end an object (the last of them is the first empty
        frame; earlier low frames keep their masks).
    """

    threshold: float
    after: int = 1
    low: dict[int, int] = field(default_factory=dict)
    ended: dict[int, FrameOutput] = field(default_factory=dict)  # obj_id -> empty output
    _diameters: dict[int, float] = field(default_factory=dict)

    def reset(self, obj_id: int | None = None) -> None:
        """Start again (every object, or one)."""
        if obj_id is None:
            self.low.clear()
            self.ended.clear()
            self._diameters.clear()
        else:
            self.low.pop(obj_id, None)
            self.ended.pop(obj_id, None)
            self._diameters.pop(obj_id, None)

    def is_ended(self, obj_id: int) -> bool:
        """Whether ``obj_id`` has ended in this pass."""
        return obj_id in self.ended

    def update(self, obj_id: int, mean: float, out: FrameOutput) -> bool:
        """Count one tracked frame; True when the object ends on it.

        Parameters
        ----------
        obj_id
            The object.
        mean
            Its mean foreground inside its mask on this frame (:func:`mean_foreground`).
        out
            Its output on this frame (the ended output takes its window).
        """
        if mean >= self.threshold:
            self.low.pop(obj_id, None)
            return False
        self.low[obj_id] = self.low.get(obj_id, 0) + 1
        if self.low[obj_id] < self.after:
            return False
        self.ended[obj_id] = ended_output(out)
        return True

    def check(
        self,
        model: SAM2Model,
        rgb: torch.Tensor,
        tracks: Sequence[ObjectTrack],
        frame: int,
        object_fraction: float = 0.3,
    ) -> None:
        """Measure each track's output on ``frame`` and end those that stay low.

        Parameters
        ----------
        model
            The tracking model (with an instance head).
        rgb
            (H, W, 3) float RGB of the frame in [0, 1].
        tracks
            Objects tracked on ``frame`` (their ``recent[frame]`` holds the output).
        frame
            The frame.
        object_fraction
            Object extent / window side, for an object whose prompted masks are empty.
        """
        for track in tracks:
            out = track.recent[frame]
            assert out.logits is not None and out.window is not None
            diameter = self._diameters.get(track.obj_id)
            if diameter is None:
                diameter = object_diameter(track, frame, object_fraction)
                self._diameters[track.obj_id] = diameter
            fg = window_foreground(model, rgb, out.window, diameter)
            self.update(track.obj_id, mean_foreground(fg, out.logits), out)


def object_diameter(track: ObjectTrack, frame: int, object_fraction: float = 0.3) -> float:
    """An object's diameter (frame pixels): its mask on the prompted frame nearest
    ``frame``, else its window side times ``object_fraction``."""
    for f in sorted(track.cond, key=lambda f: abs(f - frame)):
        d = mask_diameter(track.cond[f])
        if d is not None:
            return d
    return float(track.window_side or 0) * object_fraction or 1.0
