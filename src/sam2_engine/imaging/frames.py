"""The image edge of the engine: user arrays in, model-ready tensors out.

Three steps, kept apart so that each can be tested on its own:

1. :func:`~sam2_engine.imaging.intensity.to_rgb` turns one image of any dtype and layout into an
   (H, W, 3) float32 array with values in [0, 1] (rows, columns, R/G/B).
2. :class:`FrameSource` wraps a stack (T, H, W) or (T, H, W, C) -- time or z first -- held
   in numpy, dask, zarr or a ``tifffile.memmap`` and hands out one such frame at a time,
   normalised with statistics shared by the whole stack. Nothing loads the whole stack.
3. :func:`resize_to_model` squashes a frame to the model's square input size and applies
   the ImageNet mean / std, giving a (1, 3, S, S) float32 tensor.

Step 1 -- intensity normalisation (:class:`~sam2_engine.imaging.intensity.Normalization`, the
``"auto"`` rules for each dtype) and the mapping of channels to R, G, B -- lives in
:mod:`sam2_engine.imaging.intensity`; ``Normalization``, ``to_rgb`` and ``intensity_range`` are
re-exported here, so ``from sam2_engine.imaging.frames import Normalization`` keeps working.

Stack statistics (:class:`FrameSource`)
---------------------------------------
When the mode needs data (percentiles, min/max), the range is estimated once, on first
use, from at most ``sample_frames`` evenly spaced frames (pixels are subsampled on a
regular grid when the frames are large) and cached, so that every frame of a stack is
scaled the same way and an object keeps the same brightness through time or z.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

# Normalization, intensity_range and to_rgb are re-exported (see __all__).
from sam2_engine.imaging.intensity import (
    _MAX_STAT_PIXELS,
    Channels,
    Normalization,
    NormalizedFrame,
    _as_stats,
    _channel_layout,
    _check_dtype,
    _needs_pixels,
    _prepare,
    _range,
    _subsample,
    intensity_range,
    to_rgb,
)
from sam2_engine.imaging.lazy_plane import LazyPlane

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "FrameSource",
    "Normalization",
    "imagenet_normalize",
    "intensity_range",
    "resize_batch",
    "resize_to_model",
    "to_rgb",
]

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


class FrameSource:
    """A lazy, normalised view of a stack of frames (T, H, W) or (T, H, W, C).

    The first axis is time or z. Other layouts should be reordered first, e.g. with
    ``np.moveaxis`` or ``dask.array.moveaxis`` (both lazy), or described with
    ``channel_axis``. Creating a source reads no pixels; :meth:`frame` reads one frame.

    Parameters
    ----------
    array : array_like
        Anything with ``shape``, ``dtype``, ``ndim`` and ``__getitem__``: numpy, dask,
        zarr, ``tifffile.memmap``. ``array[t]`` must return one frame.
    channel_axis : int, optional
        The axis of ``array`` (not of a frame) holding channels; never 0. Default: none
        for a 3D stack, the last axis for a 4D stack (at most 4 channels; pass it
        explicitly for more).
    channels : int or sequence of int or None, optional
        As in :func:`to_rgb`.
    normalization : Normalization
        As in :func:`to_rgb`. Data-driven ranges are shared by all frames.
    sample_frames : int
        At most this many evenly spaced frames are read, once, to estimate the range.
    stats : array_like, shape (K, 2) or (2,), optional
        A precomputed range; then no frame is ever sampled.

    Examples
    --------
    >>> src = FrameSource(np.zeros((5, 32, 48), dtype=np.uint16))
    >>> len(src), src.shape_hw, src.frame(-1).shape
    (5, (32, 48), (32, 48, 3))
    """

    def __init__(
        self,
        array: Any,
        *,
        channel_axis: int | None = None,
        channels: Channels = None,
        normalization: Normalization = Normalization(),  # noqa: B008 (a frozen dataclass)
        sample_frames: int = 8,
        stats: Any = None,
    ) -> None:
        for attr in ("shape", "dtype", "ndim", "__getitem__"):
            if not hasattr(array, attr):
                raise TypeError(
                    f"FrameSource needs an array with shape, dtype, ndim and indexing; "
                    f"{type(array).__name__} has no {attr!r}. Wrap it with np.asarray first."
                )
        shape = tuple(int(n) for n in array.shape)
        dtype = np.dtype(array.dtype)
        _check_dtype(dtype, shape)
        if sample_frames < 1:
            raise ValueError(f"sample_frames={sample_frames} must be at least 1.")
        self._array = array
        self._frame_axis = self._resolve_channel_axis(shape, channel_axis)
        n_channels = None if self._frame_axis is None else shape[self._frame_axis + 1]
        self._layout = _channel_layout(n_channels, dtype, channels)
        self._normalization = normalization
        self._sample_frames = int(sample_frames)
        self._shape = shape
        self._dtype = dtype
        self._stats = None if stats is None else _as_stats(stats, len(self._layout.sources))
        self._lock = threading.Lock()

    @staticmethod
    def _resolve_channel_axis(shape: tuple[int, ...], channel_axis: int | None) -> int | None:
        """The channel axis within one frame (None: grey frames)."""
        ndim = len(shape)
        if ndim == 3 and channel_axis is None:
            return None
        if ndim == 4 and channel_axis is None:
            if shape[-1] > 4:
                raise ValueError(
                    f"A 4D stack of shape {shape} is read as (T, H, W, C), but its last axis "
                    f"has {shape[-1]} entries. Pass channel_axis (e.g. channel_axis=1 for "
                    "(T, C, H, W)); for a 4D volume over time select one time point or z plane."
                )
            return 2
        if ndim == 4 and channel_axis is not None:
            if not -4 <= channel_axis < 4 or channel_axis % 4 == 0:
                raise ValueError(
                    f"channel_axis={channel_axis} is invalid for a stack of shape {shape}: use "
                    "an axis among 1, 2, 3 (axis 0 is time / z)."
                )
            return channel_axis % 4 - 1
        what = "3D stack (T, H, W) has no channel axis" if ndim == 3 else f"{ndim}D array"
        raise ValueError(
            f"FrameSource takes a (T, H, W) or (T, H, W, C) stack; got a {what} (shape {shape}, "
            f"channel_axis={channel_axis}). For one 2D image use to_rgb / the image predictor "
            "or pass image[np.newaxis]; reorder other layouts with np.moveaxis."
        )

    def __len__(self) -> int:
        return self._shape[0]

    def __repr__(self) -> str:
        return (
            f"FrameSource(shape={self._shape}, dtype={self._dtype}, "
            f"normalization={self._normalization!r})"
        )

    @property
    def shape_hw(self) -> tuple[int, int]:
        """(H, W): rows and columns of one frame."""
        axes = [ax for ax in range(1, len(self._shape)) if ax - 1 != self._frame_axis]
        return self._shape[axes[0]], self._shape[axes[1]]

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the underlying array."""
        return self._dtype

    @property
    def normalization(self) -> Normalization:
        return self._normalization

    @property
    def stats(self) -> np.ndarray | None:
        """(K, 2) (lo, hi) per selected channel, estimated once from sampled frames.

        None for ``mode="none"``. Reading it the first time may read up to
        ``sample_frames`` frames.
        """
        with self._lock:
            if self._stats is None and self._normalization.mode != "none":
                self._stats = self._estimate_stats()
            return self._stats

    def _index(self, t: int) -> int:
        if isinstance(t, bool) or not isinstance(t, int | np.integer):
            raise TypeError(f"Frame index must be an integer, got {t!r}.")
        n = len(self)
        if not -n <= t < n:
            raise IndexError(f"Frame {t} is out of range for {n} frames (valid: {-n} to {n - 1}).")
        return int(t) % n

    def raw(self, t: int) -> np.ndarray:
        """Frame ``t`` as stored, shape (H, W) or (H, W, C) (channels moved last).

        Negative indices count from the end. Reads exactly one frame.
        """
        frame = np.asarray(self._array[self._index(t)])
        if self._frame_axis is not None:
            frame = np.moveaxis(frame, self._frame_axis, -1)
        return frame

    def frame(self, t: int) -> np.ndarray:
        """Frame ``t`` as (H, W, 3) float32 in [0, 1], scaled with the stack-wide range.

        Negative indices count from the end; out of range raises ``IndexError``.
        """
        raw = self.raw(t)
        axis = None if raw.ndim == 2 else -1
        return to_rgb(
            raw,
            channel_axis=axis,
            channels=self._layout_channels(),
            normalization=self._normalization,
            stats=self.stats,
        )

    def normalized(self, t: int) -> NormalizedFrame:
        """Frame ``t`` as :meth:`frame` gives it, marked as normalised: predictors use it
        as it is (``ImagePredictor.set_image(source.normalized(t))``)."""
        return NormalizedFrame(self.frame(t))

    def lazy(self, t: int) -> LazyPlane:
        """Frame ``t`` as a :class:`~sam2_engine.imaging.lazy_plane.LazyPlane`: nothing
        is read yet; windows read and scale only their pixels, with the stack-wide range
        (for window-mode predictors on big frames)."""
        frame = self._array[self._index(t)]
        if self._frame_axis is not None and self._frame_axis != 2:
            frame = np.moveaxis(frame, self._frame_axis, -1)
        return LazyPlane(
            frame,
            channel_axis=None if self._frame_axis is None else -1,
            channels=self._layout_channels(),
            normalization=self._normalization,
            stats=self.stats,
        )

    def _layout_channels(self) -> Channels:
        """The channel choice, as ``to_rgb`` takes it, reproducing this source's layout."""
        lay = self._layout
        if lay.joint or self._frame_axis is None:
            return None  # the default of to_rgb gives the same layout
        if lay.slots == (0, 0, 0):
            return lay.sources[0]
        return tuple(None if s is None else lay.sources[s] for s in lay.slots)

    def _sample_indices(self) -> np.ndarray:
        n = min(self._sample_frames, len(self))
        return np.unique(np.linspace(0, len(self) - 1, n).round().astype(int))

    def _estimate_stats(self) -> np.ndarray:
        norm, lay = self._normalization, self._layout
        k = len(lay.sources)
        if not _needs_pixels(norm, self._dtype):
            dummy = np.zeros((1, k), dtype=self._dtype)
            return _range(dummy, self._dtype, norm, lay.joint)  # type: ignore[return-value]
        indices = self._sample_indices()
        per_frame = max(_MAX_STAT_PIXELS // len(indices), 1)
        samples, ranges = [], []
        for t in indices:
            raw = self.raw(int(t))
            axis = None if raw.ndim == 2 else -1
            selected, _ = _prepare(raw, axis, self._layout_channels())
            if norm.mode == "minmax":  # exact extremes: look at every pixel
                ranges.append(_range(selected.reshape(-1, k), self._dtype, norm, lay.joint))
            else:
                samples.append(_subsample(selected, per_frame).reshape(-1, k))
        if ranges:
            stacked = np.stack(ranges)  # (n, K, 2)
            return np.stack([stacked[:, :, 0].min(0), stacked[:, :, 1].max(0)], axis=-1)
        return _range(np.concatenate(samples), self._dtype, norm, lay.joint)  # type: ignore[return-value]


def _to_chw_tensor(rgb: np.ndarray | torch.Tensor) -> torch.Tensor:
    if isinstance(rgb, np.ndarray):
        if rgb.ndim != 3 or rgb.shape[-1] != 3 or rgb.dtype.kind != "f":
            raise ValueError(
                f"Expected an (H, W, 3) float image in [0, 1] (see to_rgb); got shape "
                f"{rgb.shape} and dtype {rgb.dtype}."
            )
        rgb = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32))
    elif rgb.ndim != 3 or rgb.shape[-1] != 3 or not rgb.is_floating_point():
        raise ValueError(
            f"Expected an (H, W, 3) float tensor in [0, 1]; got shape {tuple(rgb.shape)} "
            f"and dtype {rgb.dtype}."
        )
    return rgb.to(torch.float32).permute(2, 0, 1).contiguous()


def resize_to_model(
    rgb: np.ndarray | torch.Tensor,
    image_size: int,
    *,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Resize an RGB frame to the model's square input and normalise it.

    The frame is squashed to S x S (aspect ratio not kept) with antialiased bilinear
    interpolation, then the ImageNet mean is subtracted and the result divided by the
    std, as the official SAM 2 image predictor does. Masks are later resized back to
    (H, W), so no information about the aspect ratio is lost.

    Parameters
    ----------
    rgb : ndarray or Tensor, shape (H, W, 3)
        (row, col, R/G/B) floats in [0, 1], e.g. from :func:`to_rgb`. Not modified.
    image_size : int
        S, the model's input side (1024 for the official checkpoints).
    device : torch.device or str, optional
        Where to do the work (e.g. "cuda"); default: where ``rgb`` is (CPU for numpy).

    Returns
    -------
    x : Tensor of float32, shape (1, 3, S, S)
    """
    if int(image_size) != image_size or image_size < 1:
        raise ValueError(f"image_size must be a positive integer, got {image_size!r}.")
    x = _to_chw_tensor(rgb)
    if device is not None:
        x = x.to(device)
    x = x.unsqueeze(0)
    if tuple(x.shape[-2:]) != (image_size, image_size):
        x = F.interpolate(
            x, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=True
        )
    return imagenet_normalize(x)


def imagenet_normalize(x: torch.Tensor) -> torch.Tensor:
    """Subtract the ImageNet mean and divide by the ImageNet std, channel by channel.

    The one home of this step for every encoder input (whole images, windows, tiles,
    the instance head).

    Parameters
    ----------
    x : Tensor, shape (B, 3, H, W)
        RGB in [0, 1] (float32).

    Returns
    -------
    Tensor, shape (B, 3, H, W)
    """
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def resize_batch(
    frames: Sequence[np.ndarray | torch.Tensor],
    image_size: int,
    *,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """:func:`resize_to_model` for several frames (their sizes may differ).

    Returns
    -------
    x : Tensor of float32, shape (B, 3, S, S)
    """
    if len(frames) == 0:
        raise ValueError("resize_batch needs at least one frame, got an empty sequence.")
    return torch.cat([resize_to_model(f, image_size, device=device) for f in frames], dim=0)
