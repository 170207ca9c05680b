"""DAVIS-layout video object segmentation datasets: frames and annotations on disk.

::

    DATA/JPEGImages/<video>/<frame>.jpg    frames (also .png, or .tif/.tiff for microscopy)
    DATA/Annotations/<video>/<frame>.png   object ids (palette or greyscale PNG), any subset
                                           of the frames (DAVIS: all, MOSE / SA-V: a few)

DAVIS keeps one more level for the resolution (``JPEGImages/480p/<video>``): when both
folders hold a ``480p`` folder, it is used. Frames are ordered by their names with
numbers compared as numbers (``f2`` before ``f10``); an annotation belongs to the frame
with the same name stem. Nothing is read until asked: :class:`FrameStack` reads one
frame per index.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

__all__ = [
    "FrameStack",
    "Layout",
    "VideoFolder",
    "find_layout",
    "frame_files",
    "open_video",
    "read_split",
]

IMAGES, ANNOTATIONS, RESOLUTION = "JPEGImages", "Annotations", "480p"
FRAME_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
TIFF_SUFFIXES = (".tif", ".tiff")


def _natural_key(path: Path) -> list[int | str]:
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", path.name)]


def frame_files(folder: Path, suffixes: tuple[str, ...] = FRAME_SUFFIXES) -> list[Path]:
    """Files of ``folder`` with one of ``suffixes``, in natural name order (hidden files
    left out)."""
    files = [
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in suffixes
    ]
    return sorted(files, key=_natural_key)


@dataclass(frozen=True)
class Layout:
    """Where a dataset keeps its frames and annotations (one sub-folder per video)."""

    images: Path
    annotations: Path

    def video_names(self) -> list[str]:
        """Names of the video folders under :attr:`images`, in natural order."""
        folders = [p for p in self.images.iterdir() if p.is_dir() and not p.name.startswith(".")]
        return [p.name for p in sorted(folders, key=_natural_key)]


def find_layout(root: str | os.PathLike[str]) -> Layout:
    """Locate ``JPEGImages/`` and ``Annotations/`` (or their ``480p/`` folders) in ``root``.

    Raises
    ------
    FileNotFoundError
        If ``root`` or one of the two folders does not exist.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist")
    images, annotations = root / IMAGES, root / ANNOTATIONS
    for folder in (images, annotations):
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{root} has no {folder.name}/ folder; a DAVIS-layout dataset has "
                f"{IMAGES}/<video>/ frames and {ANNOTATIONS}/<video>/ label PNGs"
            )
    if (images / RESOLUTION).is_dir() and (annotations / RESOLUTION).is_dir():
        images, annotations = images / RESOLUTION, annotations / RESOLUTION
    return Layout(images, annotations)


def read_split(path: str | os.PathLike[str]) -> list[str]:
    """Video names listed in a split file (one per line, as DAVIS ``ImageSets/*.txt``;
    blank lines and ``#`` comments are skipped)."""
    names = []
    for line in Path(path).read_text().splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            names.append(name)
    return names


class FrameStack:
    """The frames of one video as a lazy (T, H, W) or (T, H, W, C) array.

    ``stack[t]`` reads frame ``t`` from its file (JPEG/PNG through Pillow, TIFF through
    tifffile) and nothing else; ``shape`` and ``dtype`` come from the first frame, and a
    frame of another shape or dtype raises ``ValueError``.

    Parameters
    ----------
    files
        Frame files in time order.
    """

    def __init__(self, files: list[Path]) -> None:
        if not files:
            raise ValueError("a video needs at least one frame")
        self.files = list(files)
        first = self._read(0)
        self.frame_shape: tuple[int, ...] = first.shape
        self.dtype = first.dtype
        self.shape = (len(self.files), *first.shape)
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, t: int) -> np.ndarray:
        if isinstance(t, bool) or not isinstance(t, int | np.integer):
            raise TypeError(f"a FrameStack is indexed by one frame number, got {t!r}")
        frame = self._read(int(t))
        if frame.shape != self.frame_shape or frame.dtype != self.dtype:
            raise ValueError(
                f"frame {self.files[t].name} is {frame.shape} {frame.dtype} but the first "
                f"frame is {self.frame_shape} {self.dtype}; all frames of a video must match"
            )
        return frame

    def _read(self, t: int) -> np.ndarray:
        path = self.files[t]
        if path.suffix.lower() in TIFF_SUFFIXES:
            import tifffile

            frame = np.squeeze(tifffile.imread(path))
            if frame.ndim == 3 and frame.shape[0] <= 4 < frame.shape[-1]:
                frame = np.moveaxis(frame, 0, -1)  # (C, H, W) -> (H, W, C)
        else:
            with Image.open(path) as image:
                if image.mode not in ("L", "RGB", "I;16", "I"):
                    image = image.convert("RGB")
                frame = np.asarray(image)
        if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[-1] > 4):
            raise ValueError(
                f"frame {path} has shape {frame.shape}; frames must be (H, W) grey or "
                "(H, W, C) with at most 4 channels"
            )
        return frame


@dataclass(frozen=True)
class VideoFolder:
    """One video of a dataset.

    Attributes
    ----------
    name : str
        The folder name.
    frames : FrameStack
        (T, H, W[, C]) frames, read lazily.
    stems : tuple of str
        Frame name stems in time order (output PNGs are named ``<stem>.png``).
    annotations : dict of int to Path
        Frame index -> annotation PNG, for the annotated frames.
    """

    name: str
    frames: FrameStack
    stems: tuple[str, ...]
    annotations: dict[int, Path]

    @property
    def num_frames(self) -> int:
        """T, the number of frames."""
        return len(self.stems)


def open_video(layout: Layout, name: str) -> VideoFolder:
    """Open one video: list its frames, match its annotations to them.

    Raises
    ------
    FileNotFoundError
        If the video has no frame folder, no frames, or no annotation folder.
    ValueError
        If an annotation has no frame of the same name, or none exists.
    """
    folder = layout.images / name
    if not folder.is_dir():
        raise FileNotFoundError(f"video {name!r} has no frame folder {folder}")
    files = frame_files(folder)
    if not files:
        raise FileNotFoundError(f"{folder} holds no frames ({', '.join(FRAME_SUFFIXES)} files)")
    stems = tuple(p.stem for p in files)
    if len(set(stems)) != len(stems):
        raise ValueError(f"{folder} has several frames with the same name stem")
    ann_folder = layout.annotations / name
    if not ann_folder.is_dir():
        raise FileNotFoundError(f"video {name!r} has no annotation folder {ann_folder}")
    index = {stem: t for t, stem in enumerate(stems)}
    annotations = {}
    for png in frame_files(ann_folder, (".png",)):
        if png.stem not in index:
            raise ValueError(
                f"annotation {png} names no frame of {folder} (expected a frame {png.stem}.*)"
            )
        annotations[index[png.stem]] = png
    if not annotations:
        raise ValueError(f"{ann_folder} holds no annotation PNGs")
    return VideoFolder(name, FrameStack(files), stems, dict(sorted(annotations.items())))
