"""The image being segmented: layer, axes, normalisation, current plane, frame sources.

:class:`ImageContext` knows which napari Image layer the controller works on, the role of
its axes (:class:`~napari_sam2.core.layout.ImageLayout`), how intensities are scaled for
the model and which plane the sliders show. It hands out one lazy, normalised
``sam2_engine.FrameSource`` per position of the fixed axes. A *token* changes whenever any
of this changes, so that results computed for an earlier image are recognised and dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from napari_sam2.core.layout import ImageLayout, layer_data
from napari_sam2.core.stack_kind import guess_stack_kind
from napari_sam2.core.state import PlaneKey, StackKind

NORMALIZATIONS = ("auto", "contrast_limits")


@dataclass(frozen=True)
class ImageOptions:
    """How an Image layer is read (each option as in
    :meth:`napari_sam2.controller.Sam2Controller.set_image`).

    Attributes
    ----------
    stack_axis
        Tracked axis (time or z), None, or "auto" (the first leading axis).
    channel_axis
        Layer axis holding channels of multichannel data, or None.
    stack_kind
        "time", "z" or "auto" (guessed from the layer).
    normalization
        "auto" or "contrast_limits".
    """

    stack_axis: int | str | None = "auto"
    channel_axis: int | None = None
    stack_kind: StackKind | str = "auto"
    normalization: str = "auto"


def check_numeric(data: Any, what: str) -> None:
    """Refuse data that are not numbers (strings, objects, dates) before any work.

    Parameters
    ----------
    data
        An array (anything with a ``dtype``) or array-like.
    what
        How the data are named in the message, e.g. ``"layer 'cells'"``.

    Raises
    ------
    ValueError
        With the dtype found and what to do.
    """
    dtype = np.dtype(data.dtype) if hasattr(data, "dtype") else np.asarray(data).dtype
    if dtype.kind not in "biuf":
        raise ValueError(
            f"{what} holds {dtype} data; SAM 2 needs numbers: convert it to an integer or "
            "float array first, e.g. np.asarray(data, dtype=float)"
        )


class ImageContext:
    """The image layer and what the controller derived from it (see module docstring)."""

    def __init__(self) -> None:
        self.layer: Any = None
        self.layout: ImageLayout | None = None
        self.normalization: Any = None
        self.token = 0
        self.plane = PlaneKey()
        self._sources: dict[tuple, Any] = {}

    def set(self, layer: Any, options: ImageOptions | None = None) -> ImageLayout | None:
        """Work on ``layer`` (None: no image): check it, work out its layout and
        normalisation, then switch to it (new token, first plane).

        ``options`` (default: all "auto"): see :class:`ImageOptions`; ``stack_kind``
        "auto" guesses time or z from the layer
        (:func:`~napari_sam2.core.stack_kind.guess_stack_kind`).

        Returns
        -------
        ImageLayout or None
            The layout now in use (None for no image).

        Raises
        ------
        ValueError
            Non-numeric data, too few axes, bad axes or an unknown normalisation; nothing
            has changed then.
        """
        layout, norm = None, None
        if layer is not None:
            layout, norm = _derive(layer, options or ImageOptions())
        self.layer, self.layout, self.normalization = layer, layout, norm
        self.token += 1
        self._sources.clear()
        self.plane = PlaneKey() if layout is None else layout.plane_at(np.zeros(layout.ndim))
        return layout

    def move_to(self, position: Sequence[float]) -> bool:
        """Follow the sliders (layer data coordinates); True when the plane changed."""
        if self.layout is None:
            return False
        plane = self.layout.plane_at(np.asarray(position, dtype=float))
        if plane == self.plane:
            return False
        self.plane = plane
        return True

    def full_position(self, position: Sequence[float]) -> np.ndarray:
        """All layer coordinates of a position given in full or as (row, col) on the
        current plane.

        Raises
        ------
        ValueError
            A position with another number of coordinates.
        """
        assert self.layout is not None
        pos = np.asarray(position, dtype=float).ravel()
        if pos.size == 2 and self.layout.ndim > 2:
            return self.layout.position_of(self.plane, pos[0], pos[1])
        if pos.size != self.layout.ndim:
            raise ValueError(
                f"a position needs {self.layout.ndim} coordinates (or (row, col)), "
                f"got {pos.tolist()}"
            )
        return pos

    def source(self, plane: PlaneKey) -> Any:
        """The lazy, normalised frame source through ``plane`` (one per fixed position)."""
        import sam2_engine as se

        assert self.layout is not None
        src = self._sources.get(plane.fixed)
        if src is None:
            frames = self.layout.frames(layer_data(self.layer), plane)
            src = se.FrameSource(
                frames,
                channel_axis=3 if frames.ndim == 4 else None,
                normalization=self.normalization,
            )
            self._sources[plane.fixed] = src
        return src

    def plane_name(self, plane: PlaneKey) -> str:
        """How a plane is called in messages: "the image", "time 4", "z 12"."""
        if self.layout is None or not self.layout.is_stack:
            return "the image"
        return f"{self.layout.stack_kind.value} {plane.frame}"


def _derive(layer: Any, options: ImageOptions) -> tuple[ImageLayout, Any]:
    """Check a layer and work out its layout and normalisation (nothing changes)."""
    import sam2_engine as se

    stack_kind, normalization = options.stack_kind, options.normalization
    check_numeric(layer_data(layer), f"layer {layer.name!r}")
    auto = isinstance(stack_kind, str) and stack_kind == "auto"
    layout = ImageLayout.from_layer(
        layer,
        stack_axis=options.stack_axis,
        channel_axis=options.channel_axis,
        stack_kind=StackKind.TIME if auto else stack_kind,
    )
    if auto:
        layout = replace(layout, stack_kind=guess_stack_kind(layer, layout.stack_axis))
    if normalization == "contrast_limits":
        lo, hi = (float(v) for v in layer.contrast_limits)
        norm = se.Normalization("fixed", vmin=lo, vmax=hi if hi > lo else lo + 1)
    elif normalization == "auto":
        norm = se.Normalization()
    else:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    return layout, norm
