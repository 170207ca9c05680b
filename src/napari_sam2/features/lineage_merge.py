"""Merging two pieces of one cell's track (a track the tracker broke in two).

:func:`merge_tracks` is a lineage edit in the form of :mod:`sam2_cells.lineage_edits`
(new records and the relabelling they need, the input unchanged), so the plugin applies
it as one undo step like the others (:func:`~.lineage_curation.apply_lineage_edit`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["merge_tracks"]


def merge_tracks(tracks: Sequence[Any], a: int, b: int) -> tuple[list[Any], list[Any]]:
    """Merge tracks ``a`` and ``b`` into one: the later piece takes the earlier's label.

    The earlier track (the one that begins first) keeps its label and its mother and now
    ends where the later one ended; the later track's pixels are relabelled and its
    daughters become the earlier track's. The pieces must follow each other without a
    gap (a track is continuous in the Cell Tracking Challenge format: over a gap, make the
    earlier track the mother of the later instead) and the earlier must not divide.

    Parameters
    ----------
    tracks
        The lineage (``sam2_cells.TrackRecord`` records).
    a, b
        The labels of the two pieces, in either order.

    Returns
    -------
    tracks, relabels
        The new records (sorted by label) and the ``sam2_cells.Relabel`` step that gives
        the later piece's pixels the earlier's label.

    Raises
    ------
    sam2_cells.LineageError
        A track is missing, ``a == b``, the pieces overlap or leave a gap, or the earlier
        one divides; its ``problems`` say which in one sentence.

    Examples
    --------
    >>> from sam2_cells import TrackRecord
    >>> out, steps = merge_tracks([TrackRecord(1, 0, 4, 0), TrackRecord(2, 5, 9, 0)], 2, 1)
    >>> out, steps[0].old, steps[0].new
    ([TrackRecord(label=1, begin=0, end=9, parent=0)], 2, 1)
    """
    from sam2_cells import LineageError, Relabel

    by_label = {t.label: t for t in tracks}
    for label in (a, b):
        if label not in by_label:
            raise LineageError([f"there is no track {label}"])
    if a == b:
        raise LineageError([f"track {a} cannot be merged with itself: give another track"])
    first, later = sorted((by_label[a], by_label[b]), key=lambda t: (t.begin, t.label))
    if later.begin <= first.end:
        raise LineageError(
            [f"tracks {first.label} (frames {first.begin}-{first.end}) and {later.label} "
             f"(frames {later.begin}-{later.end}) overlap: split one of them first"]
        )
    if later.begin > first.end + 1:
        raise LineageError(
            [f"track {later.label} begins on frame {later.begin}, more than one frame after "
             f"track {first.label} ends ({first.end}): a track cannot have a gap; make "
             f"track {first.label} its mother instead"]
        )
    daughters = sorted(t.label for t in tracks if t.parent == first.label)
    if daughters:
        raise LineageError(
            [f"track {first.label} divides into {', '.join(map(str, daughters))}: unmark "
             "the division before merging a track after it"]
        )
    out = []
    for t in tracks:
        if t.label == later.label:
            continue
        if t.label == first.label:
            t = t._replace(end=later.end)
        elif t.parent == later.label:
            t = t._replace(parent=first.label)  # the later piece's daughters
        out.append(t)
    steps = [Relabel(later.begin, later.end, later.label, first.label)]
    return sorted(out, key=lambda t: t.label), steps
