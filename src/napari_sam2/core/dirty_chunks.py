"""Which chunks of a Labels array an edit touched, so that a save can follow the edit.

An autosaved Labels array is kept as a chunked zarr array (:mod:`napari_sam2.core.autosave`);
after an edit only the chunks it touched are written again. The edits are read from
napari's undo history atoms: ``(indices, old values, new values)`` from
:meth:`napari.layers.Labels.data_setitem` (every write of the plugin) and mask atoms with a
``slice_key`` bounding box (brush, fill, polygon). A chunk is named by its position in the
chunk grid, one int per axis (leading axes first, then row, col).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

#: Rows and columns of one autosave chunk (leading axes: one plane per chunk).
PLANE_CHUNK = 512
#: Above this many changed pixels an atom is taken as its bounding box (cheaper than
#: finding the chunk of every pixel; the box holds them all).
EXACT_LIMIT = 1 << 20

ChunkKey = tuple[int, ...]


def chunk_shape(shape: tuple[int, ...], side: int = PLANE_CHUNK) -> tuple[int, ...]:
    """Chunks of one plane's ``side`` x ``side`` tile (1 along every leading axis).

    Examples
    --------
    >>> chunk_shape((5, 1000, 300))
    (1, 512, 300)
    """
    lead = (1,) * (len(shape) - 2)
    return (*lead, min(side, max(shape[-2], 1)), min(side, max(shape[-1], 1)))


def all_chunks(shape: tuple[int, ...], chunks: tuple[int, ...]) -> Iterator[ChunkKey]:
    """Every chunk of an array of ``shape``."""
    counts = [-(-s // c) for s, c in zip(shape, chunks, strict=True)]
    return itertools.product(*(range(n) for n in counts))


def chunk_slices(
    key: ChunkKey, shape: tuple[int, ...], chunks: tuple[int, ...]
) -> tuple[slice, ...]:
    """The array region of chunk ``key`` (clipped at the array's end)."""
    return tuple(
        slice(k * c, min((k + 1) * c, s)) for k, c, s in zip(key, chunks, shape, strict=True)
    )


def box_chunks(box: Iterable[tuple[int, int]], chunks: tuple[int, ...]) -> set[ChunkKey]:
    """Chunks meeting a box given as ``(start, stop)`` per axis (stop excluded)."""
    ranges = []
    for (lo, hi), c in zip(box, chunks, strict=True):
        if hi <= lo:
            return set()
        ranges.append(range(lo // c, (hi - 1) // c + 1))
    return set(itertools.product(*ranges))


def index_chunks(indices: tuple[np.ndarray, ...], chunks: tuple[int, ...]) -> set[ChunkKey]:
    """Chunks holding the pixels of a fancy index (one (N,) int array per axis)."""
    arrays = [np.asarray(i).ravel() for i in indices]
    n = arrays[0].size if arrays else 0
    if n == 0:
        return set()
    if n > EXACT_LIMIT:
        box = [(int(a.min()), int(a.max()) + 1) for a in arrays]
        return box_chunks(box, chunks)
    grid = [a.astype(np.int64) // c for a, c in zip(arrays, chunks, strict=True)]
    dims = tuple(int(g.max()) + 1 for g in grid)
    flat = np.ravel_multi_index(grid, dims)  # one int per pixel: its chunk
    found = np.flatnonzero(np.bincount(flat)) if np.prod(dims) <= 4 * n else np.unique(flat)
    keys = np.stack(np.unravel_index(found, dims), axis=1)
    return {tuple(int(v) for v in key) for key in keys}


def atom_chunks(atom: Any, chunks: tuple[int, ...]) -> set[ChunkKey] | None:
    """Chunks touched by one napari history atom; None when its form is unknown (then
    the caller saves everything)."""
    key = getattr(atom, "slice_key", None)
    if key is not None:  # a mask atom: its bounding box
        return box_chunks([(int(s.start or 0), int(s.stop)) for s in key], chunks)
    if isinstance(atom, tuple) and len(atom) == 3 and isinstance(atom[0], tuple):
        return index_chunks(atom[0], chunks)
    return None


def item_chunks(item: Iterable[Any], chunks: tuple[int, ...]) -> set[ChunkKey] | None:
    """Chunks touched by one undo item (a list of atoms); None if any atom is unknown."""
    out: set[ChunkKey] = set()
    for atom in item:
        keys = atom_chunks(atom, chunks)
        if keys is None:
            return None
        out |= keys
    return out
