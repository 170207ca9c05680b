"""Hand edits of a lineage: they keep the CTC rules and relabel the right frames."""

from __future__ import annotations

import numpy as np
import pytest

from sam2_cells import LineageError, TrackRecord, check_lineage
from sam2_cells.lineage_edits import apply_relabels, mark_division, relink, split_track, unlink


def _stack():
    """Track 1 on frames 0-5 (left), track 2 on frames 3-5 (right)."""
    labels = np.zeros((6, 10, 20), np.int32)
    labels[:, 2:5, 2:5] = 1
    labels[3:, 2:5, 12:15] = 2
    return labels, [TrackRecord(1, 0, 5, 0), TrackRecord(2, 3, 5, 0)]


def test_marking_a_division_ends_the_mother_and_links_both_daughters():
    labels, tracks = _stack()
    out, steps = mark_division(tracks, mother=1, frame=3, daughters=[1, 2])
    apply_relabels(labels, steps)
    check_lineage(out, labels)
    assert TrackRecord(1, 0, 2, 0) in out
    daughters = [t for t in out if t.parent == 1]
    assert {(t.begin, t.end) for t in daughters} == {(3, 5)} and len(daughters) == 2
    assert not (labels[3:] == 1).any(), "the mother's label stops at her end"


def test_split_and_relink_and_unlink():
    labels, tracks = _stack()
    out, steps, new = split_track(tracks, 1, 4)
    apply_relabels(labels, steps)
    check_lineage(out, labels)
    assert (labels[4:] == new).any() and not (labels[4:] == 1).any()
    linked = relink(out, new, 1)
    assert next(t for t in linked if t.label == new).parent == 1
    check_lineage(linked, labels)
    assert next(t for t in unlink(linked, new) if t.label == new).parent == 0
    with pytest.raises(LineageError, match="must end before"):
        relink(out, 2, 1)  # track 1 (now 0-3) does not end before track 2 begins (3)


def test_bad_edits_say_why():
    _, tracks = _stack()
    with pytest.raises(LineageError, match="begins on frame"):
        mark_division(tracks, mother=2, frame=3, daughters=[1])
    with pytest.raises(LineageError, match="no track 9"):
        split_track(tracks, 9, 2)
    with pytest.raises(LineageError, match="can only be split"):
        split_track(tracks, 1, 0)


def test_relabel_hits_is_the_walk_apply_relabels_writes():
    """The plugin writes relabel_hits as undoable edits; scripts apply_relabels: the same
    pixels, later steps acting on earlier steps' results."""
    from sam2_cells import Relabel, relabel_hits

    labels, _ = _stack()
    steps = [Relabel(3, 5, 2, 7), Relabel(4, 5, 7, 9), Relabel(0, 1, 5, 6)]
    written = labels.copy()
    for t, frame, hit, new in relabel_hits(written, steps):
        assert frame[hit].size and (frame[hit] != new).all()
        plane = written[t].copy()
        plane[hit] = new
        written[t] = plane
    applied = labels.copy()
    apply_relabels(applied, steps)
    np.testing.assert_array_equal(written, applied)
    assert (applied[3] == 7).any() and (applied[4:] == 9).any() and not (applied == 6).any()
