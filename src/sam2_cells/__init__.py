"""sam2_cells: cell biology on top of the SAM 2 engine, without a GUI.

Lineage records, Cell Tracking Challenge (CTC) input/output and, built on
:mod:`sam2_engine`, the cell tracker, divisions, GEFF export, metrics and the
``napari-sam2`` command line. It imports the engine's public surface only (never
napari, Qt or the plugin), so scripts and clusters can use it headless.
"""

from sam2_cells.ctc import CtcSequence, find_ctc_sequences, is_ctc_folder, write_ctc_dataset
from sam2_cells.lineage import TrackRecord

__all__ = [
    "CtcSequence",
    "TrackRecord",
    "find_ctc_sequences",
    "is_ctc_folder",
    "write_ctc_dataset",
]
