"""A big 2D image read one region at a time: only the pixels a window needs are touched.

A 16,384 x 16,384 uint16 slide is 512 MB; turned into (H, W, 3) float32 colours it would
be 3 GB, and a full pass over it takes seconds. :class:`LazyPlane` keeps the user's array
as it is (numpy, a memmap, zarr or dask: no copy), estimates the intensity range **once**
from a regular-grid subsample (at most about four million pixels per channel, read with a
strided slice), and turns only the requested region into model colours. Slicing it like
an (H, W, 3) float array, ``plane[y0:y1, x0:x1]``, returns a torch tensor of that region,
so :meth:`sam2_engine.focus.window.Window.crop` reads a window without knowing the
difference.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
import torch

from sam2_engine.imaging.intensity import (
    _MAX_STAT_PIXELS,
    Channels,
    Normalization,
    NormalizedFrame,
    _as_stats,
    _assemble,
    _channel_layout,
    _check_dtype,
    _check_finite,
    _needs_pixels,
    _range,
    _scale,
)

__all__ = ["LazyPlane"]


class LazyPlane:
    """One 2D image (rows, cols[, channels]) normalised on demand, region by region.

    Parameters
    ----------
    image
        (H, W) or (H, W, C) array-like with ``shape``, ``dtype`` and slicing (numpy,
        memmap, zarr, dask), or a :class:`~sam2_engine.imaging.intensity.NormalizedFrame`
        (used as it is). It is not copied.
    channel_axis
        2 or -1 when the image has channels on its last axis; other layouts must be moved
        first (``np.moveaxis`` is a view). None for a grey image or (H, W, 3|4) uint8 RGB(A).
    channels, normalization
        As in :func:`~sam2_engine.imaging.intensity.to_rgb`.
    stats
        (K, 2) or (2,) precomputed (lo, hi) per selected channel (e.g. a stack's range);
        None: estimated once from a subsample on first use.

    Examples
    --------
    >>> plane = LazyPlane(np.arange(64, dtype=np.uint16).reshape(8, 8))
    >>> plane.shape, tuple(plane[2:4, 0:3].shape)
    ((8, 8, 3), (2, 3, 3))
    """

    def __init__(
        self,
        image: Any,
        *,
        channel_axis: int | None = None,
        channels: Channels = None,
        normalization: Normalization | None = None,
        stats: Any = None,
    ) -> None:
        self._rgb: np.ndarray | None = None
        if isinstance(image, NormalizedFrame):
            self._rgb = image.rgb
            self._array = image.rgb
            self._layout = _channel_layout(3, np.dtype(np.float32), None)
            self._norm = Normalization("none")
            self._stats = None
            self._hw = (int(image.rgb.shape[0]), int(image.rgb.shape[1]))
            self._lock = threading.Lock()
            return
        for attr in ("shape", "dtype", "__getitem__"):
            if not hasattr(image, attr):
                image = np.asarray(image)
                break
        shape = tuple(int(n) for n in image.shape)
        dtype = np.dtype(image.dtype)
        _check_dtype(dtype, shape)
        if len(shape) == 2:
            if channel_axis is not None:
                raise ValueError(
                    f"channel_axis={channel_axis} was given but the image {shape} is 2D."
                )
            n_channels = None
        elif len(shape) == 3:
            if channel_axis is None and shape[-1] not in (1, 3, 4):
                raise ValueError(
                    f"a 3D image of shape {shape} needs channel_axis=-1 (channels last); move "
                    "other channel axes last first (np.moveaxis is a view)"
                )
            if channel_axis is not None and channel_axis % 3 != 2:
                raise ValueError(
                    f"LazyPlane reads channels on the last axis; got channel_axis={channel_axis} "
                    f"for shape {shape}: move the channel axis last first (np.moveaxis is a view)"
                )
            n_channels = shape[-1]
        else:
            raise ValueError(f"LazyPlane takes one (H, W) or (H, W, C) image, got shape {shape}.")
        self._array = image
        self._layout = _channel_layout(n_channels, dtype, channels)
        self._norm = normalization or Normalization()
        self._hw = (shape[0], shape[1])
        self._stats = None if stats is None else _as_stats(stats, len(self._layout.sources))
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ geometry
    @property
    def shape(self) -> tuple[int, int, int]:
        """(H, W, 3): the shape of the colour image it stands for."""
        return (*self._hw, 3)

    @property
    def raw(self) -> Any:
        """The wrapped array (not a copy)."""
        return self._array

    @property
    def normalization(self) -> Normalization:
        return self._norm

    @property
    def stats(self) -> np.ndarray | None:
        """(K, 2) (lo, hi) per selected channel; estimated once, from a subsample."""
        with self._lock:
            if self._stats is None and self._rgb is None and self._norm.mode != "none":
                self._stats = self._estimate()
            return self._stats

    def _select(self, block: np.ndarray) -> np.ndarray:
        """(h, w[, C]) raw pixels -> (h, w, K) selected channels."""
        if block.ndim == 2:
            return block[..., None]
        sources = list(self._layout.sources)
        return block if sources == list(range(block.shape[-1])) else block[..., sources]

    def _estimate(self) -> np.ndarray:
        k = len(self._layout.sources)
        dtype = np.dtype(self._array.dtype)
        if not _needs_pixels(self._norm, dtype):
            return _range(np.zeros((1, k), dtype), dtype, self._norm, self._layout.joint)  # type: ignore[return-value]
        h, w = self._hw
        step = max(1, math.ceil(math.sqrt(h * w / _MAX_STAT_PIXELS)))
        sample = self._select(np.asarray(self._array[::step, ::step]))
        _check_finite(sample, tuple(self._array.shape))
        return _range(sample.reshape(-1, k), dtype, self._norm, self._layout.joint)  # type: ignore[return-value]

    # ------------------------------------------------------------------ pixels
    def region(self, rows: slice, cols: slice) -> np.ndarray:
        """(h, w, 3) float32 colours of ``image[rows, cols]`` (step 1 slices only)."""
        if self._rgb is not None:
            return self._rgb[rows, cols]
        block = self._select(np.asarray(self._array[rows, cols]))
        _check_finite(block, tuple(self._array.shape))
        scaled = _scale(block, self.stats, self._norm.clip)
        return _assemble(scaled, self._layout.slots)

    def __getitem__(self, key: tuple[slice, slice]) -> torch.Tensor:
        """``plane[y0:y1, x0:x1]``: that region as an (h, w, 3) float32 tensor."""
        ok = isinstance(key, tuple) and len(key) == 2
        if not (ok and all(isinstance(k, slice) for k in key)):
            raise TypeError(f"index a LazyPlane with two slices (rows, cols), got {key!r}")
        return torch.from_numpy(np.ascontiguousarray(self.region(*key)))

    def full(self) -> np.ndarray:
        """The whole image as (H, W, 3) float32 colours (a full pass: small images only)."""
        return self.region(slice(None), slice(None))
