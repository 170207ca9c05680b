"""The cell tracker: detections from any source, global LAP linking, CTC-valid lineage,
resume after a cancel. Ground-truth labels stand in for the detector (the linker's upper
bound), so these assertions are about detection plumbing and linking, not a model."""

from __future__ import annotations

import numpy as np
import pytest

from sam2_cells import Seeds, check_lineage, score_arrays
from sam2_cells.detection import LabelStackDetector
from sam2_cells.linking import Cue
from sam2_cells.tracker import CellTracker, check_movie, merge_seed_labels
from sam2_cells.tracker_settings import TrackerSettings
from sam2_synthetic import microscopy_timelapse


@pytest.fixture(scope="module")
def movie():
    return microscopy_timelapse(14, (96, 96), seed=8, modality="nuclear", n_cells=6)


def given(movie) -> CellTracker:
    """A tracker whose detections are the movie's ground truth."""
    return CellTracker(None, TrackerSettings(detection="classical", min_area=1),
                       detector=LabelStackDetector(movie.labels))


def test_perfect_detections_give_a_nearly_perfect_ctc_valid_lineage(movie):
    out = given(movie).track(movie.movie)
    check_lineage(out.tracks, out.labels)
    assert out.frames_done == 14 and not out.cancelled
    s = score_arrays(out.labels, out.tracks, movie.labels, movie.tracks, gt_seg=movie.labels)
    assert s.tra > 0.95 and s.seg > 0.95
    assert any(t.parent for t in out.tracks), "the divisions are found"


def test_lineage_passes_the_ctc_organisers_validator(movie, tmp_path):
    from sam2_cells import ctc_validate, write_ctc_results

    out = given(movie).track(movie.movie)
    write_ctc_results(out.labels, out.tracks, tmp_path / "01_RES")
    assert ctc_validate(tmp_path / "01_RES") == []


def test_frames_report_detections_then_tracks(movie):
    steps = list(given(movie).steps(movie.movie))
    stages = [s.stage for s in steps]
    assert stages == ["detected"] * 13 + ["tracked"] * 14
    assert [s.progress[0] for s in steps] == [*range(1, 14), *range(15, 29)]
    assert steps[0].tracks == [] and steps[-1].tracks


@pytest.mark.parametrize("stop_after", [3, 13, 20])
def test_a_cancelled_run_resumed_equals_an_uninterrupted_one(movie, stop_after):
    whole = given(movie).track(movie.movie)
    out = np.zeros(movie.labels.shape, np.int32)
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > stop_after

    first = given(movie).track(movie.movie, out=out, cancel=cancel)
    assert first.cancelled and first.frames_done < 14
    rest = given(movie).track(movie.movie, out=out, resume=first.state)
    assert rest.frames_done == 14
    np.testing.assert_array_equal(rest.labels, whole.labels)
    assert rest.tracks == whole.tracks


def test_seed_labels_replace_frame_0_detections_where_they_lie(movie):
    found = np.zeros((8, 8), np.int32)
    found[0:2, 0:2] = 1  # under the seed: replaced
    found[5:7, 5:7] = 2  # elsewhere: kept
    seeds = np.zeros((8, 8), np.int32)
    seeds[0:3, 0:3] = 7
    merged = merge_seed_labels(seeds, found)
    assert set(np.unique(merged)) == {0, 1, 2}
    assert (merged[0:3, 0:3] == 1).all() and (merged[5:7, 5:7] == 2).all()


def test_a_cue_lowers_the_cost_of_the_link_it_supports():
    """Two cells pass each other faster than the distance alone can tell; a cue that
    says where each went links them right."""
    from sam2_cells.linking import FrameCells, LapLinker, LinkSettings

    a = FrameCells(np.array([[10.0, 10.0], [10.0, 20.0]]), np.array([50, 50]))
    b = FrameCells(np.array([[10.0, 19.0], [10.0, 11.0]]), np.array([50, 50]))  # crossed
    cue = Cue({(0, 0): 0.9, (1, 1): 0.9}, {(0, 0): 0.9, (1, 1): 0.9})
    settings = LinkSettings(max_speed=1.2, cue_weight=1.0, divisions=False, gap_frames=0)
    plain = LapLinker(settings).link([a, b], [None, None], 10.0)
    cued = LapLinker(settings).link([a, b], [None, cue], 10.0)
    assert plain.luts[1][2] == plain.luts[0][1]  # by distance: each to the nearest
    assert cued.luts[1][1] == cued.luts[0][1] and cued.luts[1][2] == cued.luts[0][2]


def test_the_cue_source_is_asked_for_each_frame_pair(movie):
    asked = []

    class Recorder:
        def cue(self, movie_, t, before, now):
            asked.append(t)
            assert before.shape == now.shape == movie.labels.shape[1:]
            return Cue()

    tracker = CellTracker(None, TrackerSettings(detection="classical"),
                          detector=LabelStackDetector(movie.labels), cue=Recorder())
    tracker.track(movie.movie)
    assert asked == list(range(1, 14))


def test_short_isolated_tracks_are_dropped_but_not_at_the_movie_ends():
    from sam2_cells.linking import FrameCells, LapLinker, LinkSettings

    frames = [FrameCells(np.array([[5.0, 5.0]]), np.array([20])) for _ in range(6)]
    frames[2] = FrameCells(np.array([[5.0, 5.0], [40.0, 40.0]]), np.array([20, 20]))  # blip
    keep = LapLinker(LinkSettings(min_track_length=1)).link(frames, [None] * 6, 5.0)
    drop = LapLinker(LinkSettings(min_track_length=3)).link(frames, [None] * 6, 5.0)
    assert len(keep.tracks) == 2 and len(drop.tracks) == 1
    assert drop.luts[2][2] == 0


def test_a_single_frame_movie_cannot_be_tracked():
    with pytest.raises(ValueError, match="at least 2 frames"):
        check_movie(np.zeros((1, 8, 8)))


def test_points_need_a_model_when_they_fall_on_no_detection(movie):
    seeds = Seeds("points", points=np.array([[0.0, 0.0, 0.0]]))
    empty = np.zeros_like(movie.labels)
    tracker = CellTracker(None, TrackerSettings(detection="classical"),
                          detector=LabelStackDetector(empty))
    with pytest.raises(ValueError, match="point seeds need a SAM 2 model"):
        tracker.track(movie.movie, seeds)


def test_settings_refuse_nonsense():
    with pytest.raises(ValueError):
        TrackerSettings(detection="labels")
    with pytest.raises(ValueError):
        TrackerSettings(max_speed=0)
    with pytest.raises(ValueError):
        TrackerSettings(diameter=-3)


def test_sam2_evidence_and_point_seeds_run_through_the_engine(tiny_model):
    """Plumbing with a tiny random model: the cue and a click-added cell (quality is the
    benchmark's business)."""
    small = microscopy_timelapse(4, (64, 64), seed=2, modality="nuclear", n_cells=3)
    labels = small.labels.copy()
    labels[1][labels[1] == labels[1].max()] = 0  # a cell the detector missed on frame 1
    rows, cols = np.nonzero(small.labels[1] == small.labels[1].max())
    seeds = Seeds("points", points=np.array([[1.0, rows.mean(), cols.mean()]]))
    tracker = CellTracker(
        tiny_model, TrackerSettings(detection="classical", sam2_cue=True),
        detector=LabelStackDetector(labels),
    )
    out = tracker.track(small.movie, seeds)
    check_lineage(out.tracks, out.labels)
    assert out.frames_done == 4
