"""Opening one batch input as a stack of 2D planes, lazily.

An OME-Zarr image is read at the chosen resolution level, its channel picked (or kept as
RGB for segment-everything), and every other non-(y, x) axis flattened into planes; a
TIFF, zarr array, image file or folder of TIFF frames is read the same way. Nothing is
loaded until a plane is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sam2_batch.inputs import BatchItem
from sam2_batch.ome_read import OmeImage, open_ome_image
from sam2_batch.settings import BatchSettings

__all__ = ["ItemStack", "open_item"]


@dataclass(frozen=True)
class ItemStack:
    """One input as planes.

    Attributes
    ----------
    planes : array-like
        (P, h, w) or, for RGB, (P, h, w, 3); ``planes[i]`` reads plane ``i``.
    lead_shape : tuple of int
        Sizes of the flattened non-(y, x) axes (product P; ``()`` for one 2D image).
    image : OmeImage or None
        The OME-Zarr image, if the input is one.
    level : int
        The resolution level read (0 for non-OME inputs).
    factor : float
        That level's (largest) downsampling factor against level 0.
    """

    planes: Any
    lead_shape: tuple[int, ...]
    image: OmeImage | None = None
    level: int = 0
    factor: float = 1.0

    @property
    def rgb(self) -> bool:
        """Whether planes carry 3 colour channels last."""
        return len(self.planes.shape) == 4


def _pick_channel(arr: Any, c_axis: int, settings: BatchSettings, where: str) -> tuple[Any, bool]:
    """Select the channel; returns (array, keeps RGB channels last)."""
    n = int(arr.shape[c_axis])
    if settings.channel is not None:
        if not 0 <= settings.channel < n:
            raise ValueError(f"{where}: channel {settings.channel} does not exist (it has {n})")
        return arr.take(settings.channel, axis=c_axis), False
    if n == 1:
        return arr.take(0, axis=c_axis), False
    if n == 3 and settings.command == "segment":
        return np.moveaxis(arr, c_axis, -1), True
    raise ValueError(f"{where} has {n} channels: choose one with --channel N")


def _flatten(arr: Any, rgb: bool) -> tuple[Any, tuple[int, ...]]:
    yx_end = arr.ndim - (1 if rgb else 0)
    lead = tuple(int(s) for s in arr.shape[: yx_end - 2])
    planes = arr.reshape((int(np.prod(lead, dtype=np.int64)), *arr.shape[yx_end - 2 :]))
    return planes, lead


def _open_ome(item: BatchItem, settings: BatchSettings) -> ItemStack:
    image = open_ome_image(item.path)
    level = settings.level
    if level is None:
        level = image.choose_level(settings.diameter)
    arr = image.array(level)
    axes = list(image.axes)
    rgb = False
    if "c" in axes:
        arr, rgb = _pick_channel(arr, axes.index("c"), settings, item.path)
    planes, lead = _flatten(arr, rgb)
    factor = max(image.levels[level].factor)
    return ItemStack(planes, lead, image, level, factor)


def _read_plain(path: Path) -> Any:
    suffix = path.suffix.lower()
    if path.is_dir() and suffix != ".zarr":
        import sam2_cells

        return sam2_cells.read_image_stack(path)
    if suffix == ".zarr":
        import zarr

        found = zarr.open(str(path), mode="r")
        if not hasattr(found, "shape"):
            raise ValueError(f"{path} is a zarr group, not an array or an OME-Zarr image")
        return found
    if suffix in (".tif", ".tiff"):
        import tifffile

        try:
            return tifffile.memmap(path, mode="r")
        except ValueError:  # compressed or tiled: read it
            return tifffile.imread(path)
    from skimage.io import imread

    return imread(path)


def _open_plain(item: BatchItem, settings: BatchSettings) -> ItemStack:
    arr = _read_plain(Path(item.path))
    if arr.ndim < 2 or 0 in arr.shape:
        raise ValueError(f"{item.path} has shape {arr.shape}: it is not an image")
    rgb = arr.ndim == 3 and arr.shape[-1] in (3, 4) and arr.shape[0] > 4
    if rgb:
        arr, rgb = _pick_channel(arr[..., :3], arr.ndim - 1, settings, item.path)
    planes, lead = _flatten(arr, rgb)
    return ItemStack(planes, lead)


def open_item(item: BatchItem, settings: BatchSettings) -> ItemStack:
    """Open an input as planes (see :class:`ItemStack`).

    Raises
    ------
    ValueError
        If it cannot be read as an image, or its channels need a ``channel`` choice.
    """
    if item.error:
        raise ValueError(item.error)
    stack = _open_ome(item, settings) if item.ome else _open_plain(item, settings)
    frames = [s for s in stack.lead_shape if s > 1]
    if settings.command == "track" and (len(frames) != 1 or len(stack.lead_shape) > 3):
        raise ValueError(
            f"{item.path}: tracking needs one time (or z) axis of at least 2 frames, found "
            f"{stack.lead_shape or 'a single 2D image'} besides rows and columns"
        )
    return stack
