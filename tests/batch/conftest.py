"""Small OME-Zarr images, plates and movies for the batch tests (written with ome-zarr)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def blobs(frames: int = 3, size: int = 64, seed: int = 0) -> np.ndarray:
    """(T, H, W) uint16: two bright discs (radius 9) drifting 2 px a frame, on noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    out = rng.integers(0, 50, (frames, size, size)).astype(np.uint16)
    for t in range(frames):
        for cy, cx in ((20 + 2 * t, 20), (44, 40 + 2 * t)):
            out[t][(yy - cy) ** 2 + (xx - cx) ** 2 < 81] = 1000
    return out


def write_ome(path: Path, data: np.ndarray, axes: str, version: str = "0.4") -> Path:
    """Write ``data`` as an OME-Zarr image with 3 levels (factors 1, 2, 4)."""
    import zarr
    from ome_zarr.format import format_from_version
    from ome_zarr.writer import write_image

    fmt = format_from_version(version)
    group = zarr.open_group(str(path), mode="w", zarr_format=fmt.zarr_format)
    write_image(data, group, axes=axes, fmt=fmt, scale_factors=(2, 4))
    return path


def write_plate(path: Path, wells: dict[str, np.ndarray]) -> Path:
    """An NGFF 0.4 plate, one field per well ("A/1" -> (T, H, W) movie)."""
    import zarr
    from ome_zarr.format import FormatV04
    from ome_zarr.writer import write_image, write_plate_metadata, write_well_metadata

    fmt = FormatV04()
    root = zarr.open_group(str(path), mode="w", zarr_format=2)
    rows = sorted({w.split("/")[0] for w in wells})
    cols = sorted({w.split("/")[1] for w in wells})
    write_plate_metadata(root, rows, cols, list(wells), fmt=fmt)
    for well, data in wells.items():
        group = root.require_group(well)
        write_well_metadata(group, [{"path": "0"}], fmt=fmt)
        write_image(data, group.require_group("0"), axes="tyx", fmt=fmt, scale_factors=(2,))
    return path


@pytest.fixture
def movie() -> np.ndarray:
    return blobs()
