"""Editing a lineage by hand: split a track, mark a division, unlink or re-link one.

Every edit takes the records and returns new ones (the input is not changed) together
with the relabelling it needs, as :class:`Relabel` steps (frames ``first..last`` of label
``old`` become ``new``). The caller applies those to its label stack (the napari plugin
through undoable Labels edits, scripts with :func:`apply_relabels`). The results keep the
CTC rules: contiguous tracks, daughters beginning the frame after their mother ends.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sam2_cells.lineage import LineageError, TrackRecord

__all__ = [
    "Relabel",
    "apply_relabels",
    "mark_division",
    "relabel_hits",
    "relink",
    "split_track",
    "unlink",
]


@dataclass(frozen=True)
class Relabel:
    """Frames ``first .. last`` (inclusive): pixels of ``old`` become ``new``."""

    first: int
    last: int
    old: int
    new: int


def _find(tracks: Sequence[TrackRecord], label: int) -> TrackRecord:
    for t in tracks:
        if t.label == label:
            return t
    raise LineageError([f"there is no track {label}"])


def _next_label(tracks: Sequence[TrackRecord]) -> int:
    return max((t.label for t in tracks), default=0) + 1


def split_track(
    tracks: Sequence[TrackRecord], label: int, frame: int, parent: int | None = None
) -> tuple[list[TrackRecord], list[Relabel], int]:
    """Track ``label`` ends at ``frame - 1``; from ``frame`` on it is a new track.

    Parameters
    ----------
    tracks
        The lineage.
    label
        The track to split; it must be present before ``frame`` and on it.
    frame
        First frame of the new track.
    parent
        Parent of the new track (default: none; daughters of ``label`` move to it).

    Returns
    -------
    tracks, relabels, new_label
    """
    old = _find(tracks, label)
    if not old.begin < frame <= old.end:
        raise LineageError(
            [
                f"track {label} spans frames {old.begin}-{old.end}; it can only be split on a "
                f"frame after its first one, up to its last ({frame} is not)"
            ]
        )
    new = _next_label(tracks)
    out = []
    for t in tracks:
        if t.label == label:
            out.append(t._replace(end=frame - 1))
        elif t.parent == label:
            out.append(t._replace(parent=new))  # daughters belong to the later part
        else:
            out.append(t)
    out.append(TrackRecord(new, frame, old.end, 0 if parent is None else parent))
    return sorted(out, key=lambda t: t.label), [Relabel(frame, old.end, label, new)], new


def mark_division(
    tracks: Sequence[TrackRecord], mother: int, frame: int, daughters: Sequence[int]
) -> tuple[list[TrackRecord], list[Relabel]]:
    """``mother`` divides on ``frame`` into ``daughters`` (one or two labels there).

    The mother's track ends at ``frame - 1``. A daughter that already existed before
    ``frame`` (e.g. the mother's own track continuing, or a neighbour's) is split: from
    ``frame`` on it is a new track with the mother as parent.

    Returns
    -------
    tracks, relabels
    """
    if not 1 <= len(daughters) <= 2 or mother in daughters[1:]:
        raise LineageError(["mark one or two daughters (the mother may be the first)"])
    m = _find(tracks, mother)
    if m.begin >= frame:
        raise LineageError(
            [f"track {mother} begins on frame {m.begin}: it cannot divide on frame {frame}"]
        )
    out, relabels = list(tracks), []
    for d in daughters:
        t = _find(out, d)
        if not t.begin <= frame <= t.end:
            raise LineageError([f"track {d} is not present on frame {frame}"])
        if t.begin < frame:
            out, steps, d = split_track(out, d, frame, parent=mother)
            relabels += steps
        else:
            out = [x._replace(parent=mother) if x.label == d else x for x in out]
    m = _find(out, mother)
    if m.end >= frame:
        out, steps, _ = split_track(out, mother, frame)  # what stays of the mother: a new track
        relabels += steps
    return out, relabels


def unlink(tracks: Sequence[TrackRecord], daughter: int) -> list[TrackRecord]:
    """``daughter`` loses its parent (e.g. a false division)."""
    _find(tracks, daughter)
    return [t._replace(parent=0) if t.label == daughter else t for t in tracks]


def relink(tracks: Sequence[TrackRecord], daughter: int, parent: int) -> list[TrackRecord]:
    """``daughter`` gets ``parent``, which must end the frame before it begins."""
    d, p = _find(tracks, daughter), _find(tracks, parent)
    if p.end >= d.begin or daughter == parent:
        raise LineageError(
            [
                f"track {parent} ends on frame {p.end} and track {daughter} begins on "
                f"{d.begin}: a mother must end before her daughter begins"
            ]
        )
    return [t._replace(parent=parent) if t.label == daughter else t for t in tracks]


def relabel_hits(
    labels: Any, relabels: Sequence[Relabel]
) -> Iterator[tuple[int, np.ndarray, np.ndarray, int]]:
    """The pixels that relabelling steps change, frame by frame: the one walk over them.

    Parameters
    ----------
    labels : array-like
        (T, H, W) label stack (numpy, zarr, or what a Labels layer holds), read one frame
        at a time when the walk reaches it, so a caller that writes each hit before
        asking for the next sees later steps act on earlier ones' results.
    relabels : sequence of Relabel
        The steps, in order.

    Yields
    ------
    t : int
        The frame.
    frame : numpy.ndarray
        (H, W) its labels as read (do not modify it).
    hit : numpy.ndarray
        (H, W) bool, the pixels of ``step.old``; frames without any are skipped.
    new : int
        The label they take.
    """
    for step in relabels:
        for t in range(step.first, step.last + 1):
            frame = np.asarray(labels[t])
            hit = frame == step.old
            if hit.any():
                yield t, frame, hit, step.new


def apply_relabels(labels: Any, relabels: Sequence[Relabel]) -> None:
    """Apply relabelling steps to a writable (T, H, W) stack (numpy or zarr), in place.

    The plugin writes the same :func:`relabel_hits` as undoable Labels edits instead.
    """
    for t, frame, hit, new in relabel_hits(labels, relabels):
        frame = frame.copy()
        frame[hit] = new
        labels[t] = frame
