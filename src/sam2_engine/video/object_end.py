"""Ending a propagated object where it fades (instance head) or leaves (z-continuity).

SAM 2 keeps a propagated object alive as long as its object score stays positive. In a
z-stack of nuclei the score stays weakly positive on the out-of-focus blur above and
below a nucleus and on other nuclei there, so the object never ends. Four rules end it
(each off unless :class:`~sam2_engine.video.settings.SessionSettings` turns it on;
:meth:`~sam2_engine.video.settings.SessionSettings.for_z` turns on the z profile):

* **foreground** (models with an instance head, :mod:`sam2_engine.model.instance_head`,
  window sessions): after each tracked frame the head's foreground map of the object's
  window is averaged inside the predicted mask; a frame is *low* when that mean is below
  ``end_below_foreground``, or below ``end_below_prompt_foreground`` times the same mean
  on the object's nearest prompted frame (relative: judged against its own contrast);
  ``end_after_frames`` consecutive low frames end the object;
* **object score** (``end_below_object_score``, any model): a frame is also *low* when
  SAM 2's object score, positive on every plane it keeps the object, is below this
  margin: on out-of-focus planes it stays weakly positive;
* **z-continuity** (:mod:`sam2_engine.video.z_continuity`, ``end_on_jump``): a mask that
  jumps or grows abruptly from the previous plane ends the object on that plane.

An ended object stays ended for the rest of the propagation pass (its masks are empty
and it is no longer tracked, so its memories cannot pull it back). A new pass, or a
prompted frame met on the way, starts it again.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from sam2_engine.focus.window import Window
from sam2_engine.imaging.frames import imagenet_normalize
from sam2_engine.model.sam2 import LOGIT_CLAMP, SAM2Model
from sam2_engine.video.memory_bank import FrameOutput, ObjectTrack
from sam2_engine.video.z_continuity import ZContinuity, plane_step

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
    """Which objects have ended in the current propagation pass, and the rules that end
    them (each None: off).

    Parameters
    ----------
    threshold
        Mean head foreground inside the mask below which a frame counts as low.
    after
        Consecutive low frames that end an object (the last of them is the first empty
        frame; earlier low frames keep their masks).
    relative
        A frame also counts as low below this fraction of the mean foreground inside
        the object's mask on its nearest prompted frame (its own contrast: a dim
        nucleus is judged against itself).
    min_score
        A frame also counts as low when SAM 2's object score (a logit; > 0: present) is
        below this: weakly present is not enough.
    continuity
        The z-continuity rule (:class:`~sam2_engine.video.z_continuity.ZContinuity`):
        a mask that jumps or grows abruptly from the previous plane ends the object on
        that plane, without waiting ``after`` frames.
    """

    threshold: float | None
    after: int = 1
    relative: float | None = None
    continuity: ZContinuity | None = None
    min_score: float | None = None
    low: dict[int, int] = field(default_factory=dict)
    ended: dict[int, FrameOutput] = field(default_factory=dict)  # obj_id -> empty output
    _diameters: dict[int, float] = field(default_factory=dict)
    _references: dict[int, float] = field(default_factory=dict)  # prompted-plane foreground
    _previous: dict[int, tuple[int, FrameOutput]] = field(default_factory=dict)

    @property
    def uses_foreground(self) -> bool:
        """Whether a rule needs the instance head's foreground."""
        return self.threshold is not None or self.relative is not None

    def reset(self, obj_id: int | None = None) -> None:
        """Start again (every object, or one)."""
        stores = (self.low, self.ended, self._diameters, self._references, self._previous)
        for store in stores:
            if obj_id is None:
                store.clear()
            else:
                store.pop(obj_id, None)

    def is_ended(self, obj_id: int) -> bool:
        """Whether ``obj_id`` has ended in this pass."""
        return obj_id in self.ended

    def end(self, obj_id: int, out: FrameOutput) -> None:
        """End ``obj_id`` on the frame of ``out`` (the ended output takes its window)."""
        self.ended[obj_id] = ended_output(out)

    def update(
        self, obj_id: int, mean: float, out: FrameOutput, limit: float | None = None
    ) -> bool:
        """Count one tracked frame; True when the object ends on it.

        Parameters
        ----------
        obj_id
            The object.
        mean
            Its mean foreground inside its mask on this frame (:func:`mean_foreground`).
        out
            Its output on this frame (the ended output takes its window).
        limit
            The foreground below which the frame is low (default: ``threshold``).
        """
        limit = self.threshold if limit is None else limit
        return self.count(obj_id, limit is not None and mean < limit, out)

    def count(self, obj_id: int, low: bool, out: FrameOutput) -> bool:
        """Count one tracked frame, low or not; True when the object ends on it
        (``after`` consecutive low frames)."""
        if not low:
            self.low.pop(obj_id, None)
            return False
        self.low[obj_id] = self.low.get(obj_id, 0) + 1
        if self.low[obj_id] < self.after:
            return False
        self.end(obj_id, out)
        return True

    def check(
        self,
        model: SAM2Model,
        load: Callable[[int], torch.Tensor],
        tracks: Sequence[ObjectTrack],
        frame: int,
        reverse: bool = False,
        object_fraction: float = 0.3,
    ) -> None:
        """Measure each track's output on ``frame`` and end those that left or faded.

        Parameters
        ----------
        model
            The tracking model (with an instance head when a foreground rule is on).
        load
            ``load(f)``: (H, W, 3) float RGB of frame ``f`` in [0, 1].
        tracks
            Objects tracked on ``frame`` (their ``recent[frame]`` holds the output).
        frame
            The frame.
        reverse
            Whether the pass runs towards lower indices (the previous plane is
            ``frame + 1``).
        object_fraction
            Object extent / window side, for an object whose prompted masks are empty.
        """
        rgb: torch.Tensor | None = None
        for track in tracks:
            obj_id = track.obj_id
            out = track.recent[frame]
            assert out.logits is not None
            if self.continuity is not None and self._jumped(track, frame, reverse, out):
                self.end(obj_id, out)
                continue
            low = self.min_score is not None and float(out.object_score.max()) < self.min_score
            if not self.uses_foreground:
                if self.min_score is not None:
                    self.count(obj_id, low, out)
                continue
            assert out.window is not None
            diameter = self._diameters.get(obj_id)
            if diameter is None:
                diameter = object_diameter(track, frame, object_fraction)
                self._diameters[obj_id] = diameter
            rgb = load(frame) if rgb is None else rgb
            fg = window_foreground(model, rgb, out.window, diameter)
            limit = self.threshold or 0.0
            if self.relative is not None:
                reference = self._reference(model, load, track, frame, diameter)
                limit = max(limit, self.relative * reference)
            self.count(obj_id, low or mean_foreground(fg, out.logits) < limit, out)

    def _jumped(self, track: ObjectTrack, frame: int, reverse: bool, out: FrameOutput) -> bool:
        """Whether the mask left its object since the previous plane of this pass."""
        assert self.continuity is not None and out.logits is not None
        before = frame + 1 if reverse else frame - 1
        prev = track.cond.get(before)
        if prev is None:
            seen = self._previous.get(track.obj_id)
            prev = seen[1] if seen is not None and seen[0] == before else None
        self._previous[track.obj_id] = (frame, out)
        if prev is None or prev.logits is None:
            return False  # the pass's first frame, away from its prompts: nothing to compare
        side = out.logits.shape[-1]
        whole = Window(0, 0, side)  # whole-frame outputs: compare in logit pixels
        step = plane_step(prev.logits, prev.window or whole, out.logits, out.window or whole)
        return self.continuity.breaks(step)

    def _reference(
        self,
        model: SAM2Model,
        load: Callable[[int], torch.Tensor],
        track: ObjectTrack,
        frame: int,
        diameter: float,
    ) -> float:
        """Mean foreground inside the object's mask on its prompted frame nearest
        ``frame`` (measured once per pass)."""
        if track.obj_id not in self._references:
            value = 0.0
            for f in sorted(track.cond, key=lambda f: abs(f - frame)):
                out = track.cond[f]
                if out.logits is not None and out.window is not None:
                    fg = window_foreground(model, load(f), out.window, diameter)
                    value = mean_foreground(fg, out.logits)
                    break
            self._references[track.obj_id] = value
        return self._references[track.obj_id]


def object_diameter(track: ObjectTrack, frame: int, object_fraction: float = 0.3) -> float:
    """An object's diameter (frame pixels): its mask on the prompted frame nearest
    ``frame``, else its window side times ``object_fraction``."""
    for f in sorted(track.cond, key=lambda f: abs(f - frame)):
        d = mask_diameter(track.cond[f])
        if d is not None:
            return d
    return float(track.window_side or 0) * object_fraction or 1.0
