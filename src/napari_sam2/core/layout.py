"""Axes of an image layer: which axis is tracked, which holds channels, where rows are.

napari layers are nD; SAM 2 sees 2D planes, optionally as a stack (time or z) it can
track through. :class:`ImageLayout` names the role of every axis of an Image layer:

* the last two layer axes are the plane's **rows and columns** (what napari shows in 2D);
* one optional **channel axis** (multichannel data that is not napari ``rgb``);
* one optional **stack axis**, tracked by propagation (the frames of a time-lapse or the
  slices of a z-stack);
* every other leading axis is **fixed**: it stays at the slider position (e.g. z when a
  3D+t movie is tracked over t).

:class:`LazyFrames` turns a layer's data (numpy, dask, zarr, ...) into the (T, H, W[, C])
stack the engine reads, one frame per ``__getitem__``: nothing loads the whole array.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from napari_sam2.core.state import PlaneKey, StackKind


@dataclass(frozen=True)
class ImageLayout:
    """The role of each axis of an Image layer.

    Axes are *layer* axes (``layer.ndim`` of them: for an ``rgb`` layer the colour axis is
    not one of them).

    Attributes
    ----------
    shape
        Layer shape (``layer.data.shape``, without the colour axis of an rgb layer).
    rgb
        The layer is napari ``rgb``: colours live in an extra last data axis.
    channel_axis
        Layer axis holding channels (multichannel, not rgb), or None.
    stack_axis
        The tracked axis (time or z), or None for a single plane.
    stack_kind
        Whether the stack axis is time or z (sets the default propagation direction).
    """

    shape: tuple[int, ...]
    rgb: bool = False
    channel_axis: int | None = None
    stack_axis: int | None = None
    stack_kind: StackKind = StackKind.TIME

    def __post_init__(self) -> None:
        ndim = len(self.shape)
        if ndim < 2:
            raise ValueError(
                f"SAM 2 needs an image with at least 2 axes (rows, columns); this layer has "
                f"shape {self.shape}"
            )
        if 0 in self.shape:
            raise ValueError(f"the image is empty (shape {self.shape})")
        for name, axis in (("channel axis", self.channel_axis), ("stack axis", self.stack_axis)):
            if axis is not None and not 0 <= axis < ndim:
                raise ValueError(f"{name} {axis} does not exist in an image of shape {self.shape}")
            if axis is not None and axis >= ndim - 2:
                raise ValueError(
                    f"{name} {axis} is one of the two displayed axes (rows, columns) of an image "
                    f"of shape {self.shape}; choose a leading axis"
                )
        if self.channel_axis is not None and self.rgb:
            raise ValueError(
                "an rgb layer already has its colour channels; leave channel axis empty"
            )
        if self.channel_axis is not None and self.channel_axis == self.stack_axis:
            raise ValueError(
                f"axis {self.stack_axis} cannot be both the stack and the channel axis"
            )

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_layer(
        cls,
        layer: Any,
        *,
        stack_axis: int | str | None = "auto",
        channel_axis: int | None = None,
        stack_kind: StackKind | str = StackKind.TIME,
    ) -> ImageLayout:
        """Describe an Image layer.

        Parameters
        ----------
        layer
            A napari Image layer (or anything with ``data``, ``ndim`` and ``rgb``).
        stack_axis
            The tracked axis, None for "no tracking", or ``"auto"``: the first leading
            axis that is not the channel axis (None for a plain 2D image).
        channel_axis
            Layer axis holding channels, or None.
        stack_kind
            "time" or "z".
        """
        data = layer.data[0] if getattr(layer, "multiscale", False) else layer.data
        rgb = bool(getattr(layer, "rgb", False))
        shape = tuple(int(n) for n in data.shape)
        if rgb:
            shape = shape[:-1]
        if stack_axis == "auto":
            leading = [a for a in range(len(shape) - 2) if a != channel_axis]
            stack_axis = leading[0] if leading else None
        return cls(
            shape=shape,
            rgb=rgb,
            channel_axis=channel_axis,
            stack_axis=stack_axis,  # type: ignore[arg-type]
            stack_kind=StackKind(stack_kind),
        )

    # ------------------------------------------------------------------ axes
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def row_axis(self) -> int:
        return self.ndim - 2

    @property
    def col_axis(self) -> int:
        return self.ndim - 1

    @property
    def plane_shape(self) -> tuple[int, int]:
        """(rows, cols) of one plane."""
        return self.shape[-2], self.shape[-1]

    @property
    def n_frames(self) -> int:
        """Frames along the stack axis (1 without one)."""
        return 1 if self.stack_axis is None else self.shape[self.stack_axis]

    @property
    def is_stack(self) -> bool:
        return self.stack_axis is not None and self.n_frames > 1

    @property
    def fixed_axes(self) -> tuple[int, ...]:
        """Leading axes that are neither stack nor channel: they stay at the slider."""
        skip = {self.stack_axis, self.channel_axis}
        return tuple(a for a in range(self.ndim - 2) if a not in skip)

    @property
    def n_channels(self) -> int | None:
        return None if self.channel_axis is None else self.shape[self.channel_axis]

    # ------------------------------------------------------------------ positions
    def plane_at(self, position: np.ndarray | tuple[float, ...]) -> PlaneKey:
        """The plane holding a layer-data position (floats are rounded, then clipped)."""
        pos = np.asarray(position, dtype=float)
        if pos.shape != (self.ndim,):
            raise ValueError(f"a position needs {self.ndim} coordinates, got {pos.tolist()}")

        def index(axis: int) -> int:
            return int(np.clip(np.round(pos[axis]), 0, self.shape[axis] - 1))

        frame = 0 if self.stack_axis is None else index(self.stack_axis)
        return PlaneKey(frame, tuple((a, index(a)) for a in self.fixed_axes))

    def with_frame(self, plane: PlaneKey, frame: int) -> PlaneKey:
        return PlaneKey(int(frame), plane.fixed)

    def contains_rc(self, row: float, col: float) -> bool:
        """Whether (row, col) lies on a pixel of the plane (pixel centres at integers)."""
        h, w = self.plane_shape
        return -0.5 <= row < h - 0.5 and -0.5 <= col < w - 0.5

    def position_of(self, plane: PlaneKey, row: float, col: float) -> np.ndarray:
        """Layer-data coordinates of (row, col) on a plane (channel axis at 0)."""
        pos = np.zeros(self.ndim)
        if self.stack_axis is not None:
            pos[self.stack_axis] = plane.frame
        for axis, idx in plane.fixed:
            pos[axis] = idx
        pos[self.row_axis], pos[self.col_axis] = row, col
        return pos

    # ------------------------------------------------------------------ labels
    def default_labels_shape(self) -> tuple[int, ...]:
        """Shape of a new Labels layer that lines up with the image in napari.

        Without channel axis: the image shape. With a leading channel axis it is dropped
        (napari aligns trailing axes); with a channel axis in the middle it is kept with
        length 1 (see :func:`labels_transform`).
        """
        ca = self.channel_axis
        if ca is None:
            return self.shape
        if ca == 0:
            return self.shape[1:]
        return (*self.shape[:ca], 1, *self.shape[ca + 1 :])

    def check_labels_shape(self, labels_shape: tuple[int, ...]) -> None:
        """Raise ValueError (naming the shape to use) if a Labels layer does not fit."""
        ok = tuple(labels_shape) == self.default_labels_shape()
        if self.channel_axis is not None and not ok:
            ca = self.channel_axis
            squeezed = (*self.shape[:ca], 1, *self.shape[ca + 1 :])
            ok = tuple(labels_shape) == squeezed
        if not ok:
            raise ValueError(
                f"the Labels layer has shape {tuple(labels_shape)} but the image needs "
                f"{self.default_labels_shape()}; choose another Labels layer or create a new one"
            )

    def labels_index(self, labels_shape: tuple[int, ...], plane: PlaneKey) -> tuple:
        """Index into a Labels array selecting the (rows, cols) plane ``plane``."""
        index: list[Any] = [slice(None)] * self.ndim
        if self.stack_axis is not None:
            index[self.stack_axis] = plane.frame
        for axis, idx in plane.fixed:
            index[axis] = idx
        if self.channel_axis is not None:
            index[self.channel_axis] = 0
            if len(labels_shape) == self.ndim - 1:
                del index[self.channel_axis]
        return tuple(index)

    # ------------------------------------------------------------------ frames
    def frames(self, data: Any, plane: PlaneKey) -> LazyFrames:
        """The lazy (T, H, W[, C]) stack through ``plane`` (its fixed axes held)."""
        return LazyFrames(data, self, plane.fixed)


def layer_data(layer: Any) -> Any:
    """The full-resolution data of an Image layer (level 0 of a multiscale layer)."""
    return layer.data[0] if getattr(layer, "multiscale", False) else layer.data


def labels_transform(layout: ImageLayout, image_layer: Any, labels_ndim: int) -> dict[str, list]:
    """``scale`` and ``translate`` for a Labels (or Points) layer laid over the image.

    A length-1 channel axis is stretched over all channels, so that the labels show on
    every channel slice.
    """
    scale = list(np.asarray(image_layer.scale, dtype=float))
    translate = list(np.asarray(image_layer.translate, dtype=float))
    ca = layout.channel_axis
    if ca is not None and labels_ndim == layout.ndim:
        n = layout.shape[ca]
        translate[ca] = translate[ca] + scale[ca] * (n - 1) / 2
        scale[ca] = scale[ca] * n
    elif ca is not None:
        del scale[ca], translate[ca]
    return {"scale": scale, "translate": translate}


class LazyFrames:
    """A (T, H, W) or (T, H, W, C) view of an nD layer array that reads one frame at a time.

    ``frames[t]`` reads exactly one plane of the underlying array (numpy view, dask
    compute of the needed chunks, zarr read) and returns it with channels last. It is
    what :class:`sam2_engine.imaging.frames.FrameSource` and the tracking session index.

    Parameters
    ----------
    data
        The layer's array (any array-like with ``shape``, ``dtype`` and ``__getitem__``).
    layout
        The layer's :class:`ImageLayout`.
    fixed
        ``((axis, index), ...)`` for the fixed leading axes.
    """

    def __init__(self, data: Any, layout: ImageLayout, fixed: tuple[tuple[int, int], ...]):
        self._data = data
        self._layout = layout
        self._fixed = dict(fixed)
        missing = set(layout.fixed_axes) - set(self._fixed)
        if missing:
            raise ValueError(f"positions of the fixed axes {sorted(missing)} are missing")
        frame_shape: tuple[int, ...] = layout.plane_shape
        if layout.rgb:
            frame_shape = (*frame_shape, int(data.shape[-1]))
        elif layout.channel_axis is not None:
            frame_shape = (*frame_shape, layout.shape[layout.channel_axis])
        self.shape = (layout.n_frames, *frame_shape)
        self.dtype = np.dtype(data.dtype)
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        source = type(self._data).__name__
        return f"LazyFrames(shape={self.shape}, dtype={self.dtype}, source={source})"

    def __getitem__(self, t: Any) -> np.ndarray:
        if isinstance(t, bool) or not isinstance(t, int | np.integer):
            raise TypeError(f"LazyFrames reads one frame at a time; index with an int, got {t!r}")
        n = len(self)
        if not -n <= t < n:
            raise IndexError(f"frame {t} is out of range for {n} frames")
        lay = self._layout
        index: list[Any] = [slice(None)] * int(self._data.ndim)
        if lay.stack_axis is not None:
            index[lay.stack_axis] = int(t) % n
        for axis, idx in self._fixed.items():
            index[axis] = idx
        frame = np.asarray(self._data[tuple(index)])
        if lay.channel_axis is not None:
            # remaining axes keep their order: channel, rows, cols -> rows, cols, channel
            kept = [a for a in range(lay.ndim) if isinstance(index[a], slice)]
            frame = np.moveaxis(frame, kept.index(lay.channel_axis), -1)
        return frame
