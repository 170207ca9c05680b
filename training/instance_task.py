"""The instance head's training task: whole-field tiles and their per-pixel targets.

Each step draws ``instance.batch_size`` tiles from the training frames. A tile is cut
around a random point and rescaled so that the frame's objects are about the head's
diameter across (times a log-uniform jitter), as :class:`sam2_engine.InstanceSegmenter`
rescales images at inference. Targets: foreground (any object) and the distance to the
object's boundary divided by the object's largest such distance (1 at its centre).
Tiles depend only on the run's seed and the step, so a resumed run sees the same ones.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage as ndi

from sam2_engine import Normalization, intensity_range, resize_batch, to_rgb
from sam2_training.config import InstanceTaskConfig
from sam2_training.losses import dice_loss
from sam2_training.sources import LabelledStack, Segment

__all__ = ["FieldTiles", "boundary_distance", "instance_loss", "median_diameter"]


def median_diameter(labels: np.ndarray) -> float | None:
    """Median equivalent diameter (pixels) of the objects of a (H, W) label image."""
    areas = np.bincount(labels.ravel().astype(np.int64))[1:]
    areas = areas[areas > 0]
    if areas.size == 0:
        return None
    return float(np.median(np.sqrt(4.0 * areas / np.pi)))


def boundary_distance(labels: np.ndarray) -> np.ndarray:
    """(H, W) float32: distance to the object's boundary / its largest value, 0 outside.

    Touching objects are kept apart: each object's distance is measured inside itself.
    """
    out = np.zeros(labels.shape, np.float32)
    for index, window in enumerate(ndi.find_objects(labels), start=1):
        if window is None:
            continue
        grown = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in window)
        inside = labels[grown] == index
        dist = ndi.distance_transform_edt(np.pad(inside, 1))[1:-1, 1:-1]
        peak = dist.max()
        if peak > 0:
            out[grown][inside] = (dist[inside] / peak).astype(np.float32)
    return out


class FieldTiles:
    """Draws tiles of whole fields with foreground and distance targets.

    Parameters
    ----------
    stacks
        All stacks of the run.
    segments
        The training segments (validation frames are never drawn).
    cfg
        Tile count, side and diameter jitter.
    diameter
        Object diameter (tile pixels) the head works at.
    percentiles
        Intensity range used to normalise frames (as the clip samples).
    seed
        The run's seed.
    """

    def __init__(
        self,
        stacks: Sequence[LabelledStack],
        segments: Sequence[Segment],
        cfg: InstanceTaskConfig,
        diameter: float,
        percentiles: Sequence[float],
        seed: int,
    ) -> None:
        self.stacks = list(stacks)
        self.frames = [(s.stack, t) for s in segments for t in range(s.start, s.stop)]
        if not self.frames:
            raise ValueError("the instance task needs training frames; none are left")
        self.cfg, self.diameter, self.seed = cfg, float(diameter), int(seed)
        self.norm = Normalization("auto", low=float(percentiles[0]), high=float(percentiles[1]))

    def tiles(self, step: int) -> tuple[torch.Tensor, np.ndarray]:
        """Tiles of ``step``: (B, 3, S, S) normalised images and (B, S, S) int32 labels."""
        rng = np.random.default_rng([self.seed, 41, int(step)])
        images, labels = [], []
        while len(images) < self.cfg.batch_size:
            tile = self._tile(rng)
            if tile is not None:
                images.append(tile[0])
                labels.append(tile[1])
        return resize_batch(images, self.cfg.tile), np.stack(labels)

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Tiles of ``step`` with their targets: (B, 3, S, S) normalised images,
        (B, S, S) foreground and (B, S, S) distance targets (float32)."""
        x, labels = self.tiles(step)
        fg = torch.from_numpy(labels > 0).float()
        dist = torch.from_numpy(np.stack([boundary_distance(lab) for lab in labels]))
        return x, fg, dist

    def _tile(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray] | None:
        index, t = self.frames[int(rng.integers(len(self.frames)))]
        stack = self.stacks[index]
        labels = np.asarray(stack.labels(t))
        size = median_diameter(labels)
        if size is None:
            return None
        jitter = np.exp(rng.uniform(*np.log(self.cfg.diameter_jitter)))
        scale = self.diameter * jitter / size  # tile pixels per frame pixel
        side = max(round(self.cfg.tile / scale), 8)  # frame pixels under the tile
        h, w = labels.shape
        top = int(rng.integers(min(0, h - side), max(h - side, 0) + 1))
        left = int(rng.integers(min(0, w - side), max(w - side, 0) + 1))
        image = np.asarray(stack.image(t))
        channel_axis = -1 if stack.has_channels else None
        stats = intensity_range(image, channel_axis=channel_axis, normalization=self.norm)
        rgb = to_rgb(image, channel_axis=channel_axis, stats=stats)
        rgb_cut = _cut(rgb, top, left, side)
        lab_cut = _cut(labels, top, left, side)
        if rng.random() < 0.5:
            rgb_cut, lab_cut = rgb_cut[:, ::-1], lab_cut[:, ::-1]
        k = int(rng.integers(4))
        rgb_cut, lab_cut = np.rot90(rgb_cut, k), np.rot90(lab_cut, k)
        gain, gamma = np.exp(rng.normal(0, 0.2)), np.exp(rng.normal(0, 0.2))
        rgb_cut = np.clip(rgb_cut * gain, 0, 1) ** gamma
        rgb_cut = np.clip(rgb_cut + rng.normal(0, rng.uniform(0, 0.03), rgb_cut.shape), 0, 1)
        labels_tile = _resize_labels(np.ascontiguousarray(lab_cut), self.cfg.tile)
        return np.ascontiguousarray(rgb_cut, dtype=np.float32), labels_tile


def _cut(array: np.ndarray, top: int, left: int, side: int) -> np.ndarray:
    """A side x side window at (top, left); outside the frame: reflected (images) or 0."""
    h, w = array.shape[:2]
    pad = [(max(-top, 0), max(top + side - h, 0)), (max(-left, 0), max(left + side - w, 0))]
    pad += [(0, 0)] * (array.ndim - 2)
    window = array[max(top, 0) : top + side, max(left, 0) : left + side]
    if any(p for pair in pad for p in pair):
        mode = "reflect" if array.dtype.kind == "f" else "constant"
        if mode == "reflect" and min(window.shape[:2]) < 2:
            mode = "edge"
        window = np.pad(window, pad, mode=mode)
    return window


def _resize_labels(labels: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour resize of a (H, W) label image to (size, size)."""
    rows = np.minimum((np.arange(size) + 0.5) * labels.shape[0] / size, labels.shape[0] - 1)
    cols = np.minimum((np.arange(size) + 0.5) * labels.shape[1] / size, labels.shape[1] - 1)
    return labels[rows.astype(int)[:, None], cols.astype(int)[None, :]].astype(np.int32)


def instance_loss(
    logits: torch.Tensor, foreground: torch.Tensor, distance: torch.Tensor
) -> torch.Tensor:
    """Loss of the instance head: foreground BCE + dice, distance BCE (soft targets).

    Parameters
    ----------
    logits
        (B, 2, S, S) head output (foreground, distance logits).
    foreground, distance
        (B, S, S) targets in [0, 1].
    """
    fg_logit, dist_logit = logits[:, 0], logits[:, 1]
    bce = F.binary_cross_entropy_with_logits(fg_logit, foreground)
    dice = dice_loss(fg_logit[:, None], foreground[:, None]).mean()
    dist = F.binary_cross_entropy_with_logits(dist_logit, distance)
    return bce + dice + 2.0 * dist
