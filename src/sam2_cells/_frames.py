"""Frame-by-frame access to (time, row, col) stacks that may not fit in memory.

Every function of :mod:`sam2_cells` that takes a stack reads it one frame at a time with
``numpy.asarray(stack[t])``, so a numpy array, a memory map, a dask or zarr array and the
:class:`LazyStack` below all work. :class:`LazyStack` is what the readers return when the
frames live in separate files (a CTC folder) and what the relabelling helpers return.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = ["LazyStack", "frame_at", "region_stats", "remap_labels", "stack_shape"]


class LazyStack:
    """A read-only (T, H, W) array whose frames are produced on demand.

    Parameters
    ----------
    n_frames : int
        Number of frames T.
    frame_shape : (int, int)
        (H, W) of every frame.
    dtype : numpy dtype
        dtype of every frame.
    read : callable
        ``read(t) -> numpy.ndarray`` of shape (H, W) for ``0 <= t < T``.

    Notes
    -----
    ``stack[t]`` reads one frame, ``stack[a:b]`` reads those frames into a new array,
    ``stack[t, rows, cols]`` reads frame ``t`` and crops it, and ``numpy.asarray(stack)``
    reads everything (avoid that for long movies).
    """

    def __init__(
        self,
        n_frames: int,
        frame_shape: tuple[int, int],
        dtype: np.dtype | type,
        read: Callable[[int], np.ndarray],
    ) -> None:
        self._n = int(n_frames)
        self._frame_shape = (int(frame_shape[0]), int(frame_shape[1]))
        self._dtype = np.dtype(dtype)
        self._read = read

    @property
    def shape(self) -> tuple[int, int, int]:
        """(T, H, W)."""
        return (self._n, *self._frame_shape)

    @property
    def dtype(self) -> np.dtype:
        """dtype of the frames."""
        return self._dtype

    @property
    def ndim(self) -> int:
        """Always 3."""
        return 3

    def __len__(self) -> int:
        return self._n

    def _frame(self, t: int) -> np.ndarray:
        if t < 0:
            t += self._n
        if not 0 <= t < self._n:
            raise IndexError(f"frame {t} is outside this stack of {self._n} frames")
        frame = np.asarray(self._read(t))
        if frame.shape != self._frame_shape:
            raise ValueError(
                f"frame {t} has shape {frame.shape}, the stack's frames are {self._frame_shape}"
            )
        return frame.astype(self._dtype, copy=False)

    def __getitem__(self, key: Any) -> np.ndarray:
        rest: tuple[Any, ...] = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        if isinstance(key, (int, np.integer)):
            frame = self._frame(int(key))
            return frame[rest] if rest else frame
        if isinstance(key, slice):
            frames = [self._frame(t) for t in range(*key.indices(self._n))]
            out = (
                np.stack(frames) if frames else np.empty((0, *self._frame_shape), dtype=self._dtype)
            )
            return out[(slice(None), *rest)] if rest else out
        raise TypeError(f"LazyStack indices are an int or a slice first, not {key!r}")

    def __iter__(self) -> Iterator[np.ndarray]:
        for t in range(self._n):
            yield self._frame(t)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype)

    def __repr__(self) -> str:
        return f"LazyStack(shape={self.shape}, dtype={self._dtype.name})"


def stack_shape(stack: Any, what: str = "stack") -> tuple[int, int, int]:
    """(T, H, W) of a (time, row, col) array-like.

    Raises
    ------
    ValueError
        If ``stack`` is not 3-dimensional or has no frame.
    """
    shape = tuple(int(n) for n in getattr(stack, "shape", np.shape(stack)))
    if len(shape) != 3:
        raise ValueError(f"the {what} has shape {shape}: expected 3 dimensions (time, row, col)")
    if shape[0] == 0:
        raise ValueError(f"the {what} has no frames (shape {shape})")
    return shape  # type: ignore[return-value]


def frame_at(stack: Any, t: int) -> np.ndarray:
    """Frame ``t`` of a (T, H, W) array-like as an in-memory (H, W) numpy array."""
    return np.asarray(stack[t])


def region_stats(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Labels present in a label image, with their areas and centroids.

    Parameters
    ----------
    frame : numpy.ndarray
        (H, W) integer labels, 0 for background.

    Returns
    -------
    labels : numpy.ndarray
        (N,) ``int64`` labels present, ascending, without 0.
    areas : numpy.ndarray
        (N,) ``int64`` pixel counts.
    rows, cols : numpy.ndarray
        (N,) ``float64`` centroid row and column of each label.
    """
    frame = np.asarray(frame)
    flat = frame.ravel()
    if flat.size == 0 or not flat.any():
        empty_i = np.zeros(0, dtype=np.int64)
        empty_f = np.zeros(0, dtype=np.float64)
        return empty_i, empty_i.copy(), empty_f, empty_f.copy()
    idx = np.flatnonzero(flat)
    values = flat[idx].astype(np.int64)
    labels, inverse, areas = np.unique(values, return_inverse=True, return_counts=True)
    rows, cols = np.divmod(idx, frame.shape[1])
    cy = np.bincount(inverse, weights=rows, minlength=len(labels)) / areas
    cx = np.bincount(inverse, weights=cols, minlength=len(labels)) / areas
    return labels, areas.astype(np.int64), cy, cx


def remap_labels(frame: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    """A copy of ``frame`` with each label ``old`` of ``mapping`` replaced by ``mapping[old]``.

    Parameters
    ----------
    frame : numpy.ndarray
        (H, W) integer labels.
    mapping : dict of int to int
        Old label -> new label; labels not in it are kept. The result's dtype is wide
        enough for the new labels.

    Returns
    -------
    numpy.ndarray
        (H, W) relabelled image.
    """
    frame = np.asarray(frame)
    if not mapping:
        return frame.copy()
    top = max(max(mapping.values()), int(frame.max(initial=0)))
    dtype = np.promote_types(frame.dtype, np.min_scalar_type(top))
    out = frame.astype(dtype, copy=True)
    old = np.fromiter(mapping.keys(), dtype=np.int64)
    new = np.fromiter(mapping.values(), dtype=np.int64)
    order = np.argsort(old)
    old, new = old[order], new[order]
    pos = np.searchsorted(old, frame)
    pos = np.minimum(pos, len(old) - 1)
    hit = old[pos] == frame
    out[hit] = new[pos[hit]].astype(dtype)
    return out
