"""Saving a cell-tracking result: a Cell Tracking Challenge folder or a GEFF store.

What is saved is what the Labels layer shows now (hand corrections included) with the
lineage of the run; tracks with gaps are split first (the CTC rules, also what GEFF
readers expect of a lineage). Both writers are atomic: a failed or cancelled save leaves
the previous file as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sam2_engine import ProgressCallback


EXPORT_KINDS = ("ctc", "geff")


def export_tracks(
    labels: Any,
    tracks: Sequence[Any],
    path: str | Path,
    kind: str,
    progress: ProgressCallback | None = None,
) -> Path:
    """Write tracked labels and their lineage.

    Parameters
    ----------
    labels
        (T, H, W) tracked labels (one id per track), read one frame at a time.
    tracks
        Their lineage (``sam2_cells.TrackRecord``); only the parents are used, spans are
        recomputed from ``labels``.
    path
        A result folder (``"ctc"``, e.g. ``01_RES``) or a store (``"geff"``,
        e.g. ``tracks.geff``), replaced when complete.
    kind
        ``"ctc"`` or ``"geff"``.
    progress
        ``progress(done, total)`` per frame written (CTC).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from sam2_cells import make_ctc_valid, write_ctc_results, write_geff

    if kind not in EXPORT_KINDS:
        raise ValueError(f"kind must be one of {EXPORT_KINDS}, got {kind!r}")
    valid_labels, valid_tracks = make_ctc_valid(labels, list(tracks))
    if kind == "ctc":
        return write_ctc_results(valid_labels, valid_tracks, path, progress=progress)
    return write_geff(valid_labels, valid_tracks, path, overwrite=True)
