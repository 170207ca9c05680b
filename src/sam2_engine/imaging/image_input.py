"""Preparing one still image for :class:`~sam2_engine.image.ImagePredictor`: its size
without reading it, a :class:`~sam2_engine.imaging.lazy_plane.LazyPlane` over it (for
windows and tiles), 8-bit RGB scaled on an accelerator, and encoder features as float32.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from sam2_engine.imaging.intensity import Normalization, NormalizedFrame
from sam2_engine.imaging.lazy_plane import LazyPlane
from sam2_engine.model.image_encoder import ImageFeatures

__all__ = ["as_lazy_plane", "detach_float", "image_hw", "uint8_rgb_on_device"]


def image_hw(image: np.ndarray | LazyPlane, channel_axis: int | None) -> tuple[int, int]:
    """(rows, cols) of one image without reading it."""
    if isinstance(image, LazyPlane | NormalizedFrame):
        return int(image.shape[0]), int(image.shape[1])
    shape = tuple(np.shape(image))
    if channel_axis is not None and len(shape) == 3:
        shape = tuple(n for i, n in enumerate(shape) if i != channel_axis % 3)
    if len(shape) < 2:
        return (0, 0)  # not an image: the usual checks below say what is wrong
    return int(shape[0]), int(shape[1])


def as_lazy_plane(
    image: np.ndarray | LazyPlane,
    channel_axis: int | None,
    channels: Sequence[int] | None,
    norm: Normalization,
) -> LazyPlane:
    """A :class:`LazyPlane` over one image (channels moved last as a view)."""
    if isinstance(image, LazyPlane):
        return image
    if isinstance(image, NormalizedFrame):
        return LazyPlane(image)
    arr = image if hasattr(image, "shape") and hasattr(image, "dtype") else np.asarray(image)
    if channel_axis is not None and len(arr.shape) == 3 and channel_axis % 3 != 2:
        arr = np.moveaxis(np.asarray(arr), channel_axis, -1)
        channel_axis = -1
    return LazyPlane(arr, channel_axis=channel_axis, channels=channels, normalization=norm)


def uint8_rgb_on_device(
    image: np.ndarray,
    channel_axis: int | None,
    channels: Sequence[int] | None,
    norm: Normalization,
    device: torch.device,
) -> torch.Tensor | None:
    """An (H, W, 3) uint8 RGB image as (H, W, 3) float32 in [0, 1] on an accelerator.

    The common case of natural images on a GPU: the 8-bit data is copied (a quarter of
    the float bytes) and scaled there instead of on the CPU. The values are those of
    :func:`to_rgb` (x / 255). None when the image or the device does not qualify.
    """
    plain = (
        device.type != "cpu"
        and isinstance(image, np.ndarray)
        and image.dtype == np.uint8
        and image.ndim == 3
        and image.shape[-1] == 3
        and channel_axis in (None, -1, 2)
        and channels is None
        and norm.mode == "auto"
        and min(image.shape[:2]) > 0
    )
    if not plain:
        return None
    pixels = torch.from_numpy(np.ascontiguousarray(image)).to(device, non_blocking=False)
    return pixels.to(torch.float32).div_(255.0)


def detach_float(feats: ImageFeatures) -> ImageFeatures:
    """Features as float32 (autocast may leave bf16), without autograd history."""
    return ImageFeatures(
        feats.embed.float(),
        (feats.high_res[0].float(), feats.high_res[1].float()),
        feats.pos.float(),
    )
