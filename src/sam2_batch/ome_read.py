"""Reading OME-Zarr (NGFF 0.4 / 0.5) images, multiscale included, through ``ome-zarr``.

An :class:`OmeImage` is one multiscale image group: its axes (e.g. ``t, c, z, y, x``),
its resolution levels (lazy dask arrays, level 0 the finest) and each level's
downsampling factor against level 0, taken from the ``scale`` coordinate transformations
(or the shapes when those are missing). :meth:`OmeImage.choose_level` picks the coarsest
level at which objects keep enough pixels for the model, and :meth:`OmeImage.to_level0`
/ :meth:`OmeImage.labels_to_level0` map results back to level-0 pixels.

Coordinates are (row, col) pixel indices; a level-``k`` pixel centre ``p`` lies at
``(p + 0.5) * factor - 0.5`` in level 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "TARGET_DIAMETER",
    "OmeImage",
    "OmeLevel",
    "is_ome_zarr",
    "open_ome_image",
    "plate_images",
]

#: Smallest object diameter (pixels) the SAM 2 decoders outline well; the automatic
#: level choice keeps objects at least this large.
TARGET_DIAMETER = 20.0


@dataclass(frozen=True)
class OmeLevel:
    """One resolution level of an OME-Zarr image.

    Attributes
    ----------
    path : str
        The array's path inside the image group (e.g. ``"0"``).
    shape : tuple of int
        Array shape, in the image's axis order.
    factor : tuple of float
        (row, col) downsampling factor against level 0 (1.0 at level 0).
    """

    path: str
    shape: tuple[int, ...]
    factor: tuple[float, float]


@dataclass(frozen=True)
class OmeImage:
    """A multiscale OME-Zarr image group, read lazily.

    Attributes
    ----------
    url : str
        The image group's path or URL.
    axes : tuple of str
        Axis names in array order, ending with ``"y", "x"`` (e.g. ``("t", "c", "y", "x")``).
    levels : tuple of OmeLevel
        Level 0 (finest) first.
    version : str
        The NGFF version of the metadata (``"0.4"``, ``"0.5"``).
    scale : tuple of float
        Level 0's physical pixel size per axis (1.0 where none is given).
    """

    url: str
    axes: tuple[str, ...]
    levels: tuple[OmeLevel, ...]
    version: str
    scale: tuple[float, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        """Level 0's shape, in :attr:`axes` order."""
        return self.levels[0].shape

    def array(self, level: int = 0) -> Any:
        """The lazy dask array of a level (nothing is read until computed)."""
        self._check_level(level)
        return _location(self.url).load(self.levels[level].path)

    def choose_level(
        self,
        diameter: float | None = None,
        *,
        target_diameter: float = TARGET_DIAMETER,
        min_side: int = 0,
    ) -> int:
        """The coarsest level at which objects of ``diameter`` keep ``target_diameter`` px.

        Parameters
        ----------
        diameter
            Typical object diameter in level-0 pixels; None keeps level 0.
        target_diameter
            Smallest diameter (pixels) the objects may shrink to.
        min_side
            The chosen level's shorter (row, col) side is at least this (e.g. the
            model's input size, so that a whole-image model is not fed a thumbnail).

        Returns
        -------
        int
            The level index (0 = finest).
        """
        if diameter is None:
            return 0
        if not (np.isfinite(diameter) and diameter > 0):
            raise ValueError(f"diameter={diameter} must be a positive number of pixels")
        best = 0
        for k, level in enumerate(self.levels):
            fits_objects = diameter / max(level.factor) >= target_diameter
            fits_side = min(level.shape[-2:]) >= min(min_side, min(self.shape[-2:]))
            if fits_objects and fits_side:
                best = k
        return best

    def to_level0(self, rows_cols: Any, level: int) -> np.ndarray:
        """Map (N, 2) (row, col) pixel coordinates of ``level`` to level 0.

        Returns
        -------
        numpy.ndarray
            (N, 2) float64 level-0 (row, col) of the same pixel centres.
        """
        self._check_level(level)
        points = np.asarray(rows_cols, dtype=np.float64).reshape(-1, 2)
        return (points + 0.5) * np.asarray(self.levels[level].factor) - 0.5

    def labels_to_level0(self, labels: Any, level: int) -> Any:
        """Nearest-neighbour upsampling of labels of ``level`` to level 0's (row, col) size.

        Parameters
        ----------
        labels
            (..., h, w) integer labels on the grid of ``level`` (numpy or dask).

        Returns
        -------
        dask.array.Array
            (..., H, W) labels, H, W those of level 0; computed chunk by chunk.
        """
        import dask.array as da

        self._check_level(level)
        lazy = da.asarray(labels)
        if level == 0:
            return lazy
        (h0, w0), (h, w) = self.shape[-2:], lazy.shape[-2:]
        fy, fx = self.levels[level].factor
        rows = np.minimum(((np.arange(h0) + 0.5) / fy).astype(np.int64), h - 1)
        cols = np.minimum(((np.arange(w0) + 0.5) / fx).astype(np.int64), w - 1)
        return lazy[..., rows, :][..., cols]

    def _check_level(self, level: int) -> None:
        if not 0 <= level < len(self.levels):
            raise ValueError(
                f"level {level} does not exist in {self.url}: it has levels 0 to "
                f"{len(self.levels) - 1}"
            )


def _location(path: str | Path) -> Any:
    from ome_zarr.format import FormatV04, FormatV05
    from ome_zarr.io import parse_url

    # Name the format a local group is in, so ome-zarr does not log a version mismatch.
    v2 = (Path(path) / ".zattrs").is_file() or (Path(path) / ".zgroup").is_file()
    location = parse_url(str(path), mode="r", fmt=FormatV04() if v2 else FormatV05())
    if location is None:
        raise FileNotFoundError(f"{path} does not exist or is not a zarr group")
    return location


def is_ome_zarr(path: str | Path) -> bool:
    """Whether ``path`` is an OME-Zarr image, plate or well group (False for anything else)."""
    try:
        attrs = _location(path).root_attrs
    except (FileNotFoundError, ValueError, OSError):
        return False
    return any(key in attrs for key in ("multiscales", "plate", "well"))


def _axis_names(multiscale: dict[str, Any], ndim: int) -> tuple[str, ...]:
    axes = multiscale.get("axes")
    if axes is None:  # NGFF 0.1 / 0.2: always t, c, z, y, x
        return ("t", "c", "z", "y", "x")[-ndim:]
    return tuple(a["name"] if isinstance(a, dict) else str(a) for a in axes)


def _scale_of(dataset: dict[str, Any], ndim: int) -> np.ndarray | None:
    for transform in dataset.get("coordinateTransformations", []):
        if transform.get("type") == "scale" and "scale" in transform:
            return np.asarray(transform["scale"], dtype=np.float64).reshape(ndim)
    return None


def open_ome_image(path: str | Path) -> OmeImage:
    """Open the multiscale image of an OME-Zarr image group.

    Parameters
    ----------
    path
        The image group (the folder holding ``.zattrs`` / ``zarr.json`` with
        ``multiscales``), or a URL ``ome-zarr`` can read.

    Returns
    -------
    OmeImage

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If it is not an OME-Zarr image (e.g. a plate: list its images with
        :func:`plate_images`), or its last two axes are not y, x.
    """
    location = _location(path)
    attrs = location.root_attrs
    if "multiscales" not in attrs:
        kind = "plate" if "plate" in attrs else "well" if "well" in attrs else "zarr group"
        raise ValueError(
            f"{path} is an OME-Zarr {kind}, not an image: give one of its images "
            "(plate_images() lists them) or an image group with 'multiscales' metadata"
        )
    multiscale = attrs["multiscales"][0]
    datasets = multiscale["datasets"]
    arrays = [location.load(d["path"]) for d in datasets]
    ndim = arrays[0].ndim
    axes = _axis_names(multiscale, ndim)
    if len(axes) != ndim or axes[-2:] != ("y", "x"):
        raise ValueError(
            f"{path}: axes {axes} do not end with y, x for arrays of {ndim} dimensions; "
            "only images with row and column axes last can be segmented"
        )
    scales = [_scale_of(d, ndim) for d in datasets]
    base = scales[0] if scales[0] is not None else np.ones(ndim)
    levels = []
    for d, arr, scale in zip(datasets, arrays, scales, strict=True):
        if scale is not None and scales[0] is not None:
            factor = scale[-2:] / base[-2:]
        else:  # no transformations: the shapes say it
            factor = np.asarray(arrays[0].shape[-2:], float) / np.asarray(arr.shape[-2:])
        shape = tuple(int(s) for s in arr.shape)
        levels.append(OmeLevel(str(d["path"]), shape, (float(factor[0]), float(factor[1]))))
    version = str(multiscale.get("version", attrs.get("version", location.version)))
    return OmeImage(str(path), axes, tuple(levels), version, tuple(float(s) for s in base))


def plate_images(path: str | Path) -> list[str]:
    """The image groups of an OME-Zarr plate or well, as paths relative to ``path``.

    Returns
    -------
    list of str
        E.g. ``["A/1/0", "A/1/1", "B/3/0"]`` for a plate (row/column/field), ``["0"]`` for
        a well with one field; ``[]`` when ``path`` is an image (not a collection).

    Raises
    ------
    ValueError
        If ``path`` is neither an OME-Zarr image, well nor plate.
    """
    location = _location(path)
    attrs = location.root_attrs
    if "multiscales" in attrs:
        return []
    if "well" in attrs:
        return [str(image["path"]) for image in attrs["well"].get("images", [])]
    if "plate" not in attrs:
        raise ValueError(f"{path} is not an OME-Zarr image, well or plate")
    found = []
    for well in attrs["plate"].get("wells", []):
        well_path = str(well["path"])
        for field in plate_images(f"{str(path).rstrip('/')}/{well_path}"):
            found.append(f"{well_path}/{field}")
    return found
