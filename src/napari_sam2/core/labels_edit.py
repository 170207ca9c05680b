"""Writing masks into a napari Labels layer: overlap policy, undo history, big stacks.

Every write goes through :meth:`napari.layers.Labels.data_setitem`, napari's undoable
edit path, with only the pixels that change: ``Ctrl-Z`` on the layer takes it back.

* :func:`plan_plane` computes, on a copy of one (rows, cols) plane, what a set of object
  masks does under an :class:`~napari_sam2.core.state.OverlapPolicy`.
* :func:`write_plane` applies such a plan as **one** history atom.
* :class:`EditGroup` makes many writes, arriving asynchronously (one per propagated
  frame, from worker results delivered to the GUI thread), into **one** undo step.
* :func:`new_labels_data` allocates the output of a big stack as an on-disk zarr array,
  written and read one plane at a time.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from napari_sam2.core.state import OverlapPolicy

log = logging.getLogger(__name__)

#: Labels bigger than this many bytes are created as a zarr array on disk.
ZARR_THRESHOLD_BYTES = 1 << 30


@dataclass(frozen=True)
class PlaneEdit:
    """The pixels of one plane that change.

    Attributes
    ----------
    rows, cols
        (N,) indices of the changed pixels.
    values
        (N,) their new labels.
    kept
        Mask pixels left alone by the overlap policy (they belong to another object).
    """

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    kept: int = 0

    @property
    def size(self) -> int:
        return int(self.rows.size)


def plan_plane(
    current: np.ndarray,
    masks: Sequence[tuple[int, np.ndarray]],
    policy: OverlapPolicy | str = OverlapPolicy.KEEP,
) -> PlaneEdit:
    """What writing object masks into one plane changes.

    Parameters
    ----------
    current
        (H, W) labels of the plane as they are now (not modified).
    masks
        ``(obj_id, (H, W) bool mask)`` pairs, written in this order. Under ``KEEP`` and
        ``OVERWRITE`` the earlier pixels of every listed object are cleared first, so an
        object's mask on this plane is *replaced*; an empty mask removes the object.
    policy
        See :class:`~napari_sam2.core.state.OverlapPolicy`.

    Returns
    -------
    PlaneEdit
        Only the pixels whose value changes.
    """
    policy = OverlapPolicy(policy)
    current = np.asarray(current)
    new = current.copy()
    kept = 0
    if policy is not OverlapPolicy.ONLY_EMPTY:
        for obj_id, _ in masks:
            new[current == obj_id] = 0
    for obj_id, mask in masks:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != current.shape:
            raise ValueError(f"mask of shape {mask.shape} does not fit a plane of {current.shape}")
        if policy is OverlapPolicy.OVERWRITE:
            target = mask
        elif policy is OverlapPolicy.KEEP:
            target = mask & ((new == 0) | (new == obj_id))
        else:
            target = mask & (new == 0)
        kept += int(np.count_nonzero(mask & ~target & (new != obj_id)))
        new[target] = obj_id
    rows, cols = np.nonzero(new != current)
    return PlaneEdit(rows, cols, new[rows, cols].astype(current.dtype, copy=False), kept)


def region_index(index: tuple, region: tuple[slice, slice] | None) -> tuple:
    """A plane index (ints on leading axes, ``slice(None)`` on rows and cols) narrowed to
    ``region`` = (rows, cols) slices of the plane (None: the whole plane)."""
    return index if region is None else (*index[:-2], *region)


def offset_edit(edit: PlaneEdit, top: int, left: int) -> PlaneEdit:
    """A :class:`PlaneEdit` planned on a region, moved to plane coordinates."""
    if top == 0 and left == 0:
        return edit
    return PlaneEdit(edit.rows + top, edit.cols + left, edit.values, edit.kept)


def read_plane(layer: Any, index: tuple) -> np.ndarray:
    """A copy of one (H, W) plane of a Labels layer (reads one plane of zarr/dask data):
    writing the layer afterwards leaves it as it was."""
    return np.array(layer.data[index], copy=True)


def write_plane(layer: Any, index: tuple, edit: PlaneEdit) -> None:
    """Apply a :class:`PlaneEdit` to the plane ``index`` through ``data_setitem``.

    ``index`` holds ints on the leading axes and ``slice(None)`` on rows and columns (as
    :meth:`ImageLayout.labels_index` returns); one call is one history atom.
    """
    if edit.size == 0:
        return
    shape = tuple(layer.data.shape)
    full: list[np.ndarray] = []
    spatial = iter((edit.rows, edit.cols))
    for axis, entry in enumerate(index):
        # the undo history keeps these arrays: the smallest integer type per axis keeps
        # a long propagation's history 2-4x smaller than int64 indices
        dtype = np.min_scalar_type(max(shape[axis] - 1, 0))
        if isinstance(entry, slice):
            full.append(next(spatial).astype(dtype))
        else:
            full.append(np.full(edit.size, int(entry), dtype=dtype))
    layer.data_setitem(tuple(full), np.asarray(edit.values))


class EditGroup:
    """Group writes on one Labels layer into one undo step, across GUI events.

    napari's :meth:`Labels.block_history` context manager stages history atoms and
    commits them as one undo item when it exits. A propagation writes its frames from
    separate callbacks, so the context is entered by :meth:`open` and left by
    :meth:`close` (also after a cancel or an error: the frames written stay, as one
    step). Writes are only allowed while the group is open.

    Notes
    -----
    If the user paints on the same layer while the group is open, napari commits the
    staged frames with the stroke; the group then reopens itself, so the propagation
    becomes two undo steps and no edit is lost.
    """

    def __init__(self, layer: Any) -> None:
        self.layer = layer
        self._stack: contextlib.ExitStack | None = None
        self.writes = 0

    @property
    def is_open(self) -> bool:
        return self._stack is not None

    def open(self) -> EditGroup:
        if self._stack is None:
            self._stack = contextlib.ExitStack()
            self._stack.enter_context(self.layer.block_history())
        return self

    def write(self, index: tuple, edit: PlaneEdit) -> None:
        if self._stack is None:
            raise RuntimeError("the edit group is closed")
        if edit.size == 0:
            return
        if not getattr(self.layer, "_block_history", True):  # a paint stroke closed it
            self.close()
            self.open()
        write_plane(self.layer, index, edit)
        self.writes += 1

    def close(self) -> None:
        """Commit the staged writes as one undo step (no-op when closed)."""
        stack, self._stack = self._stack, None
        if stack is not None:
            stack.close()

    def __enter__(self) -> EditGroup:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


def max_label(data: Any) -> int:
    """The largest label of a Labels array, reading it one plane at a time if it is lazy."""
    if isinstance(data, np.ndarray):
        return int(data.max(initial=0))
    if data.ndim <= 2:
        return int(np.asarray(data).max(initial=0))
    return max((int(np.asarray(data[i]).max(initial=0)) for i in range(data.shape[0])), default=0)


def new_labels_data(
    shape: tuple[int, ...],
    plane_axes: int = 2,
    threshold_bytes: int = ZARR_THRESHOLD_BYTES,
) -> Any:
    """Zeros for a new Labels layer: numpy, or an on-disk zarr array for big stacks
    (:func:`sam2_cells.new_label_stack`, the one rule for label stores).

    Parameters
    ----------
    shape
        Shape of the labels.
    plane_axes
        Trailing axes of one chunk (2: one chunk per (rows, cols) plane).
    threshold_bytes
        Above this size a zarr array is created in a temporary folder (chunks of one
        plane, compressed; only written planes take space). Its path is logged and kept
        in the layer metadata by the caller.
    """
    from sam2_cells import new_label_stack

    array = new_label_stack(shape, plane_axes=plane_axes, in_memory_bytes=threshold_bytes)
    if not isinstance(array, np.ndarray):
        log.info("labels of %s are kept on disk in %s", shape, array.store)
    return array


def iter_plane_ids(plane: np.ndarray) -> Iterator[int]:
    """The non-zero labels of a plane, ascending."""
    for value in np.unique(plane):
        if value != 0:
            yield int(value)
