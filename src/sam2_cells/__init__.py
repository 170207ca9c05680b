"""sam2_cells: cell biology on top of the SAM 2 engine, without a GUI.

Lineage records, Cell Tracking Challenge (CTC) input/output and, built on
:mod:`sam2_engine`, the cell tracker, divisions, GEFF export, metrics and the
``napari-sam2`` command line. It imports the engine's public surface only (never
napari, Qt or the plugin), so scripts and clusters can use it headless. Importing it is
cheap: numpy only; tifffile, zarr, geff and py-ctcmetrics are imported when first used.

Stacks are (time, row, col) arrays read one frame at a time (numpy, dask, zarr, memory
maps or :class:`LazyStack`), label 0 is background and one label id is one track.

Modules
-------
* ``lineage``: :class:`TrackRecord` (the one lineage record), :class:`Lineage`, building
  (:func:`tracks_from_labels`), checking (:func:`check_lineage`, :func:`lineage_problems`),
  repairing (:func:`make_ctc_valid`) and napari Tracks data (:func:`tracks_layer_data`).
* ``ctc``: CTC ground-truth data sets (movie + GT) and finding their sequences.
* ``ctc_results``: CTC result / ground-truth folders written atomically, read lazily,
  validated (:func:`write_ctc_results`, :func:`read_ctc_results`, :func:`ctc_validate`).
* ``label_io``: TIFF / zarr / frame-folder stacks, read lazily, written atomically.
* ``seeds``: tracking seeds (auto, a label image, points) checked against the movie.
* ``geff_io``: the tracking graph as GEFF (:func:`write_geff`).
* ``metrics``: CTC scores by py-ctcmetrics (:func:`score_ctc`, :func:`score_arrays`).
* ``detection``: the :class:`Detector` protocol and its sources: a label stack the user
  brings, the classical nuclei detector (``classical``), the SAM 2 model;
  ``detector_options``: which detection option applies to which source
  (:func:`check_textured`, :func:`textured_applies`).
* ``linking``: the ``Linker`` seam and the global LAP linker (laptrack: gap closing,
  divisions); ``evidence``: SAM 2 carrying each detection one frame on (the link cue).
* ``tracker``: :class:`CellTracker` (detect every frame, link globally, write
  CTC-valid tracks), :class:`TrackerSettings`, :class:`TrackingOutcome`,
  :class:`FrameDone`; loaded on first use.
* ``lineage_edits``: undoable-by-value lineage corrections (:func:`mark_division`,
  :func:`unlink`, :func:`relink`, :func:`split_track`).
* ``cli``: the ``napari-sam2`` command line.
"""

import lazy_loader as lazy

from sam2_cells._frames import LazyStack
from sam2_cells.ctc import CtcSequence, find_ctc_sequences, is_ctc_folder, write_ctc_dataset
from sam2_cells.ctc_relabel import make_ctc_valid
from sam2_cells.ctc_results import (
    ctc_validate,
    read_ctc_ground_truth,
    read_ctc_results,
    read_track_file,
    write_ctc_ground_truth,
    write_ctc_results,
    write_track_file,
)
from sam2_cells.detector_options import check_textured, textured_applies
from sam2_cells.geff_io import TrackingGraph, tracking_graph, write_geff
from sam2_cells.label_io import (
    new_label_stack,
    read_image_stack,
    read_label_stack,
    write_label_stack,
)
from sam2_cells.lineage import (
    Lineage,
    LineageError,
    TrackRecord,
    label_presence,
    tracks_from_labels,
)
from sam2_cells.lineage_checks import check_lineage, lineage_problems
from sam2_cells.lineage_edits import (
    Relabel,
    apply_relabels,
    mark_division,
    relabel_hits,
    relink,
    split_track,
    unlink,
)
from sam2_cells.metrics import TrackingScores, score_arrays, score_ctc
from sam2_cells.seeds import Seeds, read_seeds
from sam2_cells.tracker_settings import TrackerSettings
from sam2_cells.tracks_layer import tracks_layer_data

# The tracker and the detectors import the engine (torch): loaded when first asked for
# (SPEC 1 lazy loading, ``lazy_loader``), so that ``import sam2_cells`` stays cheap for
# I/O and scoring.
__getattr__ = lazy.attach(
    __name__,
    submod_attrs={
        "tracker": ["CellTracker", "FrameDone", "TrackingOutcome"],
        "detection": ["Detector", "LabelStackDetector", "ClassicalDetector", "ModelDetector"],
        "cell_size": ["CellSize", "describe_cell_size"],
    },
)[0]


__all__ = [
    "CellSize",
    "CellTracker",
    "ClassicalDetector",
    "CtcSequence",
    "Detector",
    "FrameDone",
    "LabelStackDetector",
    "LazyStack",
    "Lineage",
    "LineageError",
    "ModelDetector",
    "Relabel",
    "Seeds",
    "TrackRecord",
    "TrackerSettings",
    "TrackingGraph",
    "TrackingOutcome",
    "TrackingScores",
    "apply_relabels",
    "check_lineage",
    "check_textured",
    "ctc_validate",
    "describe_cell_size",
    "find_ctc_sequences",
    "is_ctc_folder",
    "label_presence",
    "lineage_problems",
    "make_ctc_valid",
    "mark_division",
    "new_label_stack",
    "read_ctc_ground_truth",
    "read_ctc_results",
    "read_image_stack",
    "read_label_stack",
    "read_seeds",
    "read_track_file",
    "relabel_hits",
    "relink",
    "score_arrays",
    "score_ctc",
    "split_track",
    "textured_applies",
    "tracking_graph",
    "tracks_from_labels",
    "tracks_layer_data",
    "unlink",
    "write_ctc_dataset",
    "write_ctc_ground_truth",
    "write_ctc_results",
    "write_geff",
    "write_label_stack",
    "write_track_file",
]
