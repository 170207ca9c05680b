"""The Labels layer of a cell-tracking run: its undo and redo also restore the lineage.

A lineage edit (split, mark a division, set or clear a mother) changes pixels *and* the
track table. Both must be one undo step, whichever tracking layer is selected. napari's
Labels history keeps lists of "atoms" (changed pixels); a lineage edit adds one more
atom to its list: a :class:`LineageAtom`, which changes no pixel and carries the lineage
before and after the edit. :class:`TrackLabels` replays napari's history as usual and
then hands the carried lineage to its ``lineage_replayed`` callback. Hand painting on
the layer stays an ordinary undo step that leaves the lineage alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from napari.layers import Labels


@dataclass(frozen=True)
class LineageSnapshot:
    """What a lineage edit changes besides pixels.

    Attributes
    ----------
    tracks
        The lineage (``sam2_cells.TrackRecord`` tuple).
    points
        ``{frame: {label: (row, col)}}`` centroids of the frames the edit relabelled.
    state
        The resume state of the run (what **Continue** carries on from).
    """

    tracks: tuple
    points: dict[int, dict[int, tuple[float, float]]] = field(default_factory=dict)
    state: Any = None


class LineageAtom(tuple):
    """A history atom of napari's Labels layer that changes no pixel.

    It is a 3-tuple ``(indices, old values, new values)`` with empty arrays, as napari
    replays it, plus the lineage ``before`` and ``after`` the edit.
    """

    before: LineageSnapshot
    after: LineageSnapshot

    def __new__(cls, ndim: int, before: LineageSnapshot, after: LineageSnapshot) -> LineageAtom:
        empty = tuple(np.zeros(0, dtype=np.intp) for _ in range(ndim))
        atom = super().__new__(cls, (empty, np.zeros(0, np.int32), np.zeros(0, np.int32)))
        atom.before, atom.after = before, after
        return atom


class TrackLabels(Labels):
    """A napari Labels layer whose undo and redo also restore lineage edits.

    Attributes
    ----------
    lineage_replayed
        ``lineage_replayed(snapshot, undoing)`` after an undo or redo that took back or
        replayed a lineage edit (None: nobody listens).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lineage_replayed: Callable[[LineageSnapshot, bool], None] | None = None

    def record_lineage(self, before: LineageSnapshot, after: LineageSnapshot) -> None:
        """Add the lineage change to the history item being written.

        Inside :meth:`block_history` it joins that item (the relabelling of the same
        edit); outside it is an undo step of its own (an edit that moves no pixel).
        """
        self._save_history(LineageAtom(self.ndim, before, after))

    def undo(self) -> None:
        item = list(self._undo_history[-1]) if self._undo_history else []
        super().undo()
        self._replayed(item, undoing=True)

    def redo(self) -> None:
        item = list(self._redo_history[-1]) if self._redo_history else []
        super().redo()
        self._replayed(item, undoing=False)

    def _replayed(self, item: list, undoing: bool) -> None:
        atoms = [atom for atom in item if isinstance(atom, LineageAtom)]
        if atoms and self.lineage_replayed is not None:
            atom = atoms[0]
            self.lineage_replayed(atom.before if undoing else atom.after, undoing)
