"""Lineage records: one track of a cell lineage, and the lineage as a family tree.

:class:`TrackRecord` is the one lineage type of the project: the tracker produces it, the
CTC writer and reader exchange it (``L B E P`` lines of ``res_track.txt`` /
``man_track.txt``), napari's Tracks layer is built from it and the synthetic ground truth
carries it.

A lineage belongs to a tracked label stack, (T, H, W) integers with axis order
(time, row, col), 0 for background and one id per track. The Cell Tracking Challenge
(CTC) rules it must follow:

* each track's label is present in exactly the frames ``begin..end`` (contiguous),
* a daughter's parent is another, known track that ends before the daughter begins.

:func:`tracks_from_labels` builds the records from a stack and a parent map and
:class:`Lineage` answers family questions. Checks are in :mod:`sam2_cells.lineage_checks`,
the repair of tracks with gaps in :mod:`sam2_cells.ctc_relabel`, napari's Tracks data in
:mod:`sam2_cells.tracks_layer`. Stacks are read one frame at a time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from sam2_cells._frames import frame_at, stack_shape

__all__ = [
    "Lineage",
    "LineageError",
    "TrackRecord",
    "label_presence",
    "tracks_from_labels",
]

_MAX_LISTED = 8  # frames / labels listed in one message


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


class LineageError(ValueError):
    """A lineage that breaks the CTC rules; ``problems`` lists every broken rule."""

    def __init__(self, problems: Sequence[str], what: str = "lineage") -> None:
        self.problems = list(problems)
        shown = self.problems[:_MAX_LISTED]
        more = len(self.problems) - len(shown)
        text = f"the {what} breaks the Cell Tracking Challenge rules:\n  - " + "\n  - ".join(shown)
        if more:
            text += f"\n  ... and {more} more"
        super().__init__(text)


def _listed(values: Iterable[int]) -> str:
    values = list(values)
    text = ", ".join(str(v) for v in values[:_MAX_LISTED])
    return text + (f" (+{len(values) - _MAX_LISTED} more)" if len(values) > _MAX_LISTED else "")


def label_presence(labels: Any) -> dict[int, np.ndarray]:
    """The frames in which each label of a stack is present.

    Parameters
    ----------
    labels : array-like
        (T, H, W) integer labels, read one frame at a time.

    Returns
    -------
    dict of int to numpy.ndarray
        Label -> ascending ``int64`` frame numbers where it has at least one pixel.
    """
    n_frames = stack_shape(labels, "label stack")[0]
    frames: dict[int, list[int]] = {}
    for t in range(n_frames):
        for label in np.unique(frame_at(labels, t)):
            if label:
                frames.setdefault(int(label), []).append(t)
    return {label: np.asarray(ts, dtype=np.int64) for label, ts in sorted(frames.items())}


def tracks_from_labels(
    labels: Any,
    parents: Mapping[int, int] | None = None,
    *,
    presence: Mapping[int, np.ndarray] | None = None,
) -> list[TrackRecord]:
    """One :class:`TrackRecord` per label of a tracked stack.

    Parameters
    ----------
    labels : array-like
        (T, H, W) tracked integer labels (one id per track), read frame by frame.
    parents : mapping of int to int, optional
        Daughter label -> mother label; labels missing from it (or mapped to 0) have no
        parent. Not checked here: see :func:`check_lineage`.
    presence : mapping, optional
        The result of :func:`label_presence` when the caller already has it (saves a pass
        over the stack).

    Returns
    -------
    list of TrackRecord
        Sorted by label; ``begin``/``end`` are the first and last frame of each label
        (gaps are not detected here).
    """
    presence = label_presence(labels) if presence is None else presence
    parents = parents or {}
    return [
        TrackRecord(int(label), int(ts[0]), int(ts[-1]), int(parents.get(label, 0)))
        for label, ts in sorted(presence.items())
    ]


class Lineage:
    """A lineage indexed by label: parents, children, divisions, founders.

    Parameters
    ----------
    tracks : iterable of TrackRecord
        The records; labels must be unique.

    Examples
    --------
    >>> lin = Lineage([TrackRecord(1, 0, 4, 0), TrackRecord(2, 5, 9, 1),
    ...                TrackRecord(3, 5, 9, 1)])
    >>> lin.children(1), lin.divisions(), lin.root(3)
    ([2, 3], {1: [2, 3]}, 1)
    """

    def __init__(self, tracks: Iterable[TrackRecord]) -> None:
        records = sorted(TrackRecord(*(int(v) for v in rec)) for rec in tracks)
        self._by_label = {rec.label: rec for rec in records}
        if len(self._by_label) != len(records):
            counts = Counter(r.label for r in records)
            twice = sorted(label for label, n in counts.items() if n > 1)
            raise ValueError(f"labels listed more than once in the lineage: {_listed(twice)}")
        self._children: dict[int, list[int]] = {}
        for rec in records:
            if rec.parent:
                self._children.setdefault(rec.parent, []).append(rec.label)

    @property
    def tracks(self) -> list[TrackRecord]:
        """The records sorted by label."""
        return list(self._by_label.values())

    def __len__(self) -> int:
        return len(self._by_label)

    def __iter__(self) -> Iterator[TrackRecord]:
        return iter(self._by_label.values())

    def __contains__(self, label: object) -> bool:
        return label in self._by_label

    def __getitem__(self, label: int) -> TrackRecord:
        return self._by_label[label]

    def parent(self, label: int) -> int:
        """The mother's label, 0 for none."""
        return self._by_label[label].parent

    def children(self, label: int) -> list[int]:
        """Labels of the tracks whose parent is ``label``, ascending."""
        return list(self._children.get(label, []))

    def divisions(self) -> dict[int, list[int]]:
        """Mother -> daughters for every track with two or more children."""
        return {m: list(d) for m, d in sorted(self._children.items()) if len(d) >= 2}

    def roots(self) -> list[int]:
        """Labels of the founders: tracks without a (known) parent."""
        return [r.label for r in self if r.parent == 0 or r.parent not in self._by_label]

    def root(self, label: int) -> int:
        """The founder of the lineage that ``label`` belongs to."""
        seen = {label}
        while (parent := self._by_label[label].parent) in self._by_label:
            if parent in seen:
                raise ValueError(f"the lineage has a cycle through track {label}")
            seen.add(parent)
            label = parent
        return label

    def napari_graph(self) -> dict[int, list[int]]:
        """napari's Tracks-layer ``graph``: ``{daughter: [mother]}`` for known mothers."""
        return {r.label: [r.parent] for r in self if r.parent in self._by_label}

    def __repr__(self) -> str:
        return f"Lineage({len(self)} tracks, {len(self.divisions())} divisions)"
