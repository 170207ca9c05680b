"""sam2_batch: OME-Zarr input/output and batch runs on Dask distributed, without a GUI.

It imports the engine's and the cells package's public surfaces only (an import-linter
contract checks it). Importing it is cheap (numpy); ``ome-zarr``, ``dask`` and
``distributed`` are imported when first used.

Modules
-------
* ``ome_read``: :class:`OmeImage` (multiscale levels, level choice, coordinates back to
  level 0), :func:`open_ome_image`, :func:`plate_images`, :func:`is_ome_zarr`.
* ``ome_write``: :func:`write_ome_labels` (a ``labels`` group beside the image, atomic).
* ``inputs``: :func:`expand_inputs` (files, globs, plates -> :class:`BatchItem`).
* ``settings``: :class:`BatchSettings`, :class:`ModelSpec`, :class:`ItemResult`.
* ``tasks``: :func:`run_item` (one input, on a worker; one model per worker process).
* ``runner``: :func:`run_batch` (a LocalCluster or a running scheduler).
* ``cli``: ``napari-sam2 segment|track INPUTS... --out DIR``.
"""

from sam2_batch.inputs import BatchItem, expand_inputs
from sam2_batch.ome_read import (
    TARGET_DIAMETER,
    OmeImage,
    OmeLevel,
    is_ome_zarr,
    open_ome_image,
    plate_images,
)
from sam2_batch.ome_write import labels_shape, write_ome_labels
from sam2_batch.runner import run_batch
from sam2_batch.settings import BatchSettings, ItemResult, ModelSpec
from sam2_batch.tasks import run_item

__all__ = [
    "TARGET_DIAMETER",
    "BatchItem",
    "BatchSettings",
    "ItemResult",
    "ModelSpec",
    "OmeImage",
    "OmeLevel",
    "expand_inputs",
    "is_ome_zarr",
    "labels_shape",
    "open_ome_image",
    "plate_images",
    "run_batch",
    "run_item",
    "write_ome_labels",
]
