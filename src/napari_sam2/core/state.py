"""Typed state of the plugin: prompts, objects, previews and settings.

Every coordinate stored here is in napari's convention: **(row, col)** pixels of the
image layer's data (pixel centres at integers). The conversion to the engine's
(x, y) = (col, row) convention happens in one place, :mod:`napari_sam2.core.coords`.

A *plane* is one 2D image of the layer: a frame of a time-lapse, a slice of a z-stack,
or the image itself. It is named by a :class:`PlaneKey`: the index along the tracked
(stack) axis plus the positions of the other leading axes, which stay where the
sliders are (e.g. the z of a 3D+t movie tracked over t).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np


class OverlapPolicy(str, Enum):
    """What a new mask may do to pixels that already carry a label.

    ``KEEP`` (default)
        Pixels of *other* objects are never changed: whatever was painted or committed
        before survives. The object's own earlier pixels on that plane are replaced.
    ``OVERWRITE``
        The new mask wins everywhere; the object's own earlier pixels are replaced.
    ``ONLY_EMPTY``
        Only background pixels are painted; nothing labelled changes, not even the
        object's own earlier pixels (purely additive).
    """

    KEEP = "keep"
    OVERWRITE = "overwrite"
    ONLY_EMPTY = "only_empty"

    @property
    def description(self) -> str:
        return {
            OverlapPolicy.KEEP: "keep others (never lose an edit)",
            OverlapPolicy.OVERWRITE: "overwrite others",
            OverlapPolicy.ONLY_EMPTY: "background pixels only",
        }[self]


class StackKind(str, Enum):
    """What the tracked axis of a stack means (sets the default direction)."""

    TIME = "time"
    Z = "z"


@dataclass(frozen=True)
class PlaneKey:
    """One 2D plane of an image layer.

    Attributes
    ----------
    frame
        Index along the tracked (stack) axis; 0 for a 2D image.
    fixed
        ``((axis, index), ...)`` positions of the other leading axes (e.g. z when a
        3D+t movie is tracked over t), in layer data axes.
    """

    frame: int = 0
    fixed: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class PointPrompt:
    """A click in (row, col) image-data pixels; ``positive`` False means background."""

    row: float
    col: float
    positive: bool = True


@dataclass
class PlanePrompts:
    """The clicks and the box of one object on one plane.

    Attributes
    ----------
    points
        Clicks in (row, col) order of arrival.
    box
        ``(row0, col0, row1, col1)`` corners (any order), or None.
    """

    points: list[PointPrompt] = field(default_factory=list)
    box: tuple[float, float, float, float] | None = None

    @property
    def empty(self) -> bool:
        return not self.points and self.box is None

    def copy(self) -> PlanePrompts:
        return PlanePrompts(list(self.points), self.box)


@dataclass
class CurrentObject:
    """The object being prompted right now.

    Attributes
    ----------
    obj_id
        The label it will get; None means "a new object" (the next free label is used
        at commit time).
    plane
        The plane its prompts are on (prompts live on one plane at a time).
    prompts
        Its clicks and box on that plane.
    version
        Incremented on every change, so that a late preview of older prompts is dropped.
    """

    obj_id: int | None = None
    plane: PlaneKey | None = None
    prompts: PlanePrompts = field(default_factory=PlanePrompts)
    version: int = 0


@dataclass
class Preview:
    """A decoded mask for the current prompts (not yet in any Labels layer).

    The mask is kept as the region where it can be non-zero (a window of a big image, or
    the whole plane): writing it touches only that region.

    Attributes
    ----------
    plane
        The plane the mask belongs to.
    region_mask
        (h, w) bool mask of the region, (row, col) order.
    score
        The model's predicted IoU of the mask.
    version
        The :attr:`CurrentObject.version` of the prompts that produced it.
    top, left
        Plane row and column of the region's first pixel.
    plane_hw
        (rows, cols) of the plane; None: the region is the whole plane.
    """

    plane: PlaneKey
    region_mask: np.ndarray
    score: float
    version: int
    top: int = 0
    left: int = 0
    plane_hw: tuple[int, int] | None = None

    @property
    def region(self) -> tuple[slice, slice]:
        """(rows, cols) slices of the region in the plane."""
        h, w = self.region_mask.shape
        return slice(self.top, self.top + h), slice(self.left, self.left + w)

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool mask of the whole plane (built on demand for a region)."""
        if self.plane_hw is None or tuple(self.plane_hw) == self.region_mask.shape:
            return self.region_mask
        full = np.zeros(self.plane_hw, dtype=bool)
        full[self.region] = self.region_mask
        return full

    def any(self) -> bool:
        """Whether the mask has any pixel."""
        return bool(self.region_mask.any())


@dataclass
class TrackedObject:
    """An object of a stack that takes part in propagation.

    Attributes
    ----------
    obj_id
        Its label in the target Labels layer.
    conditioning
        Planes where the user fixed its mask (commits and corrections). At propagation
        time the mask on each such plane is read from the Labels layer, so hand edits
        made after the commit are honoured.
    """

    obj_id: int
    conditioning: set[PlaneKey] = field(default_factory=set)


@dataclass(frozen=True)
class CommitResult:
    """What a commit wrote.

    Attributes
    ----------
    obj_id
        The label used.
    plane
        Where it was written.
    written
        Pixels that now carry ``obj_id`` because of this commit.
    kept
        Mask pixels left untouched because they belong to another object (policy).
    removed
        Pixels that carried ``obj_id`` on this plane before and no longer do (a
        correction replaced them).
    overwritten
        Pixels of other objects that now carry ``obj_id`` (overlap policy "overwrite").
    """

    obj_id: int
    plane: PlaneKey
    written: int
    kept: int
    removed: int = 0
    overwritten: int = 0


@dataclass
class InteractiveSettings:
    """User choices of the interactive tools (the dock widget edits these).

    Attributes
    ----------
    overlap
        Overlap policy of commits and propagation.
    negative_by_default
        Plain clicks add negative points (toggled with ``T``).
    multimask_single_click
        Ask the model for three candidates for a single click and keep the best.
    click_selects_object
        The first click of a new object on a pixel that already carries label ``k``
        re-segments (corrects) object ``k`` instead of starting a new one.
    auto_embed
        Compute the embedding of the current plane as soon as it is shown.
    direction
        Default propagation direction: "forward", "backward" or "both".
    max_frames
        Frames per direction for propagation (None: to the end of the stack).
    """

    overlap: OverlapPolicy = OverlapPolicy.KEEP
    negative_by_default: bool = False
    multimask_single_click: bool = True
    click_selects_object: bool = True
    auto_embed: bool = True
    direction: str = "forward"
    max_frames: int | None = None
