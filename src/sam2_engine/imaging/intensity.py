"""Intensity normalisation and channel mapping: one image of any dtype in, RGB floats out.

:func:`to_rgb` turns one image of any dtype and layout into an (H, W, 3) float32 array
with values in [0, 1] (rows, columns, R/G/B); :func:`intensity_range` gives the (lo, hi)
range it would use, so that other images (e.g. the frames of a stack, see
:class:`~sam2_engine.imaging.frames.FrameSource`) can be scaled the same way. This module needs
numpy only. Its public names are also importable from :mod:`sam2_engine.imaging.frames`.

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
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = [
    "Normalization",
    "NormalizedFrame",
    "intensity_range",
    "to_rgb",
]

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


@dataclass(frozen=True, eq=False)
class NormalizedFrame:
    """A frame already turned into model colours, e.g. by a stack-wide normalisation.

    :func:`to_rgb` (and so every predictor) takes it as it is, so that a frame normalised
    once with the ranges of its whole stack (:meth:`FrameSource.normalized`) is never
    normalised again on its own.

    Attributes
    ----------
    rgb : numpy.ndarray
        (H, W, 3) float32 (row, col, R/G/B), values in [0, 1].
    """

    rgb: np.ndarray

    def __post_init__(self) -> None:
        if self.rgb.ndim != 3 or self.rgb.shape[-1] != 3 or self.rgb.dtype != np.float32:
            raise ValueError(
                f"a NormalizedFrame holds (H, W, 3) float32 colours, got "
                f"{self.rgb.dtype}{tuple(self.rgb.shape)}"
            )

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.rgb.shape)


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
        A :class:`NormalizedFrame` is returned as it is (the other arguments are unused).
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
    if isinstance(image, NormalizedFrame):
        return image.rgb
    selected, layout = _prepare(image, channel_axis, channels)
    k = selected.shape[-1]
    if stats is not None:
        ranges = _as_stats(stats, k)
    else:
        pixels = _subsample(selected, _MAX_STAT_PIXELS)
        ranges = _range(pixels.reshape(-1, k), selected.dtype, normalization, layout.joint)
    return _assemble(_scale(selected, ranges, normalization.clip), layout.slots)
