"""A small generated DAVIS-layout dataset with known masks: shapes moving over texture.

Each video has three objects: a disc (id 1) and a box (id 2) from the first frame, and an
ellipse (id 3) that slides in through the left edge a third of the way through the
video. They move in straight lines, bounce off the borders and occlude one another
(higher ids in front). Every frame is annotated (``Annotations/`` is the ground truth,
as in DAVIS); the semi-supervised protocol prompts from the first appearances only.
Used by the tests and ``benchmarks/bench_vos.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from sam2_vos.dataset import ANNOTATIONS, IMAGES
from sam2_vos.palette import davis_palette, write_label_png

__all__ = ["LATE_OBJECT", "late_entry_frame", "write_moving_shapes"]

LATE_OBJECT = 3  # id of the object that enters late


def late_entry_frame(num_frames: int) -> int:
    """The frame on which object :data:`LATE_OBJECT` first shows up."""
    return max(1, num_frames // 3)


def _texture(rng: np.random.Generator, hw: tuple[int, int], scale: int) -> np.ndarray:
    """(H, W) smooth random field in [0, 1] (coarse noise, bilinearly enlarged)."""
    coarse = rng.random((hw[0] // scale + 2, hw[1] // scale + 2)).astype(np.float32)
    big = Image.fromarray(coarse).resize(
        (coarse.shape[1] * scale, coarse.shape[0] * scale), Image.Resampling.BILINEAR
    )
    return np.asarray(big)[: hw[0], : hw[1]]


def _video(rng: np.random.Generator, num_frames: int, hw: tuple[int, int]):
    """Yield (image (H, W, 3) float in [0, 1], labels (H, W) uint8) per frame."""
    h, w = hw
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    background = 0.25 + 0.3 * _texture(rng, hw, 16)[..., None] * rng.uniform(0.4, 1.0, 3)
    r = min(h, w)
    sizes = {1: 0.16 * r, 2: 0.13 * r, LATE_OBJECT: 0.12 * r}
    speed = 0.04 * r
    pos = {
        1: np.array([rng.uniform(0.3, 0.7) * h, rng.uniform(0.55, 0.8) * w]),
        2: np.array([rng.uniform(0.3, 0.7) * h, rng.uniform(0.2, 0.45) * w]),
        LATE_OBJECT: np.array([rng.uniform(0.3, 0.7) * h, -0.5 * sizes[LATE_OBJECT]]),
    }
    vel = {k: rng.normal(0, speed, 2) for k in (1, 2)}
    vel[LATE_OBJECT] = np.array([rng.normal(0, 0.3 * speed), 1.5 * speed])
    colours = {k: rng.uniform(0.55, 1.0, 3) * (rng.random(3) > 0.3) + 0.1 for k in sizes}
    stripes = {k: _texture(rng, hw, 4) for k in sizes}
    enter = late_entry_frame(num_frames)
    for t in range(num_frames):
        image = background + 0.04 * rng.standard_normal((h, w, 1)).astype(np.float32)
        labels = np.zeros(hw, dtype=np.uint8)
        for k in (1, 2, LATE_OBJECT):
            if k == LATE_OBJECT and t < enter:
                continue
            (y, x), s = pos[k], sizes[k]
            if k == 1:
                inside = (rows - y) ** 2 + (cols - x) ** 2 <= s**2
            elif k == 2:
                inside = (np.abs(rows - y) <= s) & (np.abs(cols - x) <= 0.8 * s)
            else:
                inside = ((rows - y) / (0.6 * s)) ** 2 + ((cols - x) / s) ** 2 <= 1
            shade = colours[k] * (0.7 + 0.3 * stripes[k][..., None])
            image[inside] = shade[inside]
            labels[inside] = k
        yield np.clip(image, 0, 1), labels
        for k in pos:
            if k == LATE_OBJECT and t + 1 < enter:
                continue
            pos[k] = pos[k] + vel[k]
            for axis, limit in enumerate((h, w)):
                low, high = sizes[k], limit - sizes[k]
                entering = k == LATE_OBJECT and pos[k][1] < low and axis == 1
                if not entering and not low <= pos[k][axis] <= high:
                    vel[k][axis] = -vel[k][axis]
                    pos[k][axis] = np.clip(pos[k][axis], low, high)


def write_moving_shapes(
    root: str | os.PathLike[str],
    *,
    videos: int = 3,
    frames: int = 12,
    size: tuple[int, int] = (96, 128),
    tiff: bool = False,
    seed: int = 0,
) -> Path:
    """Write a generated DAVIS-layout dataset.

    Parameters
    ----------
    root
        Dataset folder (created); gets ``JPEGImages/shapesNN/NNNNN.jpg`` (or ``.tif``)
        and ``Annotations/shapesNN/NNNNN.png`` (DAVIS palette) for every frame.
    videos, frames
        How many videos, and frames per video (at least 3).
    size
        (rows, columns) of the frames.
    tiff
        Write single-channel uint16 TIFF frames (microscopy-like) instead of RGB JPEGs.
    seed
        Random seed: equal arguments give equal files.

    Returns
    -------
    Path
        ``root``.
    """
    if frames < 3:
        raise ValueError(f"frames={frames}: a video needs at least 3 frames")
    root = Path(root)
    rng = np.random.default_rng(seed)
    palette = davis_palette()
    for v in range(videos):
        name = f"shapes{v:02d}"
        image_dir, ann_dir = root / IMAGES / name, root / ANNOTATIONS / name
        image_dir.mkdir(parents=True, exist_ok=True)
        ann_dir.mkdir(parents=True, exist_ok=True)
        for t, (image, labels) in enumerate(_video(rng, frames, size)):
            stem = f"{t:05d}"
            if tiff:
                import tifffile

                grey = image.mean(axis=-1) * 4000 + 200
                tifffile.imwrite(image_dir / f"{stem}.tif", grey.astype(np.uint16))
            else:
                rgb = Image.fromarray((image * 255).round().astype(np.uint8))
                rgb.save(image_dir / f"{stem}.jpg", quality=95)
            write_label_png(ann_dir / f"{stem}.png", labels, palette)
    return root
