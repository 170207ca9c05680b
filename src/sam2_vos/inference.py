"""Batch video object segmentation: masks for every frame of every video of a dataset.

For each video, one tracking session holds every object. Propagation runs forward in
stretches that end where the next prompts are: on a frame that prompts an object (its
first appearance, or any annotated frame with the ``"all"`` policy) the masks are added
and propagation goes on from there, so that an object entering late is tracked from the
frame it enters and never before. Frames before the first prompt are written empty.

Each video's PNGs are written into a temporary folder that replaces ``OUT/<video>`` only
when the video is complete; a video that fails leaves nothing behind, is reported in its
:class:`VideoOutcome`, and the next video goes on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sam2_engine import atomic_dir
from sam2_vos.dataset import VideoFolder, find_layout, open_video
from sam2_vos.palette import write_label_png
from sam2_vos.prompts import Policy, PromptPlan, plan_prompts

__all__ = ["FrameProgress", "VideoOutcome", "infer_dataset", "make_predictor", "segment_video"]

#: ``progress(video, done, total)``: ``done`` of the ``total`` frames of ``video`` are written.
FrameProgress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class VideoOutcome:
    """What happened to one video.

    Attributes
    ----------
    name : str
        The video.
    num_frames : int
        Frames written (0 when it failed).
    obj_ids : tuple of int
        The objects that were prompted.
    seconds : float
        Wall time spent on it.
    error : str or None
        One line saying why it failed; None when it succeeded.
    """

    name: str
    num_frames: int
    obj_ids: tuple[int, ...]
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the video's masks were written."""
        return self.error is None


def make_predictor(
    model: str | os.PathLike[str] | None = None,
    *,
    checkpoint: str | os.PathLike[str] | None = None,
    device: str | None = None,
) -> Any:
    """Build a model and a video predictor that gives each pixel to at most one object.

    Parameters
    ----------
    model
        A name of ``sam2_engine.list_models()`` or a ``.pt`` file written by this
        package; ``sam2_engine.default_model_name()`` when None.
    checkpoint
        Weights for ``model`` (e.g. an official ``.pt`` file); None: the model's own.
    device
        ``"auto"``/None, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.

    Returns
    -------
    sam2_engine.VideoPredictor
    """
    import sam2_engine as se

    name = se.default_model_name() if model is None else os.fspath(model)
    built = se.build_model(
        name,
        checkpoint=None if checkpoint is None else os.fspath(checkpoint),
        device=None if device in (None, "auto") else device,
    )
    return se.VideoPredictor(built, non_overlapping=True)


def segment_video(
    predictor: Any, video: VideoFolder, plan: PromptPlan
) -> Iterator[tuple[int, np.ndarray]]:
    """Track the objects of one video; yield every frame's label image in time order.

    Parameters
    ----------
    predictor
        A ``sam2_engine.VideoPredictor``.
    video
        The video (frames are read lazily, one at a time).
    plan
        Its prompts (:func:`~sam2_vos.prompts.plan_prompts`).

    Yields
    ------
    frame : int
        Frame index, 0 .. T-1, each once.
    labels : numpy.ndarray
        (H, W) uint8 object ids (row, col); a pixel claimed by several objects goes to
        the one with the highest logit.
    """
    session = predictor.start(video.frames)
    height, width = video.frames.frame_shape[:2]
    starts = [step.frame for step in plan.steps]
    for frame in range(starts[0]):
        yield frame, np.zeros((height, width), dtype=np.uint8)
    ends = [*starts[1:], video.num_frames]
    for step, end in zip(plan.steps, ends, strict=True):
        for obj_id, mask in step.masks.items():
            session.add_mask(frame=step.frame, obj_id=obj_id, mask=mask)
        stretch = session.propagate(
            start=step.frame, direction="forward", max_frames=end - step.frame
        )
        for out in stretch:
            yield out.frame, out.label_image(out.obj_ids).astype(np.uint8)


def infer_dataset(
    data: str | os.PathLike[str],
    out: str | os.PathLike[str],
    predictor: Any,
    *,
    videos: Sequence[str] | None = None,
    policy: Policy = "first",
    progress: FrameProgress | None = None,
) -> list[VideoOutcome]:
    """Segment every video of a DAVIS-layout dataset and write palette PNGs.

    Parameters
    ----------
    data
        Dataset root (see :mod:`sam2_vos.dataset`).
    out
        Output root: ``OUT/<video>/<frame stem>.png`` for every frame, with the palette
        of the video's annotations. A video folder already there is replaced.
    predictor
        A ``sam2_engine.VideoPredictor`` (see :func:`make_predictor`).
    videos
        Names of the videos to segment, in this order (a split); all by default.
    policy
        ``"first"`` or ``"all"`` annotated frames prompt (see :mod:`sam2_vos.prompts`).
    progress
        Called after every written frame.

    Returns
    -------
    list of VideoOutcome
        One per video, in order; failed videos carry their error.

    Raises
    ------
    FileNotFoundError
        If ``data`` is not a DAVIS-layout dataset.
    ValueError
        If ``out`` is one of the dataset's own folders.
    """
    layout = find_layout(data)
    out = Path(out)
    protected = {layout.images.resolve(), layout.annotations.resolve(), Path(data).resolve()}
    if out.resolve() in protected:
        raise ValueError(f"--out {out} is a folder of the dataset itself; choose another folder")
    names = list(videos) if videos is not None else layout.video_names()
    outcomes = []
    for name in names:
        started = time.perf_counter()
        obj_ids: tuple[int, ...] = ()
        try:
            video = open_video(layout, name)
            plan = plan_prompts(video, policy)
            obj_ids = tuple(plan.obj_ids)
            _write_video(predictor, video, plan, out / name, progress)
        except Exception as exc:  # one bad video must not stop the others
            message = str(exc).strip().replace("\n", " ") or type(exc).__name__
            outcomes.append(VideoOutcome(name, 0, obj_ids, time.perf_counter() - started, message))
            continue
        outcomes.append(
            VideoOutcome(name, video.num_frames, obj_ids, time.perf_counter() - started)
        )
    return outcomes


def _write_video(
    predictor: Any,
    video: VideoFolder,
    plan: PromptPlan,
    target: Path,
    progress: FrameProgress | None,
) -> None:
    with atomic_dir(target) as folder:
        for done, (frame, labels) in enumerate(segment_video(predictor, video, plan), 1):
            write_label_png(folder / f"{video.stems[frame]}.png", labels, plan.palette)
            if progress is not None:
                progress(video.name, done, video.num_frames)
