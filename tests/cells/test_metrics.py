"""CTC scores from py-ctcmetrics: perfect results score 1, damage lowers the right measure."""

from __future__ import annotations

import numpy as np
import pytest

from sam2_cells import (
    Lineage,
    TrackingScores,
    check_lineage,
    score_arrays,
    score_ctc,
    tracks_from_labels,
    write_ctc_ground_truth,
    write_ctc_results,
)


def relabel(labels, tracks, changes, parents=None):
    """Apply ``{(from_frame, old): new}`` relabellings and rebuild the records."""
    out = labels.copy()
    for (t0, old), new in changes.items():
        part = labels[t0:]
        out[t0:][part == old] = new
    parent = {t.label: t.parent for t in tracks} | (parents or {})
    records = tracks_from_labels(out, parent)
    check_lineage(records, out)
    return out, records


@pytest.fixture(scope="module")
def perfect(sequence) -> TrackingScores:
    return score_arrays(sequence.labels, sequence.tracks, sequence.labels, sequence.tracks)


def test_a_perfect_result_scores_one(perfect, sequence):
    lineage = Lineage(sequence.tracks)
    for value in (perfect.det, perfect.seg, perfect.tra, perfect.lnk, perfect.ct, perfect.tf):
        assert value == pytest.approx(1.0)
    assert perfect.bc and all(v == pytest.approx(1.0) for v in perfect.bc.values())
    assert all(v == pytest.approx(1.0) for v in perfect.bio.values())
    assert perfect.gt_divisions == len(lineage.divisions())
    assert perfect.extra["AOGM"] == 0
    assert set(perfect.as_dict()) >= {"DET", "SEG", "TRA", "LNK", "BC(0)", "BIO(1)", "CCA"}


def test_a_missed_division_lowers_branching_correctness(perfect, sequence):
    lineage = Lineage(sequence.tracks)
    mother, (first, second) = next(
        (m, d) for m, d in lineage.divisions().items() if not any(map(lineage.children, d))
    )
    labels, tracks = relabel(
        sequence.labels, sequence.tracks, {(0, first): mother}, parents={second: 0}
    )
    scores = score_arrays(labels, tracks, sequence.labels, sequence.tracks)
    assert scores.det == pytest.approx(1.0)  # every cell is still found
    assert scores.tra < perfect.tra and scores.lnk < perfect.lnk
    assert scores.bc[0] < perfect.bc[0] and scores.bc[3] < perfect.bc[3]
    assert scores.extra["tp_div(0)"] == perfect.extra["tp_div(0)"] - 1


def test_a_dropped_cell_lowers_detection(perfect, sequence):
    lineage = Lineage(sequence.tracks)
    leaf = max(t.label for t in lineage if not lineage.children(t.label))
    labels = sequence.labels.copy()
    labels[labels == leaf] = 0
    tracks = [t for t in sequence.tracks if t.label != leaf]
    scores = score_arrays(labels, tracks, sequence.labels, sequence.tracks)
    assert scores.det < perfect.det and scores.tra < perfect.tra
    assert scores.seg < perfect.seg
    dropped = next(t for t in sequence.tracks if t.label == leaf)
    assert scores.extra["AOGM_FN"] == dropped.end - dropped.begin + 1  # one miss per frame


def test_a_swapped_identity_lowers_linking_only(perfect, sequence):
    lineage = Lineage(sequence.tracks)
    leaves = [t for t in lineage if not lineage.children(t.label)]
    a, b = next(
        (x, y)
        for x in leaves
        for y in leaves
        if x.label < y.label
        and (x.begin, x.end) == (y.begin, y.end)
        and x.end - x.begin >= 4
        and x.parent != y.parent
    )
    swap_at = a.begin + 2
    labels, tracks = relabel(
        sequence.labels, sequence.tracks, {(swap_at, a.label): b.label, (swap_at, b.label): a.label}
    )
    assert np.any(labels != sequence.labels) and tracks == sequence.tracks
    scores = score_arrays(labels, tracks, sequence.labels, sequence.tracks)
    assert scores.det == pytest.approx(1.0) and scores.seg == pytest.approx(1.0)
    assert scores.lnk < perfect.lnk and scores.tra < perfect.tra
    assert scores.bc == perfect.bc  # the divisions are untouched


def test_seg_is_none_without_segmentation_ground_truth(tmp_path, tiny):
    labels, tracks = tiny
    res = write_ctc_results(labels, tracks, tmp_path / "01_RES")
    gt = write_ctc_ground_truth(labels, tracks, tmp_path / "01_GT", seg_frames=[])
    scores = score_ctc(res, gt / "TRA")
    assert scores.seg is None and scores.tra == pytest.approx(1.0)
    assert "n/a" in scores.format_table()


def test_scoring_refuses_mismatched_or_invalid_folders(tmp_path, tiny, sequence):
    labels, tracks = tiny
    res = write_ctc_results(labels, tracks, tmp_path / "res")
    gt = write_ctc_ground_truth(sequence.labels, sequence.tracks, tmp_path / "gt")
    with pytest.raises(ValueError, match="6 mask frames but the ground truth 16"):
        score_ctc(res, gt)
    with pytest.raises(FileNotFoundError, match="no TRA/ folder"):
        score_ctc(res, tmp_path / "res")
    gt_tiny = write_ctc_ground_truth(labels, tracks, tmp_path / "gt_tiny")
    (res / "res_track.txt").write_text("1 0 2 0\n2 3 5 1\n3 3 5 1\n4 0 4 0\n")
    with pytest.raises(ValueError, match="not a valid CTC result"):
        score_ctc(res, gt_tiny)
