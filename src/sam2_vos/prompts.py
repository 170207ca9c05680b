"""Which annotated masks prompt which objects, and on which frames.

Two policies, as the official SAM 2 VOS tool offers:

``"first"`` (the semi-supervised protocol)
    Every object is prompted once, with its mask on the first annotated frame where it
    appears. An object that enters late is therefore added on the frame it enters.
``"all"``
    Every annotated frame prompts every object present on it (objects absent from an
    annotation are not prompted there, so they keep being tracked).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from sam2_vos.dataset import VideoFolder
from sam2_vos.palette import read_label_png

__all__ = ["POLICIES", "PromptPlan", "PromptStep", "plan_prompts"]

Policy = Literal["first", "all"]
POLICIES: tuple[str, ...] = ("first", "all")


@dataclass(frozen=True)
class PromptStep:
    """The mask prompts of one frame.

    Attributes
    ----------
    frame : int
        Frame index.
    masks : dict of int to numpy.ndarray
        Object id -> (H, W) bool mask (row, col) on that frame.
    """

    frame: int
    masks: dict[int, np.ndarray]


@dataclass(frozen=True)
class PromptPlan:
    """The prompts of one video, frame by frame, and the palette to write with.

    Attributes
    ----------
    steps : list of PromptStep
        In increasing frame order; every step prompts at least one object.
    palette : bytes or None
        The colour table of the video's first annotation (None: greyscale PNGs).
    """

    steps: list[PromptStep]
    palette: bytes | None

    @property
    def obj_ids(self) -> list[int]:
        """Every prompted object id, sorted."""
        return sorted({obj for step in self.steps for obj in step.masks})


def plan_prompts(video: VideoFolder, policy: Policy = "first") -> PromptPlan:
    """Read a video's annotations and decide its prompts.

    Parameters
    ----------
    video
        The video (its annotation PNGs are read here, one at a time).
    policy
        ``"first"`` or ``"all"`` (see the module docstring).

    Raises
    ------
    ValueError
        If ``policy`` is unknown, an annotation's size differs from the frames', or no
        annotation holds an object.
    """
    if policy not in POLICIES:
        raise ValueError(f"prompt policy {policy!r} is unknown; use one of {', '.join(POLICIES)}")
    frame_hw = tuple(video.frames.frame_shape[:2])
    seen: set[int] = set()
    steps: list[PromptStep] = []
    palette: bytes | None = None
    for i, (frame, path) in enumerate(video.annotations.items()):
        labels, file_palette = read_label_png(path)
        if i == 0:
            palette = file_palette
        if labels.shape != frame_hw:
            raise ValueError(
                f"annotation {path} is {labels.shape[0]}x{labels.shape[1]} but the frames of "
                f"{video.name} are {frame_hw[0]}x{frame_hw[1]} (rows x columns)"
            )
        present = [int(v) for v in np.unique(labels) if v != 0]
        chosen = present if policy == "all" else [v for v in present if v not in seen]
        seen.update(present)
        if chosen:
            steps.append(PromptStep(frame, {obj: labels == obj for obj in chosen}))
    if not steps:
        raise ValueError(f"no annotation of video {video.name} holds an object (all pixels 0)")
    return PromptPlan(steps, palette)
