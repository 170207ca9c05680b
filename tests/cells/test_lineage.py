"""Lineage utilities: building records, CTC checks, repairing gaps, napari Tracks data."""

from __future__ import annotations

import numpy as np
import pytest

from sam2_cells import (
    LazyStack,
    Lineage,
    LineageError,
    TrackRecord,
    check_lineage,
    label_presence,
    lineage_problems,
    make_ctc_valid,
    tracks_from_labels,
    tracks_layer_data,
)


def test_tracks_from_labels_uses_the_stack_and_the_parent_map(tiny):
    labels, tracks = tiny
    assert tracks_from_labels(labels, {2: 1, 3: 1}) == tracks
    assert tracks_from_labels(labels) == [t._replace(parent=0) for t in tracks]


def test_tracks_from_a_synthetic_stack_match_its_ground_truth(sequence):
    parents = {t.label: t.parent for t in sequence.tracks}
    assert tracks_from_labels(sequence.labels, parents) == sequence.tracks
    check_lineage(sequence.tracks, sequence.labels)


def test_a_valid_lineage_has_no_problems(tiny):
    labels, tracks = tiny
    assert lineage_problems(tracks, labels) == []
    check_lineage(tracks, labels)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda t: [*t[:3], TrackRecord(4, 0, 5, 4)], "is its own parent"),
        (lambda t: [t[0], t[1]._replace(parent=9), *t[2:]], "parent 9 is not a track"),
        (lambda t: [t[0]._replace(end=3), *t[1:]], "a mother must end before"),
        (lambda t: [*t, TrackRecord(1, 0, 2, 0)], "listed twice"),
        (lambda t: [t[0], t[1]._replace(begin=5, end=4), *t[2:]], "ends (frame 4) before it"),
        (lambda t: t[:3], "label(s) 4 are in the stack but have no track"),
        (lambda t: [*t, TrackRecord(7, 0, 1, 0)], "label 7 is in no frame"),
        (lambda t: [*t[:3], TrackRecord(4, 1, 5, 0)], "present in frame(s) 0 outside"),
        (lambda t: [*t[:3], TrackRecord(4, 0, 6, 0)], "the stack has 6 frames"),
    ],
)
def test_lineage_problems_name_the_broken_rule(tiny, change, words):
    labels, tracks = tiny
    problems = lineage_problems(change(tracks), labels)
    assert any(words in p for p in problems), problems
    with pytest.raises(LineageError, match="Cell Tracking Challenge rules") as info:
        check_lineage(change(tracks), labels)
    assert info.value.problems == problems


def test_a_gap_is_reported_with_its_frames(tiny):
    labels, tracks = tiny
    labels = labels.copy()
    labels[2:4][labels[2:4] == 4] = 0
    problems = lineage_problems(tracks, labels)
    assert problems == [
        "track 4: label missing from frame(s) 2, 3 of its span 0-5 (a track's frames must be "
        "contiguous; make_ctc_valid splits such tracks)"
    ]


def test_records_alone_can_be_checked_without_a_stack():
    assert lineage_problems([TrackRecord(1, 0, 3, 0), TrackRecord(2, 4, 6, 1)]) == []
    assert lineage_problems([TrackRecord(0, 0, 3, 0)]) == [
        "track 0: labels must be positive integers"
    ]


def test_label_presence_lists_frames_per_label(tiny):
    labels, _ = tiny
    presence = label_presence(labels)
    assert sorted(presence) == [1, 2, 3, 4]
    np.testing.assert_array_equal(presence[1], [0, 1, 2])
    np.testing.assert_array_equal(presence[4], np.arange(6))


def test_make_ctc_valid_splits_gaps_into_parent_linked_tracks(tiny):
    labels, _ = tiny
    gappy = labels.copy()
    gappy[1][gappy[1] == 1] = 0  # track 1 missing in frame 1: runs 0 and 2
    gappy[3:5][gappy[3:5] == 4] = 0  # track 4 missing in frames 3-4: runs 0-2 and 5
    stack, tracks = make_ctc_valid(gappy, {2: 1, 3: 1})
    assert isinstance(stack, LazyStack) and stack.shape == gappy.shape
    assert tracks == [
        TrackRecord(1, 0, 0, 0),
        TrackRecord(2, 3, 5, 5),  # daughters hang from the mother's last piece
        TrackRecord(3, 3, 5, 5),
        TrackRecord(4, 0, 2, 0),
        TrackRecord(5, 2, 2, 1),
        TrackRecord(6, 5, 5, 4),
    ]
    relabelled = np.asarray(stack)
    assert set(np.unique(relabelled[2])) == {0, 4, 5}
    assert set(np.unique(relabelled[5])) == {0, 2, 3, 6}
    np.testing.assert_array_equal(relabelled > 0, gappy > 0)
    check_lineage(tracks, stack)


def test_make_ctc_valid_reads_frames_lazily(tiny):
    labels, tracks = tiny
    reads: list[int] = []

    class Counting:
        shape, dtype = labels.shape, labels.dtype

        def __getitem__(self, t):
            reads.append(t)
            return labels[t]

    stack, fixed = make_ctc_valid(Counting(), tracks)
    assert fixed == tracks
    assert reads == list(range(6))  # one pass to find the tracks
    reads.clear()
    np.testing.assert_array_equal(stack[4], labels[4])
    assert reads == [4]


def test_make_ctc_valid_drops_impossible_parent_links_with_a_warning(tiny):
    labels, _ = tiny
    with pytest.warns(UserWarning, match="2<-4"):
        _, tracks = make_ctc_valid(labels, {2: 4, 3: 1, 1: 1})
    assert {t.label: t.parent for t in tracks} == {1: 0, 2: 0, 3: 1, 4: 0}


def test_lineage_helper_answers_family_questions(tiny):
    _, tracks = tiny
    lin = Lineage(tracks)
    assert len(lin) == 4 and 3 in lin and lin[2] == tracks[1]
    assert lin.children(1) == [2, 3] and lin.children(4) == []
    assert lin.divisions() == {1: [2, 3]}
    assert lin.roots() == [1, 4]
    assert lin.root(3) == 1 and lin.parent(3) == 1
    assert lin.napari_graph() == {2: [1], 3: [1]}
    with pytest.raises(ValueError, match="more than once"):
        Lineage([*tracks, tracks[0]])


def test_tracks_layer_data_is_what_napari_expects(tiny):
    labels, tracks = tiny
    data, graph = tracks_layer_data(labels, tracks)
    assert data.shape == (3 + 3 + 3 + 6, 4)
    order = np.lexsort((data[:, 1], data[:, 0]))
    np.testing.assert_array_equal(order, np.arange(len(data)))  # sorted by track, time
    first = data[data[:, 0] == 1][0]
    np.testing.assert_allclose(first, [1, 0, 1.5, 1.5])
    assert graph == {2: [1], 3: [1]}
    data2, graph2 = tracks_layer_data(labels)
    np.testing.assert_array_equal(data, data2)
    assert graph2 == {}
