"""J&F of predicted label PNGs against ground truth, under the DAVIS protocol.

The protocol is the one of the SAM 2 evaluator (``sav_evaluator``, from the
``vos-benchmark`` package), in percent:

* The scored frames of a video are its ground-truth PNGs in name order, without the
  first and the last (the first is the prompt; ``all_frames=True`` keeps them). Every
  one of them needs a prediction of the same name and size; predictions of other frames
  are ignored.
* Going through the scored frames in order, an object is measured on every frame from
  the first one on which it shows up in the ground truth or in the prediction.
* An object's J (and F) is the mean over its measured frames; only objects present in
  the scored ground truth are reported (a predicted object the ground truth never has
  is not).
* A video's score is the mean over its objects; the dataset's score is the mean over
  all objects of all videos (not over videos). J&F is the mean of J and F.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sam2_engine import atomic_file
from sam2_vos.dataset import ANNOTATIONS, RESOLUTION, frame_files
from sam2_vos.metrics import boundary_f, jaccard
from sam2_vos.palette import read_label_png

__all__ = ["ObjectScore", "VosScores", "ground_truth_root", "score_dataset", "score_video"]


@dataclass(frozen=True)
class ObjectScore:
    """Scores of one object of one video, in percent.

    Attributes
    ----------
    video : str
    obj_id : int
    j, f : float
        Mean region similarity and boundary accuracy over the object's measured frames.
    frames : int
        How many frames were measured.
    """

    video: str
    obj_id: int
    j: float
    f: float
    frames: int

    @property
    def jf(self) -> float:
        """(J + F) / 2."""
        return (self.j + self.f) / 2


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


@dataclass(frozen=True)
class VosScores:
    """Scores of a dataset: per object, per video and overall (percent)."""

    objects: list[ObjectScore]
    videos: list[str]

    @property
    def j(self) -> float:
        """Mean J over all objects (NaN without objects)."""
        return _mean([o.j for o in self.objects])

    @property
    def f(self) -> float:
        """Mean F over all objects."""
        return _mean([o.f for o in self.objects])

    @property
    def jf(self) -> float:
        """(J + F) / 2 of the dataset."""
        return (self.j + self.f) / 2

    def video(self, name: str) -> tuple[float, float, float]:
        """(J&F, J, F) of one video: means over its objects."""
        mine = [o for o in self.objects if o.video == name]
        j, f = _mean([o.j for o in mine]), _mean([o.f for o in mine])
        return (j + f) / 2, j, f

    def table(self) -> str:
        """A plain-text table: one line per video, then the dataset."""
        width = max([len("dataset"), *(len(v) for v in self.videos)])
        lines = [f"{'video':<{width}}  objects    J&F      J      F"]
        for name in self.videos:
            count = sum(o.video == name for o in self.objects)
            jf, j, f = self.video(name)
            lines.append(f"{name:<{width}}  {count:>7}  {jf:5.1f}  {j:5.1f}  {f:5.1f}")
        lines.append(
            f"{'dataset':<{width}}  {len(self.objects):>7}  "
            f"{self.jf:5.1f}  {self.j:5.1f}  {self.f:5.1f}"
        )
        return "\n".join(lines)

    def write_csv(self, path: str | os.PathLike[str]) -> None:
        """Write every object, video and the dataset as CSV rows, atomically.

        Columns: ``level`` (object, video, dataset), ``video``, ``object``, ``frames``,
        ``J&F``, ``J``, ``F`` (percent).
        """
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(target) as tmp, open(tmp, "w", newline="") as handle:
            out = csv.writer(handle)
            out.writerow(["level", "video", "object", "frames", "J&F", "J", "F"])
            for o in self.objects:
                out.writerow(["object", o.video, o.obj_id, o.frames, *_fmt(o.jf, o.j, o.f)])
            for name in self.videos:
                frames = sum(o.frames for o in self.objects if o.video == name)
                out.writerow(["video", name, "", frames, *_fmt(*self.video(name))])
            total = sum(o.frames for o in self.objects)
            out.writerow(["dataset", "", "", total, *_fmt(self.jf, self.j, self.f)])


def _fmt(*values: float) -> list[str]:
    return [f"{v:.6f}" for v in values]


def score_video(
    pred_dir: str | os.PathLike[str],
    gt_dir: str | os.PathLike[str],
    *,
    all_frames: bool = False,
) -> list[ObjectScore]:
    """Score one video's predictions (see the module docstring for the protocol).

    Parameters
    ----------
    pred_dir, gt_dir
        Folders of label PNGs of one video (predicted, true), matched by file name.
    all_frames
        Score the first and the last ground-truth frame too (not DAVIS protocol).

    Returns
    -------
    list of ObjectScore
        One per object present in the scored ground truth, by id.

    Raises
    ------
    FileNotFoundError
        If a scored frame has no prediction.
    ValueError
        If a prediction's size differs from its ground truth's.
    """
    pred_dir, gt_dir = Path(pred_dir), Path(gt_dir)
    name = gt_dir.name
    scored = frame_files(gt_dir, (".png",))
    if not all_frames:
        scored = scored[1:-1]
    in_gt: set[int] = set()
    seen: set[int] = set()
    js: dict[int, list[float]] = {}
    fs: dict[int, list[float]] = {}
    for gt_path in scored:
        pred_path = pred_dir / gt_path.name
        if not pred_path.is_file():
            raise FileNotFoundError(
                f"video {name}: no prediction {pred_path} for ground truth {gt_path.name}"
            )
        gt, _ = read_label_png(gt_path)
        pred, _ = read_label_png(pred_path)
        if pred.shape != gt.shape:
            raise ValueError(
                f"video {name}: prediction {pred_path.name} is {pred.shape} but its ground "
                f"truth is {gt.shape} (rows, columns)"
            )
        gt_ids = {int(v) for v in np.unique(gt) if v}
        in_gt |= gt_ids
        seen |= gt_ids | {int(v) for v in np.unique(pred) if v}
        for obj in seen:
            js.setdefault(obj, []).append(jaccard(pred == obj, gt == obj))
            fs.setdefault(obj, []).append(boundary_f(pred == obj, gt == obj))
    return [
        ObjectScore(name, obj, 100 * _mean(js[obj]), 100 * _mean(fs[obj]), len(js[obj]))
        for obj in sorted(in_gt)
    ]


def ground_truth_root(gt: str | os.PathLike[str]) -> Path:
    """The folder of per-video ground-truth folders: ``gt`` itself, or its
    ``Annotations/`` (``Annotations/480p/``) when ``gt`` is a dataset root."""
    root = Path(gt)
    if not root.is_dir():
        raise FileNotFoundError(f"ground-truth folder {root} does not exist")
    if (root / ANNOTATIONS).is_dir():
        root = root / ANNOTATIONS
        if (root / RESOLUTION).is_dir():
            root = root / RESOLUTION
    return root


def score_dataset(
    pred: str | os.PathLike[str],
    gt: str | os.PathLike[str],
    *,
    videos: Sequence[str] | None = None,
    all_frames: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> VosScores:
    """Score every video of a prediction folder against the ground truth.

    Parameters
    ----------
    pred
        ``PRED/<video>/<frame>.png``, e.g. the output of ``vos-infer``.
    gt
        ``GT/<video>/<frame>.png``, or a dataset root holding ``Annotations/``.
    videos
        The videos to score (a split); by default every ground-truth video.
    all_frames
        Also score the first and the last frame of every video.
    progress
        ``progress(done, total)`` after each video.

    Raises
    ------
    FileNotFoundError
        If a folder, a video's predictions or one of its frames is missing.
    ValueError
        If a prediction's size differs from its ground truth's.
    """
    pred_root, gt_root = Path(pred), ground_truth_root(gt)
    if not pred_root.is_dir():
        raise FileNotFoundError(f"prediction folder {pred_root} does not exist")
    if videos is None:
        names = sorted(p.name for p in gt_root.iterdir() if p.is_dir() and p.name[:1] != ".")
    else:
        names = list(videos)
    for name in names:
        for folder, what in ((gt_root / name, "ground truth"), (pred_root / name, "predictions")):
            if not folder.is_dir():
                raise FileNotFoundError(f"video {name} has no {what} folder {folder}")
    objects: list[ObjectScore] = []
    for done, name in enumerate(names, 1):
        objects += score_video(pred_root / name, gt_root / name, all_frames=all_frames)
        if progress is not None:
            progress(done, len(names))
    return VosScores(objects, names)
