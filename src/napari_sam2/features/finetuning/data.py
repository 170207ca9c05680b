"""Training data from napari layers, for the fine-tuning widget (Qt-free).

A :class:`LayerPair` is an Image layer and the Labels layer annotating it, with the
axes the user chose: ``stack_axis`` and ``channel_axis`` are axes of the Image layer's
data, as in the SAM 2 widget. :func:`collect_arrays` turns pairs into the arrays that
:func:`sam2_training.finetune` takes (stack axis first, channels last, views of the
layers' data: nothing is copied; zarr data stay lazy) and checks them with the training
package's own checks (:mod:`sam2_training.sources`); leading axes other than the stack
axis (e.g. z of a 3D + t movie trained along t) are split into separate stacks.
:func:`summarize` counts clips and steps per epoch as the training loop will.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from napari_sam2.core.layout import layer_data
from napari_sam2.core.state import StackKind


@dataclass(frozen=True, eq=False)
class LayerPair:
    """An Image layer and the Labels layer annotating it.

    Attributes
    ----------
    image, labels
        napari layers (anything with ``data`` and ``name``); ``labels`` may be None
        (refused by :func:`collect_arrays`).
    stack_axis
        Image-layer axis of a z-stack or time-lapse: its planes / frames are sampled as
        clips, which trains tracking (label ids must stay the same along it). None: every
        2D plane is an independent image.
    stack_kind
        What the stack axis is (time or z); shown to the user and kept in messages.
    channel_axis
        Image-layer axis holding channels (RGB layers: the last axis, implied).
    """

    image: Any
    labels: Any
    stack_axis: int | None = None
    stack_kind: StackKind = StackKind.TIME
    channel_axis: int | None = None

    @classmethod
    def guess(cls, image: Any, labels: Any, stack_kind: StackKind = StackKind.TIME) -> LayerPair:
        """Default axes: a channel axis if the image has one axis more than the labels,
        the first other leading axis as the stack axis."""
        ishape = tuple(layer_data(image).shape)
        lshape = () if labels is None else tuple(layer_data(labels).shape)
        rgb = bool(getattr(image, "rgb", False))
        channel = None
        if not rgb and len(ishape) == len(lshape) + 1:
            fits = [a for a in range(len(ishape)) if ishape[:a] + ishape[a + 1 :] == lshape]
            channel = fits[0] if fits else None
        spatial = len(ishape) - (1 if rgb or channel is not None else 0)
        leading = [a for a in range(len(ishape)) if a != channel][: spatial - 2]
        return cls(image, labels, leading[0] if leading else None, stack_kind, channel)

    def describe(self) -> str:
        labels = "no labels" if self.labels is None else repr(self.labels.name)
        if self.stack_axis is None:
            axes = "2D images"
        else:
            axes = f"{self.stack_kind.value} on axis {self.stack_axis}"
        if self.channel_axis is not None:
            axes += f", channels on axis {self.channel_axis}"
        return f"{self.image.name!r} + {labels} ({axes})"


@dataclass(frozen=True)
class TrainingArrays:
    """Arrays handed to :func:`sam2_training.finetune`: stack axis first, channels last.

    Attributes
    ----------
    images, labels
        One (T, H, W[, C]) or (H, W[, C]) image and its labels per stack (views of the
        layers' data: nothing is copied).
    names
        Names of the stacks in messages (``pair 1 ('image' + 'labels')``).
    channel_axis
        What ``finetune`` gets as ``channel_axis``: -1 when every image has channels,
        else None (channels, if any, are found as a last axis of up to 4).
    stacks
        The same data as ``sam2_training.sources.LabelledStack`` objects.
    present
        Per stack, (T,) bool: frames holding at least one object.
    skipped
        Planes or sub-stacks left out because they hold no object.
    """

    images: list[Any]
    labels: list[Any]
    names: list[str]
    channel_axis: int | None
    stacks: list[Any]
    present: list[np.ndarray]
    skipped: int = 0

    @property
    def num_frames(self) -> list[int]:
        """Frames (planes or time points) of every stack."""
        return [int(s.num_frames) for s in self.stacks]


def _lazy(arr: Any) -> Any:
    """numpy and dask arrays as they are; anything else (zarr, ...) as a lazy dask array."""
    if isinstance(arr, np.ndarray) or type(arr).__module__.startswith("dask"):
        return arr
    import dask.array as da

    return da.from_array(arr, chunks=tuple([1] * (arr.ndim - 2) + list(arr.shape[-2:])))


def _moveaxis(arr: Any, source: int, dest: int) -> Any:
    if isinstance(arr, np.ndarray):
        return np.moveaxis(arr, source, dest)
    import dask.array as da

    return da.moveaxis(_lazy(arr), source, dest)


def pair_arrays(pair: LayerPair, number: int = 1) -> list[tuple[Any, Any, str]]:
    """``(image, labels, name)`` of each stack of a pair (stack axis first, channels last).

    Raises
    ------
    ValueError
        No Labels layer, shapes that do not match, axes that do not fit the data.
    """
    if pair.image is None:
        raise ValueError(f"pair {number}: choose an Image layer")
    where = f"pair {number} ({pair.describe()})"
    if pair.labels is None:
        raise ValueError(
            f"pair {number} ({pair.image.name!r}) has no Labels layer; choose the Labels "
            "layer holding its annotations (0 = background, 1, 2, ... = objects)"
        )
    image, labels = layer_data(pair.image), layer_data(pair.labels)
    ishape, lshape = tuple(int(n) for n in image.shape), tuple(int(n) for n in labels.shape)
    ca = len(ishape) - 1 if getattr(pair.image, "rgb", False) else pair.channel_axis
    if ca is not None and not -len(ishape) <= ca < len(ishape):
        raise ValueError(f"{where}: the image has no axis {ca} (its shape is {ishape})")
    ca = None if ca is None else ca % len(ishape)
    spatial = ishape if ca is None else ishape[:ca] + ishape[ca + 1 :]
    if ca is not None and len(lshape) == len(ishape) and lshape[ca] == 1:
        labels = labels[(slice(None),) * ca + (0,)]  # a length-1 channel axis (SAM 2 widget)
        lshape = spatial if lshape[:ca] + lshape[ca + 1 :] == spatial else lshape
    if lshape != spatial:
        channels = "" if ca is None else f" (channels on axis {ca})"
        raise ValueError(
            f"{where}: the image has shape {ishape}{channels} but the labels have shape "
            f"{lshape}; the labels must have the image's shape without its channel axis"
        )
    if len(lshape) < 2:
        raise ValueError(f"{where}: the data have shape {lshape}; pass 2D images or stacks")
    leading = len(lshape) - 2
    stack = None
    if pair.stack_axis is not None:
        axis = pair.stack_axis
        if -len(ishape) <= axis < len(ishape) and axis % len(ishape) != ca:
            axis %= len(ishape)
            stack = axis - (1 if ca is not None and ca < axis else 0)
        if stack is None or not 0 <= stack < leading:
            raise ValueError(
                f"{where}: axis {pair.stack_axis} is not a z or time axis of data of shape "
                f"{ishape}; choose one of its leading axes, or none for 2D images"
            )
    if ca is not None:
        image = _moveaxis(image, ca, -1)
    others = [a for a in range(leading) if a != stack]
    if others:
        image, labels = _lazy(image), _lazy(labels)
    out = []
    for index in itertools.product(*(range(lshape[a]) for a in others)):
        key: list[Any] = [slice(None)] * leading
        for axis, i in zip(others, index, strict=True):
            key[axis] = i
        suffix = "".join(f"[axis {a}={i}]" for a, i in zip(others, index, strict=True))
        out.append((image[tuple(key)], labels[tuple(key)], where + suffix))
    return out


def collect_arrays(pairs: Sequence[LayerPair]) -> TrainingArrays:
    """The training arrays of all pairs, checked by :mod:`sam2_training.sources`.

    Planes or sub-stacks without any object (from splitting leading axes) are left out;
    a pair without any object at all is refused.

    Raises
    ------
    ValueError
        No pair, a pair without labels, mismatched shapes, labels with no object,
        frames too small, multichannel images with more than 4 channels mixed with
        single-channel ones.
    TypeError
        Labels that are not integers.
    """
    from sam2_training import sources

    if not pairs:
        raise ValueError(
            "no training data: add at least one pair of an Image layer and the Labels layer "
            "annotating it (Add pair)"
        )
    per_pair = [pair_arrays(pair, n) for n, pair in enumerate(pairs, 1)]
    entries = [e for mine in per_pair for e in mine]
    with_channels = [img.ndim == lab.ndim + 1 for img, lab, _ in entries]
    many = any(
        c and img.shape[-1] > 4 for (img, _, _), c in zip(entries, with_channels, strict=True)
    )
    if many and not all(with_channels):
        raise ValueError(
            "some images have more than 4 channels and others have none; train them "
            "separately, or give every pair a channel axis"
        )
    channel_axis = -1 if many else None
    out = TrainingArrays([], [], [], channel_axis, [], [])
    skipped = 0
    for n, (pair, mine) in enumerate(zip(pairs, per_pair, strict=True), 1):
        stacks = [sources.stacks_from_arrays(i, lab, channel_axis, nm)[0] for i, lab, nm in mine]
        if len(stacks) == 1:
            present = sources.check_stacks(stacks)  # raises, naming the pair, if empty
        else:
            present = [sources.object_frames(s) for s in stacks]
            if not any(p.any() for p in present):
                raise ValueError(
                    f"pair {n} ({pair.describe()}): the labels hold no object (all zero); "
                    "annotate at least one object (ids 1, 2, ...) or remove the pair"
                )
        for stack, frames, (img, lab, name) in zip(stacks, present, mine, strict=True):
            if not frames.any():
                skipped += 1
                continue
            out.images.append(img)
            out.labels.append(lab)
            out.names.append(name)
            out.stacks.append(stack)
            out.present.append(frames)
    return replace(out, skipped=skipped)


def steps_per_epoch(num_clips: int, batch_size: int, samples_per_epoch: int | None) -> int:
    """Optimizer steps of one epoch, as the training loop counts them.

    An epoch draws ``samples_per_epoch`` samples, by default one per training clip but at
    least one batch (``sam2_training.data_setup.build_datasets``); incomplete batches are
    dropped (``sam2_training.sampling.ResumableSampler``).
    """
    length = samples_per_epoch or max(num_clips, batch_size)
    return max(length // batch_size, 1)


@dataclass(frozen=True)
class DataSummary:
    """What the pairs give to train on, for the settings' clip length and split."""

    arrays: TrainingArrays
    train_clips: int
    val_stacks: int
    val_frames: int
    steps_per_epoch: int

    def describe(self) -> str:
        a = self.arrays
        stacks = sum(1 for n in a.num_frames if n > 1)
        images = len(a.num_frames) - stacks
        parts = []
        if images:
            parts.append(f"{images} image{'s' * (images > 1)}")
        if stacks:
            frames = sum(n for n in a.num_frames if n > 1)
            parts.append(f"{stacks} stack{'s' * (stacks > 1)} ({frames} frames)")
        text = (
            " + ".join(parts) + f"; {self.train_clips} training clip{'s' * (self.train_clips != 1)}"
        )
        if self.val_frames:
            text += f", {self.val_frames} validation frames"
        else:
            text += ", no validation (add a second image or a longer stack)"
        if a.skipped:
            text += f"; {a.skipped} planes without objects left out"
        return text


def summarize(arrays: TrainingArrays, cfg: Any) -> DataSummary:
    """Split and clip count of ``arrays`` under run config ``cfg`` (as the loop does it)."""
    from sam2_training import sources
    from sam2_training.datasets import clip_items

    stacks, present = arrays.stacks, arrays.present
    d = cfg.data
    train, val = sources.split_segments(
        stacks, present, d.val_fraction, cfg.trainer.seed, d.clip_length
    )
    items = clip_items(stacks, present, train, d.clip_length)
    if not items:
        raise ValueError(
            "the training part of the data has no frame with an object; annotate more "
            "frames or add another pair"
        )
    spe = steps_per_epoch(len(items), cfg.trainer.batch_size, d.samples_per_epoch)
    return DataSummary(arrays, len(items), len(val), sum(s.stop - s.start for s in val), spe)
