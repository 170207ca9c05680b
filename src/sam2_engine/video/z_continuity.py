"""The z-continuity rule: an object's cross-section barely moves between adjacent z-planes.

Through a z-stack a nucleus is one blob: from one plane to the next its cross-section
shrinks or grows a little around the same centre. When a propagated mask instead jumps
(little of it lies inside the previous plane's mask, or its centre moves by a large part
of the object's diameter) or grows abruptly, it has left the object, most often for
another nucleus above or below it. :class:`ZContinuity` says when that happened from one
:class:`PlaneStep`, measured by :func:`plane_step` between the masks of two adjacent
planes; :class:`~sam2_engine.video.object_end.ObjectEnds` then ends the object at once
(the plane where it jumped is already wrong, and the planes after it follow the new
object continuously, so waiting would not help).

This is a rule for z only: between frames of a time-lapse cells move, divide and change
shape, so :meth:`~sam2_engine.video.settings.SessionSettings.for_z` turns it on and the
time-lapse defaults leave it off.

Masks are compared in frame pixels, (row, col), after pasting each window's
low-resolution logits into the frame as :class:`~sam2_engine.video.frame_result.FrameResult`
does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from sam2_engine.focus.window import Window

__all__ = ["PlaneStep", "ZContinuity", "plane_step"]


@dataclass(frozen=True)
class PlaneStep:
    """How an object's mask changed from one z-plane to the next.

    Attributes
    ----------
    overlap : float
        Fraction of the new mask that lies inside the previous plane's mask, in [0, 1]
        (a cross-section shrinking towards the object's pole keeps 1).
    shift : float
        Distance between the two masks' centroids over the previous mask's equivalent
        diameter (``2 * sqrt(area / pi)``); ``inf`` when the previous mask was empty.
    growth : float
        New mask area over the previous one; ``inf`` when the previous mask was empty.
    """

    overlap: float
    shift: float
    growth: float


def _paste(logits: torch.Tensor, window: Window, top: int, left: int, side: int) -> torch.Tensor:
    """(side, side) bool mask of a window's logits placed on a canvas at (top, left)."""
    up = F.interpolate(
        logits.float().reshape(1, 1, *logits.shape[-2:]),
        size=(window.side, window.side),
        mode="bilinear",
        align_corners=False,
    )[0, 0]
    canvas = torch.zeros(side, side, dtype=torch.bool, device=logits.device)
    r, c = window.top - top, window.left - left
    canvas[r : r + window.side, c : c + window.side] = up > 0
    return canvas


def plane_step(
    prev_logits: torch.Tensor,
    prev_window: Window,
    logits: torch.Tensor,
    window: Window,
) -> PlaneStep | None:
    """Compare an object's masks on two adjacent planes.

    Parameters
    ----------
    prev_logits, logits
        (1, s, s) or (s, s) low-resolution mask logits of the previous and the current
        plane (the mask is ``logits > 0``), each over its window.
    prev_window, window
        The windows the logits cover (frame pixels; sides may differ).

    Returns
    -------
    PlaneStep or None
        None when the current mask is empty (nothing moved: an empty mask is for the
        foreground rule and the object score to judge).

    Examples
    --------
    >>> import torch
    >>> from sam2_engine.focus.window import Window
    >>> a = torch.full((8, 8), -1.0); a[2:6, 2:6] = 1.0
    >>> step = plane_step(a, Window(0, 0, 8), a, Window(0, 4, 8))  # moved 4 px right
    >>> round(step.overlap, 2), round(step.shift, 2), step.growth
    (0.0, 0.89, 1.0)
    """
    top = min(prev_window.top, window.top)
    left = min(prev_window.left, window.left)
    bottom = max(prev_window.top + prev_window.side, window.top + window.side)
    right = max(prev_window.left + prev_window.side, window.left + window.side)
    side = max(bottom - top, right - left)
    cur = _paste(logits.to(prev_logits.device), window, top, left, side)
    area = int(cur.sum())
    if area == 0:
        return None
    prev = _paste(prev_logits, prev_window, top, left, side)
    prev_area = int(prev.sum())
    if prev_area == 0:
        return PlaneStep(overlap=0.0, shift=math.inf, growth=math.inf)
    overlap = int((cur & prev).sum()) / area
    shift = float(torch.linalg.vector_norm(_centroid(cur) - _centroid(prev)))
    diameter = 2.0 * math.sqrt(prev_area / math.pi)
    return PlaneStep(overlap=overlap, shift=shift / diameter, growth=area / prev_area)


def _centroid(mask: torch.Tensor) -> torch.Tensor:
    """(row, col) centroid of a non-empty (N, N) bool mask."""
    return torch.nonzero(mask).float().mean(0)


@dataclass(frozen=True)
class ZContinuity:
    """When a mask has left its object between adjacent z-planes (each limit None: off).

    Attributes
    ----------
    min_overlap : float or None
        The mask left when less than this fraction of it lies inside the previous
        plane's mask (:attr:`PlaneStep.overlap`), in (0, 1].
    max_shift : float or None
        The mask left when its centroid moved more than this fraction of the previous
        mask's diameter (:attr:`PlaneStep.shift`), > 0.
    max_growth : float or None
        The mask left when its area grew more than this factor from the previous plane
        (:attr:`PlaneStep.growth`), > 1.

    Examples
    --------
    >>> rule = ZContinuity(min_overlap=0.5, max_shift=0.5, max_growth=1.6)
    >>> rule.breaks(PlaneStep(overlap=0.95, shift=0.05, growth=0.9))
    False
    >>> rule.breaks(PlaneStep(overlap=0.2, shift=0.8, growth=1.0))
    True
    """

    min_overlap: float | None = 0.5
    max_shift: float | None = 0.5
    max_growth: float | None = 1.6

    def __post_init__(self) -> None:
        if self.min_overlap is not None and not 0.0 < self.min_overlap <= 1.0:
            raise ValueError(
                f"ZContinuity min_overlap={self.min_overlap} must be a fraction in (0, 1], "
                "or None for off"
            )
        if self.max_shift is not None and not self.max_shift > 0.0:
            raise ValueError(
                f"ZContinuity max_shift={self.max_shift} must be a positive fraction of the "
                "object's diameter, or None for off"
            )
        if self.max_growth is not None and not self.max_growth > 1.0:
            raise ValueError(
                f"ZContinuity max_growth={self.max_growth} must be an area factor above 1, "
                "or None for off"
            )

    def breaks(self, step: PlaneStep | None) -> bool:
        """Whether ``step`` (None: an empty mask, never a break) leaves the object."""
        if step is None:
            return False
        return (
            (self.min_overlap is not None and step.overlap < self.min_overlap)
            or (self.max_shift is not None and step.shift > self.max_shift)
            or (self.max_growth is not None and step.growth > self.max_growth)
        )
