"""One batch task: segment or track one input, write its results atomically.

Runs inside a Dask worker process. The model is built once per process
(:func:`worker_model`, a cache keyed by the :class:`ModelSpec`) and reused by every task
that worker runs. :func:`run_item` never raises for a bad input: it returns a ``failed``
:class:`ItemResult` with one line naming the problem, so the other tasks go on.

Segment: every plane is segmented with the model's instance head when it has one
(``sam2_engine.InstanceSegmenter``), else with ``sam2_engine.AutomaticMaskGenerator``;
labels are mapped back to level 0 (OME-Zarr), written beside the image as the label
image ``sam2`` and as ``OUT/NAME.tif`` (written last: it marks the input as done).
Track: the cells of the (time, row, col) movie are tracked with ``sam2_cells.CellTracker``
and written as CTC results ``OUT/NAME/`` and as the label image ``sam2_tracks`` (its
``properties`` hold each track's first and last frame and parent).
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from typing import Any

import numpy as np

from sam2_batch.inputs import BatchItem
from sam2_batch.ome_write import write_ome_labels
from sam2_batch.settings import BatchSettings, ItemResult, ModelSpec
from sam2_batch.stacks import ItemStack, open_item

__all__ = ["is_done", "run_item", "worker_model"]

_MODELS: dict[ModelSpec, Any] = {}
_LOADS = 0


def worker_model(spec: ModelSpec) -> Any:
    """The model of ``spec``, built on first use in this process and kept."""
    global _LOADS
    if spec not in _MODELS:
        import torch

        import sam2_engine as se

        torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
        name = se.default_model_name() if spec.name == "default" else spec.name
        device = None if spec.device == "auto" else spec.device
        _MODELS[spec] = se.build_model(name, checkpoint=spec.checkpoint, device=device)
        _LOADS += 1
    return _MODELS[spec]


def is_done(item: BatchItem, settings: BatchSettings) -> bool:
    """Whether the item's result exists (a rerun skips it)."""
    out = settings.output_of(item.name)
    if settings.command == "segment":
        return out.is_file()
    return (out / "res_track.txt").is_file()


def _segment_plane(model: Any, plane: np.ndarray, settings: BatchSettings, factor: float) -> Any:
    import sam2_engine as se

    channel_axis = -1 if plane.ndim == 3 else None
    if se.has_instance_head(model):
        diameter = None if settings.diameter is None else settings.diameter / factor
        segmenter = se.InstanceSegmenter(model, diameter=diameter)
        return segmenter.segment(plane, channel_axis=channel_axis)
    generator = se.AutomaticMaskGenerator(model, points_per_side=settings.points_per_side)
    if settings.cache is not None:  # the generator's crops: read from / written to the cache
        generator.predictor.embedding_cache = se.EmbeddingCache(settings.cache)
    return generator.generate_labels(plane, channel_axis=channel_axis)


def _write_tiff(labels: Any, path: Any) -> None:
    import tifffile

    import sam2_engine as se

    values = np.asarray(labels)
    dtype = np.uint16 if values.size == 0 or values.max() <= np.iinfo(np.uint16).max else np.uint32
    with se.atomic_file(path, suffix=".tif") as tmp:
        tifffile.imwrite(tmp, values.astype(dtype), compression="zlib")


def _segment(item: BatchItem, stack: ItemStack, settings: BatchSettings) -> tuple[list[str], str]:
    model = worker_model(settings.model)
    planes = []
    for i in range(stack.planes.shape[0]):
        plane = np.asarray(stack.planes[i])
        planes.append(np.asarray(_segment_plane(model, plane, settings, stack.factor), np.int32))
    labels = np.stack(planes).reshape(*stack.lead_shape, *planes[0].shape)
    outputs = []
    if stack.image is not None:
        labels = np.asarray(stack.image.labels_to_level0(labels, stack.level))
        if settings.ome_labels:
            outputs.append(str(write_ome_labels(stack.image, labels, settings.ome_label_name)))
    target = settings.output_of(item.name)
    _write_tiff(labels, target)
    objects = sum(len(np.unique(p[p > 0])) for p in planes)
    return [str(target), *outputs], f"{len(planes)} planes, {objects} objects"


def _track(item: BatchItem, stack: ItemStack, settings: BatchSettings) -> tuple[list[str], str]:
    import sam2_cells
    import sam2_engine as se

    needs_model = settings.detector in ("auto", "model") or settings.sam2_cue
    model = worker_model(settings.model) if needs_model else None
    diameter = None if settings.diameter is None else settings.diameter / stack.factor
    tracker_settings = sam2_cells.TrackerSettings(
        detection=settings.detector,
        diameter=diameter,
        sam2_cue=settings.sam2_cue,
        split_merged=settings.split_merged,
        textured=settings.textured,
    )
    disk = None if settings.cache is None or model is None else se.EmbeddingCache(settings.cache)
    tracker = sam2_cells.CellTracker(model, tracker_settings, embedding_cache=disk)
    outcome = tracker.track(stack.planes, sam2_cells.Seeds("auto"))
    tracks = list(outcome.tracks)
    if not tracks:
        raise ValueError(f"no cell was found in any frame of {item.path}: nothing was written")
    labels = outcome.labels
    outputs = []
    if stack.image is not None:
        labels = stack.image.labels_to_level0(labels, stack.level)
        if settings.ome_labels:
            properties = [
                {
                    "label-value": t.label,
                    "first-frame": t.begin,
                    "last-frame": t.end,
                    "parent": t.parent,
                }
                for t in tracks
            ]
            image = stack.image  # labels in the image's axes, the channel left out
            ome_labels = labels.reshape(
                tuple(n for a, n in zip(image.axes, image.shape, strict=True) if a != "c")
            )
            path = write_ome_labels(
                stack.image, ome_labels, settings.ome_label_name, properties=properties
            )
            outputs.append(str(path))
    target = settings.output_of(item.name)
    sam2_cells.write_ctc_results(labels, tracks, target)
    divisions = len({t.parent for t in tracks if t.parent})
    return [str(target), *outputs], f"{len(tracks)} tracks, {divisions} divisions"


def run_item(item: BatchItem, settings: BatchSettings) -> ItemResult:
    """Segment or track one input and write its results; never raises for bad input.

    Parameters
    ----------
    item
        The input.
    settings
        What to do and where to write.

    Returns
    -------
    ItemResult
        ``done`` with the written paths, or ``failed`` with one line naming the problem.
    """
    start = time.perf_counter()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    try:
        stack = open_item(item, settings)
        run = _segment if settings.command == "segment" else _track
        outputs, summary = run(item, stack, settings)
    except Exception as exc:  # reported per input; the batch goes on
        text = (str(exc).strip() or type(exc).__name__).replace("\n", " ")
        if item.path not in text:
            text = f"{item.path}: {text}"
        if not isinstance(exc, (ValueError, OSError, TypeError)):
            text = f"{type(exc).__name__}: {text} ({traceback.format_exc(limit=-1).strip()})"
        return ItemResult(
            item.name,
            item.path,
            "failed",
            error=text,
            seconds=time.perf_counter() - start,
            worker=worker,
            model_loads=_LOADS,
        )
    return ItemResult(
        item.name,
        item.path,
        "done",
        tuple(outputs),
        seconds=time.perf_counter() - start,
        worker=worker,
        model_loads=_LOADS,
        summary=summary,
    )
