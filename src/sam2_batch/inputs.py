"""What a batch runs on: files, globs and the images of OME-Zarr plates, one item each.

:func:`expand_inputs` turns the command line's INPUTS into :class:`BatchItem` s with
unique output names. An input that does not exist, or a glob that matches nothing,
becomes an item with an ``error`` (reported with the results; the others still run).
"""

from __future__ import annotations

import glob
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sam2_batch.ome_read import is_ome_zarr, plate_images

__all__ = ["BatchItem", "expand_inputs", "is_glob"]

_SUFFIXES = (".ome.zarr", ".ome.tiff", ".ome.tif", ".zarr", ".tiff", ".tif")


@dataclass(frozen=True)
class BatchItem:
    """One stack to process.

    Attributes
    ----------
    name : str
        Unique output name (file stem, plus ``_A1_0`` for a plate's well A/1, field 0).
    path : str
        The file, folder, zarr array or OME-Zarr image group.
    ome : bool
        Whether ``path`` is an OME-Zarr image (multiscale metadata, labels written beside).
    error : str or None
        Why this input cannot be run (it does not exist, a glob matched nothing).
    """

    name: str
    path: str
    ome: bool = False
    error: str | None = None


def is_glob(spec: str) -> bool:
    """Whether an input is a glob pattern (``*``, ``?`` or ``[``)."""
    return any(ch in spec for ch in "*?[")


def _stem(path: str) -> str:
    name = Path(path.rstrip("/")).name
    for suffix in _SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)] or name
    return Path(name).stem or name


def _items_of(path: str) -> list[BatchItem]:
    if not Path(path).exists() and "://" not in path:
        return [BatchItem(_stem(path), path, error=f"{path} does not exist")]
    if not is_ome_zarr(path):
        return [BatchItem(_stem(path), path)]
    images = plate_images(path)
    if not images:
        return [BatchItem(_stem(path), path, ome=True)]
    stem = _stem(path)
    return [
        BatchItem(f"{stem}_{image.replace('/', '_')}", f"{path.rstrip('/')}/{image}", ome=True)
        for image in images
    ]


def expand_inputs(specs: Sequence[str]) -> list[BatchItem]:
    """Expand files, globs and OME-Zarr plates into items with unique names.

    Parameters
    ----------
    specs
        Paths (TIFF, zarr, folder of TIFF frames, OME-Zarr image, well or plate), or glob
        patterns of them.

    Returns
    -------
    list of BatchItem
        In the order given (globs sorted), duplicates removed; a repeated name gets
        ``-2``, ``-3``, ... appended.
    """
    items: list[BatchItem] = []
    seen_paths: set[str] = set()
    for spec in specs:
        if is_glob(spec):
            matches = sorted(glob.glob(spec))
            if not matches:
                items.append(BatchItem(_stem(spec), spec, error=f"{spec} matches no file"))
            found = [item for match in matches for item in _items_of(match)]
        else:
            found = _items_of(spec)
        for item in found:
            key = str(Path(item.path).resolve()) if "://" not in item.path else item.path
            if key not in seen_paths:
                seen_paths.add(key)
                items.append(item)
    names: dict[str, int] = {}
    unique = []
    for item in items:
        count = names[item.name] = names.get(item.name, 0) + 1
        name = item.name if count == 1 else f"{item.name}-{count}"
        unique.append(BatchItem(name, item.path, item.ome, item.error))
    return unique
