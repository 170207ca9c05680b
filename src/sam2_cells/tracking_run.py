"""The one tracking entry point of the command line: a movie and seeds in, labels out.

:func:`run_tracking` builds the detector (and the model when the detection source, the
SAM 2 cue or point seeds need one), chooses where the labels go (memory, or a zarr array
in a temporary folder for movies whose labels would not fit comfortably:
:func:`~sam2_cells.label_io.new_label_stack`) and runs the
:class:`~sam2_cells.tracker.CellTracker`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sam2_cells.cell_size import describe_cell_size
from sam2_cells.detection import make_detector, needs_model
from sam2_cells.label_io import IN_MEMORY_BYTES, new_label_stack
from sam2_cells.lineage import TrackRecord
from sam2_cells.seeds import Seeds
from sam2_cells.tracker import CellTracker
from sam2_cells.tracker_settings import TrackerSettings
from sam2_engine import CancelCallback, ProgressCallback

__all__ = ["IN_MEMORY_BYTES", "run_tracking"]


def run_tracking(
    *,
    stack: Any,
    seeds: Seeds,
    model: str,
    device: str,
    progress: ProgressCallback | None = None,
    cancel: CancelCallback | None = None,
    detector: str = "auto",
    labels: Any = None,
    diameter: float | None = None,
    sam2_cue: bool = False,
    cache: str | None = None,
    split_merged: bool = True,
    textured: bool = False,
    report: Callable[[str], None] | None = None,
) -> tuple[Any, list[TrackRecord]]:
    """Segment and track every cell of a (T, H, W) movie.

    Parameters
    ----------
    stack
        (T, H, W) array-like, read one frame at a time.
    seeds
        Cells to add to the detections (see :class:`~sam2_cells.seeds.Seeds`).
    model
        A model name (``"default"``: ``sam2_engine.default_model_name()``) or a ``.pt``.
    device
        ``"auto"`` or a torch device name.
    progress, cancel
        ``progress(done, total)`` after every step; ``cancel()`` polled before each.
    detector
        ``"auto"``, ``"model"``, ``"classical"`` or ``"labels"`` (``labels`` given).
    labels
        (T, H, W) label stack for ``detector="labels"``.
    diameter
        Typical cell diameter in pixels (None: estimated).
    sam2_cue
        Use SAM 2's propagation as a linking cue.
    cache
        Folder of the on-disk embedding cache (``sam2_engine.EmbeddingCache``) for the
        SAM 2 sessions (the cue, point seeds): tracking the same movie again skips the
        encoder. None: no cache.
    split_merged
        Classical detections: split an object that holds two cells seen apart in the
        neighbouring frames (:class:`~sam2_cells.split_merged.SplitMergedDetector`; on by
        default, as in :class:`~sam2_cells.tracker_settings.TrackerSettings`).
    textured
        Classical detections: very textured nuclei, filled whole
        (:attr:`~sam2_cells.tracker_settings.TrackerSettings.textured`; off by default).
    report
        Called once, after the run, with a sentence on the cell size it used and where
        that came from (:func:`~sam2_cells.cell_size.describe_cell_size`), when it has one.

    Returns
    -------
    labels, tracks
        (T, H, W) int32 labels and their CTC lineage.
    """
    built = None
    if needs_model(detector, seeds.kind, sam2_cue):
        import sam2_engine as se

        name = se.default_model_name() if model == "default" else model
        built = se.build_model(name, device=None if device == "auto" else device)
    source = "classical" if detector == "labels" else detector
    settings = TrackerSettings(
        detection=source,
        diameter=diameter,
        sam2_cue=sam2_cue,
        split_merged=split_merged,
        textured=textured,
    )
    made = make_detector(
        detector,
        model=built,
        labels=labels,
        diameter=diameter,
        min_area=settings.min_area,
        split_merged=settings.split_merged,
        textured=settings.textured,
    )
    shape = tuple(int(s) for s in stack.shape)
    disk = None
    if cache is not None and built is not None:
        import sam2_engine as se

        disk = se.EmbeddingCache(cache)
    tracker = CellTracker(built, settings, detector=made, embedding_cache=disk)
    outcome = tracker.track(
        stack,
        seeds,
        new_label_stack(shape),
        progress=progress,
        cancel=cancel,  # type: ignore[arg-type]
    )
    said = describe_cell_size(made, diameter)
    if report is not None and said:
        report(said)
    return outcome.labels, outcome.tracks
