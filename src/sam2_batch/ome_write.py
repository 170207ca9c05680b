"""Writing label images as an OME-Zarr ``labels`` group beside the image (NGFF 0.4 / 0.5).

:func:`write_ome_labels` writes ``IMAGE/labels/NAME``: a multiscale label image with one
level per image level (nearest-neighbour downsampling, so no label is invented), the
image's axes (the channel axis, if any, of size 1) and ``image-label`` metadata (source,
and ``properties`` per label value, e.g. a track's parent and frames). The group is
built under a temporary name and renamed into place (an earlier one of the same name is
replaced only then); the ``labels`` list of ``IMAGE/labels`` is then rewritten in one
``os.replace``. Only local stores can be written.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sam2_batch.ome_read import OmeImage

__all__ = ["labels_shape", "write_ome_labels"]


def labels_shape(image: OmeImage, level: int = 0) -> tuple[int, ...]:
    """A level's shape with the channel axis (if any) of size 1: the labels' shape."""
    shape = image.levels[level].shape
    return tuple(1 if a == "c" else s for a, s in zip(image.axes, shape, strict=True))


def _nearest(labels: Any, shape: tuple[int, ...]) -> Any:
    """Nearest-neighbour resampling of a dask array to ``shape`` (each axis alone)."""
    out = labels
    for axis, (n0, n) in enumerate(zip(labels.shape, shape, strict=True)):
        if n0 != n:
            index = np.minimum(((np.arange(n) + 0.5) * n0 / n).astype(np.int64), n0 - 1)
            out = out[(slice(None),) * axis + (index,)]
    return out


def _group_json(folder: Path, zarr_format: int) -> tuple[Path, dict[str, Any]]:
    """The metadata file of a group folder and its OME attributes (empty if new)."""
    if zarr_format == 2:
        path = folder / ".zattrs"
        return path, json.loads(path.read_text()) if path.is_file() else {}
    path = folder / "zarr.json"
    meta = json.loads(path.read_text()) if path.is_file() else {}
    return path, meta.get("attributes", {}).get("ome", {})


def _register_label(labels_dir: Path, name: str, version: str, zarr_format: int) -> None:
    """Add ``name`` to the ``labels`` list of ``labels_dir`` (one atomic rewrite)."""
    import sam2_engine as se

    path, attrs = _group_json(labels_dir, zarr_format)
    names = [n for n in attrs.get("labels", []) if n != name] + [name]
    attrs = {**attrs, "labels": names}
    if zarr_format == 2:
        zgroup = labels_dir / ".zgroup"
        if not zgroup.is_file():
            with se.atomic_file(zgroup) as tmp:
                tmp.write_text(json.dumps({"zarr_format": 2}))
        text = json.dumps(attrs, indent=2)
    else:
        attrs["version"] = version
        text = json.dumps(
            {"zarr_format": 3, "node_type": "group", "attributes": {"ome": attrs}}, indent=2
        )
    with se.atomic_file(path) as tmp:
        tmp.write_text(text)


def write_ome_labels(
    image: OmeImage,
    labels: Any,
    name: str,
    *,
    properties: Sequence[dict[str, Any]] | None = None,
) -> Path:
    """Write ``labels`` as the OME-Zarr label image ``NAME`` of ``image``.

    Parameters
    ----------
    image
        The OME-Zarr image (a local folder) the labels belong to.
    labels
        Integer labels on level 0's grid: shape :func:`labels_shape` (the image's axes,
        channel of size 1), or that shape without the channel axis. numpy or dask.
    name
        The label image's name (a folder name, e.g. ``"sam2"``).
    properties
        ``image-label`` properties, one dict per label value with a ``"label-value"`` key.

    Returns
    -------
    pathlib.Path
        ``IMAGE/labels/NAME``.

    Raises
    ------
    ValueError
        If the image is not a local folder, the shape does not fit, the labels are not
        integers, or ``name`` is not a plain folder name.
    """
    import dask.array as da
    import zarr
    from ome_zarr.format import format_from_version
    from ome_zarr.writer import add_metadata, write_multiscale

    import sam2_engine as se

    root = Path(image.url)
    if not root.is_dir():
        raise ValueError(
            f"{image.url} is not a local folder: OME-Zarr labels can only be written beside "
            "an image on this computer"
        )
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"label name {name!r} must be a plain folder name, e.g. 'sam2'")
    target = labels_shape(image)
    lazy = da.asarray(labels)
    if "c" in image.axes and lazy.ndim == len(target) - 1:
        lazy = da.expand_dims(lazy, image.axes.index("c"))
    if tuple(lazy.shape) != target:
        raise ValueError(
            f"labels of shape {tuple(lazy.shape)} do not fit image {image.url} of shape "
            f"{image.shape} (axes {''.join(image.axes)}): give {target}"
        )
    if not np.issubdtype(lazy.dtype, np.integer):
        raise ValueError(f"labels must be integers, not {lazy.dtype}")
    fmt = format_from_version(image.version)
    pyramid = [
        _nearest(
            lazy, tuple(1 if a == "c" else s for a, s in zip(image.axes, lv.shape, strict=True))
        )
        for lv in image.levels
    ]
    labels_dir = root / "labels"
    metadata: dict[str, Any] = {"version": fmt.version, "source": {"image": "../../"}}
    if properties:
        metadata["properties"] = [dict(p) for p in properties]
    with se.atomic_dir(labels_dir / name) as tmp:
        group = zarr.open_group(str(tmp), mode="w", zarr_format=fmt.zarr_format)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            write_multiscale(
                [level.rechunk() for level in pyramid],
                group,
                fmt=fmt,
                axes=list(image.axes),
                scale=dict(zip(image.axes, image.scale, strict=True)),
                name=name,
            )
        add_metadata(group, {"image-label": metadata}, fmt=fmt)
    _register_label(labels_dir, name, fmt.version, fmt.zarr_format)
    return labels_dir / name
