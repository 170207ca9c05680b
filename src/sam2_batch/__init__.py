"""sam2_batch: OME-Zarr input/output and batch runs on Dask distributed, without a GUI.

It imports the engine's and the cells package's public surfaces only (an import-linter
contract checks it). Importing it is cheap (numpy); ``ome-zarr``, ``dask`` and
``distributed`` are imported when first used.

Modules
-------
* ``ome_read``: :class:`OmeImage` (multiscale levels, level choice, coordinates back to
  level 0), :func:`open_ome_image`, :func:`plate_images`, :func:`is_ome_zarr`.
* ``ome_write``: :func:`write_ome_labels` (a ``labels`` group beside the image, atomic).
"""

from sam2_batch.ome_read import (
    TARGET_DIAMETER,
    OmeImage,
    OmeLevel,
    is_ome_zarr,
    open_ome_image,
    plate_images,
)
from sam2_batch.ome_write import labels_shape, write_ome_labels

__all__ = [
    "TARGET_DIAMETER",
    "OmeImage",
    "OmeLevel",
    "is_ome_zarr",
    "labels_shape",
    "open_ome_image",
    "plate_images",
    "write_ome_labels",
]
