"""Training samples: clips of consecutive frames with the masks of a few objects.

A :class:`ClipDataset` cuts samples out of :class:`~sam2_training.sources.LabelledStack`
segments. One sample is a clip of up to ``clip_length`` consecutive frames (planes or
time points; one frame for 2D images) whose first frame shows at least one object,
optionally cropped, augmented, mapped to [0, 1] and resized to the model's S x S input,
with the boolean masks of up to ``max_objects`` objects visible on the first frame and
the prompting plan of the sample.

Reproducibility: a sample is addressed by a :class:`SampleKey` ``(epoch, index)``; all
its random choices (crop, objects, augmentation, prompts, dropout) come from a seed
derived from ``(seed, epoch, index)``. The same global index therefore gives the same
sample in a single process, under DistributedDataParallel, and after a resume.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from sam2_engine import Normalization, intensity_range, resize_batch, to_rgb
from sam2_training.augment import ClipTransform, apply_geometry, apply_intensity, draw_transform
from sam2_training.config import DataConfig, PromptConfig
from sam2_training.prompt_simulation import PromptPlan, draw_plan
from sam2_training.sources import LabelledStack, Segment
from sam2_training.windows import add_background_object, window_crop


class SampleKey(NamedTuple):
    """Address of a sample: the epoch and the global index within it."""

    epoch: int
    index: int


@dataclass(frozen=True)
class ClipItem:
    """A clip position: frames ``start .. start + length - 1`` of stack ``stack``.

    ``stop`` (exclusive) ends the segment the clip lies in: a strided clip (every s-th
    frame) must end before it. ``None``: the clip cannot be strided.
    """

    stack: int
    start: int
    length: int
    stop: int | None = None

    def frames(self, stride: int = 1) -> range:
        """The clip's frame indices with every ``stride``-th frame (1: consecutive)."""
        return range(self.start, self.start + (self.length - 1) * stride + 1, stride)

    def max_stride(self, limit: int) -> int:
        """The largest stride <= ``limit`` whose clip ends inside the segment."""
        if self.stop is None or self.length < 2:
            return 1
        return max(1, min(limit, (self.stop - 1 - self.start) // (self.length - 1)))


@dataclass
class ClipSample:
    """One training or validation sample.

    Attributes
    ----------
    images
        (T, 3, S, S) float32, ImageNet-normalised frames.
    masks
        (K, T, S, S) bool masks of K objects (all visible on frame 0).
    object_ids
        The K label ids.
    plan
        How the clip is prompted.
    seed
        Seed of the sample's prompt clicks and dropout.
    key
        Where the sample comes from.
    background_points
        (K, 2) float32 ``(x, y)`` model-input pixels of a click on the background for
        objects whose target is "no object" (their masks are empty), NaN for the others;
        None when the sample has none.
    """

    images: torch.Tensor
    masks: torch.Tensor
    object_ids: list[int]
    plan: PromptPlan
    seed: int
    key: SampleKey
    background_points: torch.Tensor | None = None

    @property
    def num_objects(self) -> int:
        return int(self.masks.shape[0])

    def to(self, device: torch.device | str) -> ClipSample:
        bg = None if self.background_points is None else self.background_points.to(device)
        return replace(
            self,
            images=self.images.to(device),
            masks=self.masks.to(device),
            background_points=bg,
        )


def collate_samples(samples: list[ClipSample]) -> list[ClipSample]:
    """DataLoader collate function: samples stay a list (clips differ in T and K)."""
    return list(samples)


def clip_items(
    stacks: Sequence[LabelledStack],
    present: Sequence[np.ndarray],
    segments: Sequence[Segment],
    clip_length: int,
) -> list[ClipItem]:
    """Every clip position inside ``segments`` whose first frame shows an object.

    Segments shorter than ``clip_length`` give shorter clips.
    """
    items = []
    for seg in segments:
        length = min(clip_length, seg.stop - seg.start)
        for start in range(seg.start, seg.stop - length + 1):
            if present[seg.stack][start]:
                items.append(ClipItem(seg.stack, start, length, seg.stop))
    return items


def sample_seeds(seed: int, key: SampleKey, stream: int) -> tuple[np.random.Generator, int]:
    """A numpy generator and an integer torch seed for one sample.

    ``stream`` separates training (0) from validation (1) draws.
    """
    seq = np.random.SeedSequence([seed, key.epoch, key.index, stream])
    child_np, child_torch = seq.spawn(2)
    torch_seed = int(child_torch.generate_state(1, dtype=np.uint64)[0] % (2**63 - 1))
    return np.random.default_rng(child_np), torch_seed


class ClipDataset(Dataset):
    """Samples cut from labelled stacks (see the module docstring).

    Parameters
    ----------
    stacks
        The data.
    items
        Clip positions (see :func:`clip_items`); must not be empty.
    data
        Clip, crop, object and augmentation settings.
    prompts
        Prompt-simulation settings (training plans).
    image_size
        S, the model's input side.
    seed
        The run's seed.
    train
        Random crops, objects, augmentation and plans; otherwise deterministic samples
        without augmentation, objects chosen once per item, a one-click plan.
    length
        Number of indices (items repeat cyclically); default ``len(items)``.
    max_objects
        Objects per sample; default ``data.max_objects``.
    windows
        Cut each sample as an object-centred window (``data.windows``) instead of a
        ``crop_size`` crop: what the model sees at inference in window mode.
    """

    def __init__(
        self,
        stacks: Sequence[LabelledStack],
        items: Sequence[ClipItem],
        data: DataConfig,
        prompts: PromptConfig,
        image_size: int,
        seed: int,
        *,
        train: bool = True,
        length: int | None = None,
        max_objects: int | None = None,
        windows: bool = False,
    ) -> None:
        if not items:
            raise ValueError(
                "no clip has an object on its first frame; check that the labels annotate "
                "objects (ids > 0) in the images used for training"
            )
        self.stacks = list(stacks)
        self.items = list(items)
        self.data = data
        self.prompts = prompts
        self.image_size = int(image_size)
        self.seed = int(seed)
        self.train = train
        self.length = int(length) if length is not None else len(self.items)
        self.max_objects = int(max_objects or data.max_objects)
        self.windows = bool(windows)
        low, high = data.percentiles
        norm = Normalization("auto", low=low, high=high)
        self._stats = [_stack_range(s, norm) for s in self.stacks]

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, key: SampleKey | tuple[int, int] | int) -> ClipSample:
        if isinstance(key, (int, np.integer)):
            key = SampleKey(0, int(key))
        key = SampleKey(int(key[0]), int(key[1]))
        if not 0 <= key.index < self.length:
            raise IndexError(f"sample index {key.index} is out of range 0..{self.length - 1}")
        # validation samples do not change with the epoch
        rng, torch_seed = sample_seeds(
            self.seed, key if self.train else SampleKey(0, key.index), 0 if self.train else 1
        )
        item = self.items[key.index % len(self.items)]
        stack = self.stacks[item.stack]
        stride = 1
        if self.train and self.data.clip_stride > 1:
            stride = int(rng.integers(1, item.max_stride(self.data.clip_stride) + 1))
        frames = np.stack([stack.image(t) for t in item.frames(stride)])
        labels = np.stack([stack.labels(t) for t in item.frames(stride)])
        target = None
        if self.windows:
            frames, labels, target = window_crop(frames, labels, self.data.windows, rng, self.train)
        else:
            frames, labels = self._crop(frames, labels, rng)
        transform = draw_transform(self.data.augment, rng) if self.train else ClipTransform()
        frames, labels = apply_geometry(frames, transform), apply_geometry(labels, transform)
        rgb = np.stack(
            [
                to_rgb(
                    f,
                    channel_axis=-1 if stack.has_channels else None,
                    stats=self._stats[item.stack],
                )
                for f in frames
            ]
        )
        if self.train:
            rgb = apply_intensity(rgb, transform, rng)
        images = resize_batch(list(rgb), self.image_size)
        masks, ids = self._object_masks(labels, rng, target)
        if self.train:
            plan = draw_plan(item.length, self.prompts, rng)
        else:
            plan = PromptPlan("point", [0], num_frames=item.length)
        background = None
        if self.train and plan.kind == "point" and rng.random() < self.data.background_clicks:
            masks, ids, background = add_background_object(masks, ids, labels[0], rng)
        return ClipSample(images, masks, ids, plan, torch_seed, key, background)

    # ------------------------------------------------------------------ helpers
    def _crop(
        self, frames: np.ndarray, labels: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """A ``crop_size`` window containing a random pixel of a random first-frame object."""
        size = self.data.crop_size
        h, w = labels.shape[1:]
        if size is None or (h <= size and w <= size):
            return frames, labels
        ch, cw = min(size, h), min(size, w)
        rows, cols = np.nonzero(labels[0])
        pick = int(rng.integers(len(rows)))
        top = int(np.clip(rows[pick] - rng.integers(0, ch), 0, h - ch))
        left = int(np.clip(cols[pick] - rng.integers(0, cw), 0, w - cw))
        window = (slice(None), slice(top, top + ch), slice(left, left + cw))
        return frames[window], labels[window]

    def _object_masks(
        self, labels: np.ndarray, rng: np.random.Generator, first: int | None = None
    ) -> tuple[torch.Tensor, list[int]]:
        """(K, T, S, S) masks of up to ``max_objects`` objects visible on frame 0 at size S
        (``first`` leads when given: the object a window was cut around)."""
        candidates = np.unique(labels[0])
        candidates = candidates[candidates != 0]
        order = rng.permutation(candidates)
        if first is not None and first in candidates:
            order = np.concatenate([[first], order[order != first]])
        chosen: list[torch.Tensor] = []
        ids: list[int] = []
        for start in range(0, len(order), self.max_objects):
            batch = order[start : start + self.max_objects]
            resized = _resize_masks(labels, batch, self.image_size)
            for obj_id, mask in zip(batch.tolist(), resized, strict=True):
                if len(ids) < self.max_objects and bool(mask[0].any()):
                    chosen.append(mask)
                    ids.append(int(obj_id))
            if len(ids) == self.max_objects:
                break
        if not ids:  # objects too small for the model size: keep the largest, any coverage
            areas = [(labels[0] == c).sum() for c in candidates]
            best = candidates[int(np.argmax(areas))]
            chosen = [_resize_masks(labels, np.array([best]), self.image_size, threshold=0.0)[0]]
            ids = [int(best)]
        return torch.stack(chosen), ids


def _resize_masks(
    labels: np.ndarray, ids: np.ndarray, size: int, threshold: float = 0.5
) -> torch.Tensor:
    """(T, H, W) labels -> (len(ids), T, S, S) bool masks (area-weighted, then thresholded)."""
    t = labels.shape[0]
    masks = torch.from_numpy(labels[None] == ids.reshape(-1, 1, 1, 1)).float()
    flat = masks.reshape(-1, 1, *labels.shape[1:])
    if tuple(labels.shape[1:]) != (size, size):
        flat = F.interpolate(
            flat, size=(size, size), mode="bilinear", align_corners=False, antialias=True
        )
    return (flat > threshold).reshape(len(ids), t, size, size)


def _stack_range(stack: LabelledStack, norm: Normalization) -> np.ndarray | None:
    """Intensity range of a stack from up to 8 evenly spaced frames."""
    picks = np.unique(np.linspace(0, stack.num_frames - 1, min(stack.num_frames, 8)).astype(int))
    sample = np.concatenate([stack.image(int(t)) for t in picks], axis=0)
    return intensity_range(
        sample, channel_axis=-1 if stack.has_channels else None, normalization=norm
    )
