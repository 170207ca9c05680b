"""Lineage records: one track of a cell lineage, as the Cell Tracking Challenge writes it.

:class:`TrackRecord` is the one lineage type of the project: the tracker produces it, the
CTC writer and reader exchange it (``L B E P`` lines of ``res_track.txt`` /
``man_track.txt``), napari's Tracks layer is built from it and the synthetic ground truth
carries it.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["TrackRecord"]


class TrackRecord(NamedTuple):
    """One track of a lineage: the ``L B E P`` line of a Cell Tracking Challenge track file.

    Attributes
    ----------
    label : int
        Label id of the track in every frame where it is present.
    begin, end : int
        First and last frame (inclusive) where the label is present.
    parent : int
        Label of the mother track, 0 for a track that has no parent in the movie.
    """

    label: int
    begin: int
    end: int
    parent: int

    def to_ctc(self) -> str:
        """Return the ``"L B E P"`` line (without newline) of a CTC track file."""
        return f"{self.label} {self.begin} {self.end} {self.parent}"
