"""The image edge of the engine: user arrays in, model-ready tensors out.

Three steps, kept apart so that each can be tested on its own:

1. :func:`to_rgb` turns one image of any dtype and layout into an (H, W, 3) float32 array
   with values in [0, 1] (rows, columns, R/G/B).
2. :class:`FrameSource` wraps a stack (T, H, W) or (T, H, W, C) -- time or z first -- held
   in numpy, dask, zarr or a ``tifffile.memmap`` and hands out one such frame at a time,
   normalised with statistics shared by the whole stack. Nothing loads the whole stack.
3. :func:`resize_to_model` squashes a frame to the model's square input size and applies
   the ImageNet mean / std, giving a (1, 3, S, S) float32 tensor.

Intensity normalisation (:class:`Normalization`)
------------------------------------------------
SAM 2 was trained on 8-bit photographs scaled by 1/255. Microscopy data rarely looks like
that: a uint16 camera image often uses a few hundred grey levels out of 65535, and a
handful of hot pixels or saturated spots would squash everything else to black under a
plain min/max scaling. The default mode ``"auto"`` therefore does:

* **uint8**: divide by 255 exactly, so an 8-bit RGB image is preprocessed bit for bit as
  in the official SAM 2 predictor (float32 ``x / 255``).
* **bool**: False -> 0, True -> 1 (percentiles of a two-level image are meaningless; a
  sparse mask would otherwise map to all zeros).
* **every other dtype** (uint16, int, float): robust percentiles, 1 % -> 0 and
  99.8 % -> 1, then clip. If the two percentiles coincide (e.g. a mostly black image
  with a few bright spots) the image's min / max are used instead; a constant image maps
  to 0 (no division by zero).

Other modes: ``"percentile"`` (always percentiles), ``"minmax"``, ``"fixed"`` (``vmin`` /
``vmax``, e.g. napari contrast limits) and ``"none"`` (data already in [0, 1]).

Ranges are computed **per channel** for multichannel data (fluorescence channels have
unrelated brightness), but over **all channels together** for an 8-bit RGB(A) image taken
as is, so that its colours are not shifted.

Channels
--------
Grey images are replicated to R, G and B. With three channels the image is RGB; with
four channels and uint8 it is RGBA and alpha is dropped. With two channels, or more than
three, the default ``channels`` is the first ``min(C, 3)`` channels into R, G (and B); an
unused slot is zero. This keeps one measured channel per model input plane (no mixing,
so nothing cancels out) and matches the explicit ``channels=(r, g, b)`` rule; for
fluorescence the first channel is commonly the nuclear stain, which then sits in red.
Pass ``channels=k`` (one int) to look at channel ``k`` alone as grey, or a tuple with
``None`` to leave a slot empty, e.g. ``channels=(None, 0, None)``.

Stack statistics (:class:`FrameSource`)
---------------------------------------
When the mode needs data (percentiles, min/max), the range is estimated once, on first
use, from at most ``sample_frames`` evenly spaced frames (pixels are subsampled on a
regular grid when the frames are large) and cached, so that every frame of a stack is
scaled the same way and an object keeps the same brightness through time or z.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "FrameSource",
    "Normalization",
    "intensity_range",
    "resize_batch",
    "resize_to_model",
    "to_rgb",
]

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

_MODES = ("auto", "percentile", "minmax", "fixed", "none")
_MAX_STAT_PIXELS = 1 << 22  # pixels per channel used to estimate percentiles

Channels = int | Sequence[int | None] | None


@dataclass(frozen=True)
class Normalization:
    """How intensities are mapped to [0, 1].

    Parameters
    ----------
    mode : {"auto", "percentile", "minmax", "fixed", "none"}
        ``"auto"``: uint8 / 255, bool as 0 / 1, any other dtype by percentiles.
        ``"percentile"``: ``low`` -> 0 and ``high`` -> 1. ``"minmax"``: min -> 0, max -> 1.
        ``"fixed"``: ``vmin`` -> 0 and ``vmax`` -> 1. ``"none"``: values used as they are.
    low, high : float
        Percentiles (0-100) used by ``"auto"`` and ``"percentile"``.
    vmin, vmax : float or None
        The fixed range, required by ``"fixed"`` (e.g. a napari layer's contrast limits).
    clip : bool
        Clip the result to [0, 1].

    Examples
    --------
    >>> Normalization("fixed", vmin=100, vmax=4000).mode
    'fixed'
    """

    mode: Literal["auto", "percentile", "minmax", "fixed", "none"] = "auto"
    low: float = 1.0
    high: float = 99.8
    vmin: float | None = None
    vmax: float | None = None
    clip: bool = True

    def __post_init__(self) -> None:
        if self.mode not in _MODES:
            raise ValueError(f"Normalization mode {self.mode!r} is unknown; use one of {_MODES}.")
        if not 0.0 <= self.low < self.high <= 100.0:
            raise ValueError(
                f"Percentiles low={self.low}, high={self.high} must satisfy 0 <= low < high <= 100."
            )
        if self.mode == "fixed":
            if self.vmin is None or self.vmax is None:
                raise ValueError('Normalization mode "fixed" needs both vmin and vmax.')
            if not self.vmin < self.vmax:
                raise ValueError(
                    f"Fixed range vmin={self.vmin}, vmax={self.vmax} needs vmin < vmax."
                )

    @property
    def needs_data(self) -> bool:
        """True if the range is estimated from pixel values (percentiles or min/max)."""
        return self.mode in ("auto", "percentile", "minmax")


@dataclass(frozen=True)
class _Layout:
    """Which input channels are read (``sources``) and where they go (``slots``).

    ``slots[i]`` is the position in ``sources`` shown as R, G, B (i = 0, 1, 2) or None.
    """

    sources: tuple[int, ...]
    slots: tuple[int | None, int | None, int | None]
    joint: bool  # one range for all channels (8-bit RGB) instead of one per channel


def _check_dtype(dtype: np.dtype, shape: tuple[int, ...]) -> None:
    if dtype.kind == "c":
        raise TypeError(
            f"Complex images are not supported (got dtype {dtype}, shape {shape}); "
            "pass np.abs(image) or image.real."
        )
    if dtype.kind not in "buif":
        raise TypeError(
            f"Images must have a boolean, integer or float dtype; got {dtype} (shape {shape})."
        )
    if 0 in shape:
        raise ValueError(
            f"The image is empty (shape {shape}); every axis needs at least one pixel."
        )


def _channel_layout(n_channels: int | None, dtype: np.dtype, channels: Channels) -> _Layout:
    """Map ``n_channels`` input channels (None: a plain 2D image) to R, G, B."""
    if n_channels is None and channels is not None:
        raise ValueError(f"channels={channels!r} was given but the image has no channel axis.")
    if channels is None and n_channels in (None, 1):
        return _Layout((0,), (0, 0, 0), joint=False)
    n_channels = n_channels or 1
    if channels is None:
        if n_channels == 2:
            return _Layout((0, 1), (0, 1, None), joint=False)
        rgb_like = dtype == np.uint8 and n_channels in (3, 4)
        return _Layout((0, 1, 2), (0, 1, 2), joint=rgb_like)
    picks = (channels,) if isinstance(channels, int | np.integer) else tuple(channels)
    if not 1 <= len(picks) <= 3 or all(p is None for p in picks):
        raise ValueError(
            f"channels={channels!r} must name 1 to 3 channel indices (R, G, B; None = empty)."
        )
    resolved: list[int | None] = []
    for p in picks:
        if p is not None and not -n_channels <= int(p) < n_channels:
            raise ValueError(
                f"channels={channels!r}: index {p} is out of range for {n_channels} channels."
            )
        resolved.append(None if p is None else int(p) % n_channels)
    if isinstance(channels, int | np.integer):  # one channel as grey
        return _Layout((resolved[0],), (0, 0, 0), joint=False)  # type: ignore[arg-type]
    sources = tuple(dict.fromkeys(p for p in resolved if p is not None))
    padded = [*resolved, None, None][:3]
    slots = tuple(None if p is None else sources.index(p) for p in padded)
    return _Layout(sources, slots, joint=False)  # type: ignore[arg-type]


def _frame_axes(arr: np.ndarray, channel_axis: int | None) -> np.ndarray:
    """View ``arr`` as (H, W, C); C is 1 for a 2D image. Raises on ambiguous layouts."""
    desc = f"shape {arr.shape} and dtype {arr.dtype}"
    if arr.ndim == 2:
        if channel_axis is not None:
            raise ValueError(f"channel_axis={channel_axis} was given but the image ({desc}) is 2D.")
        return arr[..., np.newaxis]
    if arr.ndim != 3:
        hint = (
            " A stack (T, H, W[, C]) goes to FrameSource / the video predictor."
            if arr.ndim > 3
            else " Pass a 2D (H, W) or 3D (H, W, C) image."
        )
        raise ValueError(f"Expected one 2D image with optional channels, got {desc}.{hint}")
    if channel_axis is not None:
        if not -3 <= channel_axis < 3:
            raise ValueError(
                f"channel_axis={channel_axis} is out of range for a 3D image ({desc})."
            )
        return np.moveaxis(arr, channel_axis, -1)
    last = arr.shape[-1]
    if last == 4 and arr.dtype != np.uint8:
        raise ValueError(
            f"Got a 3D image with {desc}: a last axis of 4 is read as RGBA only for uint8. "
            "To use it as 4 channels pass channel_axis=-1 (and channels=(r, g, b) to choose "
            "which are shown)."
        )
    if last not in (1, 3, 4):
        small = int(np.argmin(arr.shape))
        raise ValueError(
            f"Got a 3D image with {desc} and no channel_axis; its last axis ({last}) is not "
            f"3 (RGB) or 4 (RGBA). If an axis holds channels pass channel_axis (e.g. "
            f"channel_axis={small}); if it is a z-stack or time series, use FrameSource / the "
            "video predictor."
        )
    return arr


def _check_finite(values: np.ndarray, shape: tuple[int, ...]) -> None:
    if values.dtype.kind != "f":
        return
    bad = values.size - int(np.count_nonzero(np.isfinite(values)))
    if bad:
        raise ValueError(
            f"The image (shape {shape}, dtype {values.dtype}) contains {bad} NaN or "
            "infinite values; replace them first, e.g. np.nan_to_num(image)."
        )


def _subsample(hwk: np.ndarray, max_pixels: int) -> np.ndarray:
    """Regular-grid subsample of an (H, W, K) array to about ``max_pixels`` pixels."""
    step = math.ceil(math.sqrt(hwk.shape[0] * hwk.shape[1] / max(max_pixels, 1)))
    return hwk[::step, ::step] if step > 1 else hwk


def _needs_pixels(norm: Normalization, dtype: np.dtype) -> bool:
    """True if the range depends on pixel values (not on the dtype or settings alone)."""
    return norm.needs_data and not (norm.mode == "auto" and dtype in (np.uint8, np.bool_))


def _range(
    pixels: np.ndarray, dtype: np.dtype, norm: Normalization, joint: bool
) -> np.ndarray | None:
    """(K, 2) float64 (lo, hi) per channel of ``pixels`` (N, K); None for mode "none"."""
    k = pixels.shape[-1]
    if norm.mode == "none":
        return None
    if norm.mode == "fixed":
        return np.tile([norm.vmin, norm.vmax], (k, 1)).astype(np.float64)
    if norm.mode == "auto" and dtype == np.uint8:
        return np.tile([0.0, 255.0], (k, 1))
    if norm.mode == "auto" and dtype == np.bool_:
        return np.tile([0.0, 1.0], (k, 1))
    data = pixels.astype(np.uint8) if pixels.dtype == np.bool_ else pixels
    cols = [data.reshape(-1)] if joint else [data[:, i] for i in range(k)]
    out = []
    for col in cols:
        lo, hi = float(col.min()), float(col.max())
        if norm.mode != "minmax":
            plo, phi = np.percentile(col, [norm.low, norm.high])
            if phi > plo:  # else: fall back to min / max (sparse or constant data)
                lo, hi = float(plo), float(phi)
        out.append((lo, hi))
    ranges = np.asarray(out, dtype=np.float64)
    return np.repeat(ranges, k, axis=0) if joint else ranges


def _as_stats(stats: Any, k: int) -> np.ndarray:
    arr = np.asarray(stats, dtype=np.float64)
    if arr.shape == (2,):
        arr = np.tile(arr, (k, 1))
    if arr.shape != (k, 2):
        raise ValueError(
            f"stats must be (lo, hi) or one (lo, hi) per selected channel, shape ({k}, 2); "
            f"got shape {arr.shape}."
        )
    return arr


def _scale(values: np.ndarray, ranges: np.ndarray | None, clip: bool) -> np.ndarray:
    """(H, W, K) -> float32 (H, W, K), (x - lo) / (hi - lo) per channel; 0 where hi <= lo."""
    wide = values.dtype.itemsize > 4 or values.dtype in (np.int32, np.uint32)
    work = np.float64 if wide else np.float32
    out = values.astype(work)  # always a new array: the input is never touched
    if ranges is not None:
        lo, span = ranges[:, 0].astype(work), (ranges[:, 1] - ranges[:, 0]).astype(work)
        out -= lo
        out /= np.where(span > 0, span, work(1))
        out[..., span <= 0] = 0
    if clip:
        np.clip(out, 0, 1, out=out)
    return out.astype(np.float32, copy=False)


def _assemble(scaled: np.ndarray, slots: tuple[int | None, ...]) -> np.ndarray:
    """Place the (H, W, K) channels into an (H, W, 3) RGB array (empty slots are 0)."""
    if slots == (0, 1, 2) and scaled.shape[-1] == 3:
        return scaled
    rgb = np.zeros((*scaled.shape[:2], 3), dtype=np.float32)
    for i, s in enumerate(slots):
        if s is not None:
            rgb[..., i] = scaled[..., s]
    return rgb


def _prepare(
    image: Any, channel_axis: int | None, channels: Channels
) -> tuple[np.ndarray, _Layout]:
    """Validate one image; return its selected channels (H, W, K) and the layout."""
    arr = np.asarray(image)
    _check_dtype(arr.dtype, arr.shape)
    hwc = _frame_axes(arr, channel_axis)
    layout = _channel_layout(hwc.shape[-1] if arr.ndim == 3 else None, arr.dtype, channels)
    if layout.sources == tuple(range(hwc.shape[-1])):
        selected = hwc  # a view; _scale below always writes to a new array
    else:
        selected = hwc[..., list(layout.sources)]
    _check_finite(selected, arr.shape)
    return selected, layout


def intensity_range(
    image: Any,
    *,
    channel_axis: int | None = None,
    channels: Channels = None,
    normalization: Normalization = Normalization(),
) -> np.ndarray | None:
    """The (lo, hi) range :func:`to_rgb` would use for each selected channel.

    Parameters
    ----------
    image, channel_axis, channels, normalization
        As in :func:`to_rgb`.

    Returns
    -------
    ranges : ndarray of float64, shape (K, 2), or None
        One (lo, hi) row per selected input channel (K = 1 for grey, 3 for RGB); None for
        ``mode="none"``. Pass it as ``stats`` to scale other images the same way.
    """
    selected, layout = _prepare(image, channel_axis, channels)
    pixels = selected if _needs_pixels(normalization, selected.dtype) else selected[:1, :1]
    pixels = _subsample(pixels, _MAX_STAT_PIXELS)
    return _range(pixels.reshape(-1, pixels.shape[-1]), selected.dtype, normalization, layout.joint)


def to_rgb(
    image: Any,
    *,
    channel_axis: int | None = None,
    channels: Channels = None,
    normalization: Normalization = Normalization(),
    stats: Any = None,
) -> np.ndarray:
    """Turn one image of any dtype into an RGB float32 array in [0, 1].

    Parameters
    ----------
    image : array_like, shape (H, W) or (H, W, C), or C along ``channel_axis``
        Axes are (row, col[, channel]). Any bool, integer or float dtype. Not modified.
    channel_axis : int, optional
        The axis holding channels, e.g. 0 for (C, H, W). By default a 3D image must end
        in 3 (RGB) or 4 (RGBA, uint8 only; alpha is dropped) channels (1 is read as grey).
    channels : int or sequence of int or None, optional
        Input channels shown as (R, G, B); None leaves a slot at 0. A single int shows
        that channel as grey. Default: grey for one channel, RGB for three (or uint8 RGBA),
        the first two (into R, G) or three channels otherwise.
    normalization : Normalization
        How intensities become [0, 1]; see the module docstring for the defaults.
    stats : array_like, shape (K, 2) or (2,), optional
        Precomputed (lo, hi) per selected channel (see :func:`intensity_range`), used
        instead of estimating a range from this image (e.g. to match a whole stack).

    Returns
    -------
    rgb : ndarray of float32, shape (H, W, 3)
        (row, col, R/G/B), in [0, 1] when ``normalization.clip`` is True.

    Raises
    ------
    ValueError
        Unsupported shape, empty image, NaN / inf values, bad ``channels`` or ``stats``.
    TypeError
        Complex or non-numeric dtype.

    Examples
    --------
    >>> rgb = to_rgb(np.arange(12, dtype=np.uint16).reshape(3, 4))
    >>> rgb.shape, rgb.dtype
    ((3, 4, 3), dtype('float32'))
    """
    selected, layout = _prepare(image, channel_axis, channels)
    k = selected.shape[-1]
    if stats is not None:
        ranges = _as_stats(stats, k)
    else:
        pixels = _subsample(selected, _MAX_STAT_PIXELS)
        ranges = _range(pixels.reshape(-1, k), selected.dtype, normalization, layout.joint)
    return _assemble(_scale(selected, ranges, normalization.clip), layout.slots)


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
        normalization: Normalization = Normalization(),
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
