"""Annotated data for fine-tuning: arrays, TIFF folders and Cell Tracking Challenge sets.

Every source becomes a list of :class:`LabelledStack`: a sequence of T frames (T = 1 for
a 2D image, planes of a z-stack, time points of a time-lapse) with one instance-label
image per frame. Label ids must be consistent along the stack (the same object keeps
its id from plane to plane or frame to frame); 0 is background.

Accepted inputs
---------------
Arrays (:func:`stacks_from_arrays`), e.g. napari layers' data:
    images ``(H, W)``, ``(H, W, C)``, ``(T, H, W)`` or ``(T, H, W, C)`` (or C on another
    axis, given by ``channel_axis``) and labels ``(H, W)`` or ``(T, H, W)`` integer ids;
    or lists of such pairs. Arrays are read frame by frame (numpy, dask, zarr, memmaps).

A TIFF folder (:func:`sam2_training.folders.stacks_from_tiff_folder`)::

    folder/images/<name>.tif     one image or stack per file (2D, 2D + channels, 3D)
    folder/labels/<name>.tif     its instance labels, same file name, same (T, H, W)

A Cell Tracking Challenge data set (:func:`sam2_training.folders.stacks_from_ctc_folder`)::

    folder/01/t000.tif ...                  frames of sequence 01 (and 02, ...)
    folder/01_GT/TRA/man_track000.tif ...   tracking labels with consistent ids

Inputs are checked before any training starts; problems raise ``ValueError`` (or
``TypeError`` for a wrong dtype) naming the bad input and the fix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


class LabelledStack:
    """T frames and their instance labels, read one frame at a time.

    Subclasses implement :meth:`image` and :meth:`labels`; ``name`` identifies the
    stack in messages, ``num_frames`` and ``frame_shape`` are known without reading.
    """

    name: str
    num_frames: int
    frame_shape: tuple[int, int]
    has_channels: bool  # frames are (H, W, C) rather than (H, W)

    def image(self, t: int) -> np.ndarray:
        """Frame ``t`` as (H, W) or (H, W, C) (channels last), any dtype."""
        raise NotImplementedError

    def labels(self, t: int) -> np.ndarray:
        """Labels of frame ``t`` as (H, W) non-negative integers."""
        raise NotImplementedError

    def fingerprint(self, digest: Any) -> None:
        """Feed what identifies the data into a hashlib object."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, frames={self.num_frames})"


class PairedStack(LabelledStack):
    """A stack held as one image and one label array: (H, W[, C]) or (T, H, W[, C]).

    Subclasses call :meth:`_set_layout` once the shapes are checked, and read frames
    with :meth:`_frame_of` and :meth:`_channels_last`.
    """

    _is_stack: bool
    _frame_axis: int | None

    def _set_layout(self, label_shape: tuple[int, ...], channel_axis: int | None) -> None:
        """Frames and channels from the (H, W) or (T, H, W) label shape and the image's
        channel axis (None: no channels)."""
        self._is_stack = len(label_shape) == 3
        self.num_frames = label_shape[0] if self._is_stack else 1
        self.frame_shape = (label_shape[-2], label_shape[-1])
        self.has_channels = channel_axis is not None
        # channel axis within one frame (after the stack axis is indexed away)
        self._frame_axis = (
            None if channel_axis is None else (channel_axis - 1 if self._is_stack else channel_axis)
        )

    def _frame_of(self, data: Any, t: int) -> np.ndarray:
        """Frame ``t`` of ``data`` (the whole array when it is not a stack)."""
        return np.asarray(data[t] if self._is_stack else data)

    def _channels_last(self, frame: np.ndarray) -> np.ndarray:
        if self._frame_axis is not None and self._frame_axis != frame.ndim - 1:
            frame = np.moveaxis(frame, self._frame_axis, -1)
        return frame


def check_label_dtype(dtype: np.dtype, name: str) -> None:
    """Refuse label images that are not integer (or bool) ids; ``name`` is for the message."""
    if dtype.kind not in "uib":
        raise TypeError(
            f"{name} has dtype {dtype}; instance labels must be integers (0 = background), "
            "e.g. pass labels.astype(np.int32) or a napari Labels layer's data"
        )


def _as_array(value: Any, name: str) -> Any:
    """Keep array-likes lazy (dask, zarr, memmap); turn other sequences into numpy."""
    if value is None:
        raise ValueError(f"{name} is None; pass an array (or a list of arrays)")
    if hasattr(value, "shape") and hasattr(value, "dtype") and hasattr(value, "__getitem__"):
        return value
    return np.asarray(value)


def channel_axis_of(
    image_shape: tuple[int, ...], label_shape: tuple[int, ...], channel_axis: int | None, name: str
) -> int | None:
    """Axis of ``image_shape`` holding channels (None for none), checked against the labels."""
    ndim = len(image_shape)
    if channel_axis is not None:
        axis = channel_axis % ndim if -ndim <= channel_axis < ndim else None
        if axis is None or ndim != len(label_shape) + 1:
            raise ValueError(
                f"{name}: channel_axis={channel_axis} does not fit an image of shape "
                f"{image_shape} with labels of shape {label_shape}"
            )
        rest = tuple(s for i, s in enumerate(image_shape) if i != axis)
        if rest != tuple(label_shape):
            raise ValueError(
                f"{name}: image shape {image_shape} without channel axis {channel_axis} is "
                f"{rest}, but the labels have shape {label_shape}; they must match"
            )
        return axis
    if tuple(image_shape) == tuple(label_shape):
        return None
    if ndim == len(label_shape) + 1:
        if tuple(image_shape[:-1]) == tuple(label_shape) and image_shape[-1] <= 4:
            return ndim - 1
        for axis in range(ndim - 1):
            rest = tuple(s for i, s in enumerate(image_shape) if i != axis)
            if rest == tuple(label_shape) and image_shape[axis] <= 4:
                return axis
    raise ValueError(
        f"{name}: image shape {tuple(image_shape)} does not match labels shape "
        f"{tuple(label_shape)}; images must be the labels' shape, optionally with one "
        "channel axis (pass channel_axis=... if it holds more than 4 channels)"
    )


class ArrayStack(PairedStack):
    """A stack (or a single 2D image) held in arrays.

    Parameters
    ----------
    images
        (H, W[, C]) or (T, H, W[, C]) array-like (numpy, dask, zarr, memmap), any dtype;
        a channel axis elsewhere is given by ``channel_axis``. Not modified.
    labels
        (H, W) or (T, H, W) integer or bool instance labels.
    channel_axis
        Axis of ``images`` holding channels, if any.
    name
        Shown in messages.
    """

    def __init__(
        self, images: Any, labels: Any, channel_axis: int | None = None, name: str = "images"
    ) -> None:
        self.name = name
        images = _as_array(images, f"{name} (images)")
        labels = _as_array(labels, f"{name} (labels)")
        lshape = tuple(int(s) for s in labels.shape)
        if len(lshape) not in (2, 3):
            raise ValueError(
                f"{name}: labels have shape {lshape}; pass (H, W) labels for a 2D image or "
                "(T, H, W) for a z-stack or time-lapse (a list for several images)"
            )
        check_label_dtype(np.dtype(labels.dtype), f"{name} (labels)")
        if np.dtype(images.dtype).kind not in "uifb":
            raise TypeError(f"{name}: images have dtype {images.dtype}; pass real numbers")
        ishape = tuple(int(s) for s in images.shape)
        axis = channel_axis_of(ishape, lshape, channel_axis, name)
        if min(lshape[-2:]) < 8:
            raise ValueError(f"{name}: frames of {lshape[-2:]} pixels are too small to train on")
        self._images, self._labels = images, labels
        self._set_layout(lshape, axis)

    def image(self, t: int) -> np.ndarray:
        return self._channels_last(self._frame_of(self._images, t))

    def labels(self, t: int) -> np.ndarray:
        lab = self._frame_of(self._labels, t)
        return lab.astype(np.int64, copy=False) if lab.dtype == bool else lab

    def fingerprint(self, digest: Any) -> None:
        for arr in (self._images, self._labels):
            digest.update(repr((tuple(arr.shape), str(arr.dtype))).encode())
            if isinstance(arr, np.ndarray):
                digest.update(np.ascontiguousarray(arr).data)
            else:  # lazy arrays: frame by frame
                for t in range(arr.shape[0]):
                    digest.update(np.ascontiguousarray(np.asarray(arr[t])).data)


# --------------------------------------------------------------------------- builders


def stacks_from_arrays(
    images: Any, labels: Any, channel_axis: int | None = None, name: str = "images"
) -> list[LabelledStack]:
    """Stacks from an image/labels pair or from two equally long lists of pairs.

    Raises
    ------
    ValueError
        Missing labels, lists of different lengths, mismatched shapes.
    TypeError
        Labels that are not integers.
    """
    if labels is None:
        raise ValueError(
            "no labels were given; pass instance labels (0 = background, 1..N objects) "
            "of the same shape as the images, e.g. a napari Labels layer's data"
        )
    if images is None:
        raise ValueError("no images were given; pass the images that the labels annotate")
    if isinstance(images, (list, tuple)) or isinstance(labels, (list, tuple)):
        if not isinstance(images, (list, tuple)) or not isinstance(labels, (list, tuple)):
            raise ValueError(
                "pass images and labels both as arrays or both as lists of arrays; got "
                f"{type(images).__name__} and {type(labels).__name__}"
            )
        if len(images) != len(labels):
            raise ValueError(
                f"got {len(images)} images but {len(labels)} label arrays; pass one label "
                "array per image"
            )
        if not images:
            raise ValueError("the lists of images and labels are empty; pass at least one pair")
        return [
            ArrayStack(im, lab, channel_axis, f"{name}[{i}]")
            for i, (im, lab) in enumerate(zip(images, labels, strict=True))
        ]
    return [ArrayStack(images, labels, channel_axis, name)]


# --------------------------------------------------------------------------- splits


@dataclass(frozen=True)
class Segment:
    """Frames ``start .. stop - 1`` of stack ``stack``, and which of them hold objects."""

    stack: int
    start: int
    stop: int


def object_frames(stack: LabelledStack) -> np.ndarray:
    """(T,) bool: which frames hold at least one labelled object (reads every label frame)."""
    return np.array([bool(np.any(stack.labels(t))) for t in range(stack.num_frames)])


def check_stacks(stacks: Sequence[LabelledStack]) -> list[np.ndarray]:
    """Refuse stacks without any object; return each stack's :func:`object_frames`."""
    if not stacks:
        raise ValueError("the dataset is empty; pass at least one annotated image")
    present = []
    for stack in stacks:
        frames = object_frames(stack)
        if not frames.any():
            raise ValueError(
                f"{stack.name}: the labels hold no object (all zero); annotate at least one "
                "object (ids 1, 2, ...) or leave this image out"
            )
        present.append(frames)
    return present


def split_segments(
    stacks: Sequence[LabelledStack],
    present: Sequence[np.ndarray],
    val_fraction: float,
    seed: int,
    clip_length: int = 1,
) -> tuple[list[Segment], list[Segment]]:
    """Hold out data for validation.

    Several stacks: whole stacks go to validation (``round(val_fraction * n)``, at least
    one, never all). A single stack of several frames: its last frames (at least one,
    and up to ``clip_length`` if that leaves half of the stack for training).
    A single 2D image, or ``val_fraction == 0``: no validation.

    Returns
    -------
    (train segments, validation segments); validation may be empty.
    """
    full = [Segment(i, 0, s.num_frames) for i, s in enumerate(stacks)]
    if val_fraction <= 0:
        return full, []
    if len(stacks) >= 2:
        n_val = min(max(1, round(val_fraction * len(stacks))), len(stacks) - 1)
        order = np.random.default_rng(seed).permutation(len(stacks))
        val_ids = set(order[:n_val].tolist())
        return [s for s in full if s.stack not in val_ids], [s for s in full if s.stack in val_ids]
    num = stacks[0].num_frames
    if num < 2:
        return full, []
    # the held-out tail is long enough for tracking clips when the stack allows it
    n_val = max(1, round(val_fraction * num), min(clip_length, num // 2))
    cut = num - n_val
    if not present[0][:cut].any() or not present[0][cut:].any():
        return full, []
    return [Segment(0, 0, cut)], [Segment(0, cut, num)]


def fingerprint(stacks: Sequence[LabelledStack]) -> str:
    """A short hash of the data (array contents, or file names and sizes)."""
    digest = hashlib.blake2b(digest_size=16)
    for stack in stacks:
        digest.update(stack.name.encode())
        stack.fingerprint(digest)
    return digest.hexdigest()
