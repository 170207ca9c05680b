"""Indexed (palette) PNG label images, the annotation format of DAVIS, MOSE and SA-V.

A label PNG stores one object id per pixel (0 is background) and a colour table that
only matters for display. Predictions are written with the palette of the video's own
annotations, so that they look the same in any viewer; annotations without a palette
(greyscale ``L`` PNGs) get :func:`davis_palette`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from sam2_engine import atomic_file

__all__ = ["davis_palette", "read_label_png", "write_label_png"]

#: PIL modes whose pixel values are object ids.
LABEL_MODES = ("P", "L")


def davis_palette() -> bytes:
    """The 256-colour table of DAVIS (the PASCAL VOC colour map).

    Colour ``k`` spreads the bits of ``k`` over the high bits of red, green and blue:
    bit 0 of each group of three goes to red, bit 1 to green, bit 2 to blue, the first
    group landing on bit 7.

    Returns
    -------
    bytes
        768 bytes: R, G, B of colours 0..255 (0 is black).
    """
    table = bytearray(768)
    for k in range(256):
        rgb = [0, 0, 0]
        bits, shift = k, 7
        while bits:
            for channel in range(3):
                rgb[channel] |= ((bits >> channel) & 1) << shift
            bits >>= 3
            shift -= 1
        table[3 * k : 3 * k + 3] = bytes(rgb)
    return bytes(table)


def read_label_png(path: str | os.PathLike[str]) -> tuple[np.ndarray, bytes | None]:
    """Read an indexed (palette) or greyscale PNG of object ids.

    Parameters
    ----------
    path
        The PNG file.

    Returns
    -------
    labels : numpy.ndarray
        (H, W) uint8 object ids (row, col); 0 is background.
    palette : bytes or None
        The file's colour table (R, G, B triples), None for a greyscale PNG.

    Raises
    ------
    ValueError
        If the file is not a one-channel indexed or greyscale image.
    """
    with Image.open(path) as image:
        if image.mode not in LABEL_MODES:
            raise ValueError(
                f"{path} is a {image.mode} image, not object ids; annotations must be indexed "
                "(palette) or greyscale PNGs whose pixel values are object ids"
            )
        palette = image.getpalette() if image.mode == "P" else None
        labels = np.array(image, dtype=np.uint8)
    return labels, None if palette is None else bytes(palette)


def write_label_png(
    path: str | os.PathLike[str], labels: np.ndarray, palette: bytes | None = None
) -> None:
    """Write object ids as an indexed PNG, atomically (a temporary file, then a rename).

    Parameters
    ----------
    path
        Target file; its folder must exist.
    labels
        (H, W) integer object ids (row, col) in 0..255.
    palette
        Colour table (R, G, B triples); :func:`davis_palette` when None.

    Raises
    ------
    ValueError
        If ``labels`` is not 2-D or holds ids outside 0..255.
    """
    ids = np.asarray(labels)
    if ids.ndim != 2:
        raise ValueError(f"labels must be a (H, W) image, got shape {ids.shape}")
    if ids.size and (ids.min() < 0 or ids.max() > 255):
        raise ValueError(
            f"object ids {ids.min()}..{ids.max()} do not fit a palette PNG (0..255); "
            "renumber the objects"
        )
    image = Image.fromarray(ids.astype(np.uint8), mode="P")
    image.putpalette(palette if palette is not None else davis_palette())
    with atomic_file(Path(path)) as tmp:
        image.save(tmp, format="PNG")
