"""Linking a long movie in overlapping windows: the windows tile the movie, a movie of one
window links as before, a long one keeps every track's identity and every division across
the seams between windows, and its lineage passes the CTC organisers' validator."""

from __future__ import annotations

import numpy as np
import pytest

from sam2_cells import check_lineage
from sam2_cells.detection import LabelStackDetector
from sam2_cells.link_windows import plan_windows
from sam2_cells.linking import FrameCells, LapLinker, LinkSettings
from sam2_cells.tracker import CellTracker
from sam2_cells.tracker_settings import TrackerSettings
from sam2_synthetic import microscopy_timelapse

WINDOW = 30  # margin 10 with the default rules: windows own 10 frames each, seams every 10


@pytest.mark.parametrize(
    ("n_frames", "window", "margin"), [(70, 30, 10), (200, 60, 10), (61, 60, 10)]
)
def test_the_windows_own_every_frame_once_with_a_margin_of_context(n_frames, window, margin):
    plan = plan_windows(n_frames, window, margin)
    owned = np.concatenate([np.arange(w.own_from, w.own_to) for w in plan])
    np.testing.assert_array_equal(owned, np.arange(n_frames))
    for w in plan:
        assert w.stop - w.start <= window
        assert w.own_from - w.start >= margin or w.start == 0
        assert w.stop - w.own_to >= margin or w.stop == n_frames
    assert len(plan_windows(window, window, margin)) == 1  # one window: the whole movie


def test_a_window_too_short_for_the_rules_is_refused():
    assert LinkSettings().window_margin == 10
    with pytest.raises(ValueError, match="window_frames=20"):
        LinkSettings(window_frames=20)
    LinkSettings(window_frames=0)  # one piece


def drifting_cells(n_frames: int, mother_last: int) -> list[FrameCells]:
    """Five cells of diameter 10 drifting 1 px a frame, 40 px apart, and a sixth that
    condenses on frame ``mother_last`` (area 100 -> 70) and divides into two daughters
    (area 60, 8 px apart) that drift on to the end."""
    frames = []
    rows = np.array([10.0, 50.0, 90.0, 130.0, 170.0])
    for t in range(n_frames):
        x = 20.0 + t
        centroids = [[r, x] for r in rows]
        areas = [100] * 5
        if t <= mother_last:
            centroids.append([210.0, x])
            areas.append(70 if t == mother_last else 100)
        else:
            centroids += [[206.0, x], [214.0, x]]
            areas += [60, 60]
        frames.append(FrameCells(np.array(centroids), np.array(areas)))
    return frames


@pytest.mark.parametrize("mother_last", [18, 19, 20, 29, 35])
def test_a_division_at_a_seam_keeps_the_division_and_every_track(mother_last):
    """Seams at frames 20, 30, 40, 50: the daughters begin on the seam, just after or
    just before it."""
    frames = drifting_cells(70, mother_last)
    windowed = LapLinker(LinkSettings(window_frames=WINDOW)).link(frames, [None] * 70, 10.0)
    whole = LapLinker(LinkSettings(window_frames=0)).link(frames, [None] * 70, 10.0)
    assert len(plan_windows(70, WINDOW, 10)) == 5
    check_lineage(windowed.tracks)
    roots = [r for r in windowed.tracks if r.parent == 0]
    assert len(roots) == 6 and all(r.begin == 0 for r in roots)
    assert sum(r.end == 69 for r in roots) == 5  # the drifting cells: one track each
    mother = next(r for r in roots if r.end == mother_last)
    daughters = [r for r in windowed.tracks if r.parent == mother.label]
    assert [(r.begin, r.end) for r in daughters] == [(mother_last + 1, 69)] * 2
    assert windowed.tracks == whole.tracks
    for a, b in zip(windowed.luts, whole.luts, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_windows_of_a_long_movie_decide_together_whether_mothers_condense():
    """A mother condenses (100 -> 70) and divides on frame 15; on frame 65 another cell,
    which did not condense, falls in two pieces (60 px each) that last. No window holds
    both. The movie's mothers condense, so the pieces are no division: in one piece and
    in windows alike (a window deciding alone would see one candidate that did not
    shrink, no evidence, and keep it)."""
    frames = []
    for t, cells in enumerate(drifting_cells(90, 15)):
        x = 20.0 + t
        extra = [[250.0, x]] if t < 66 else [[246.0, x], [254.0, x]]
        frames.append(
            FrameCells(
                np.vstack([cells.centroids, extra]),
                np.concatenate([cells.areas, [100] if len(extra) == 1 else [60, 60]]),
            )
        )
    windowed = LapLinker(LinkSettings(window_frames=WINDOW)).link(frames, [None] * 90, 10.0)
    whole = LapLinker(LinkSettings(window_frames=0)).link(frames, [None] * 90, 10.0)
    assert not any(w.start <= 15 and 65 < w.stop for w in plan_windows(90, WINDOW, 10))
    check_lineage(windowed.tracks)
    mothers = {r.parent for r in windowed.tracks if r.parent}
    assert [(r.begin, r.end) for r in windowed.tracks if r.label in mothers] == [(0, 15)]
    assert windowed.tracks == whole.tracks
    for a, b in zip(windowed.luts, whole.luts, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_movie_of_one_window_links_as_in_one_piece():
    frames = drifting_cells(40, 25)
    one = LapLinker(LinkSettings(window_frames=60)).link(frames, [None] * 40, 10.0)
    whole = LapLinker(LinkSettings(window_frames=0)).link(frames, [None] * 40, 10.0)
    assert one.tracks == whole.tracks and len(one.tracks) == 8
    for a, b in zip(one.luts, whole.luts, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.fixture(scope="module")
def long_movie():
    data = microscopy_timelapse(72, (96, 96), seed=8, modality="nuclear", n_cells=6)
    assert any(t.parent for t in data.tracks)
    return data


def given(movie, window: int) -> CellTracker:
    settings = TrackerSettings(detection="classical", min_area=1, window_frames=window)
    return CellTracker(None, settings, detector=LabelStackDetector(movie.labels))


def test_a_long_generated_movie_linked_in_windows_is_ctc_valid_and_equals_one_piece(
    long_movie, tmp_path
):
    from sam2_cells import ctc_validate, score_arrays, write_ctc_results

    windowed = given(long_movie, WINDOW).track(long_movie.movie)
    whole = given(long_movie, 0).track(long_movie.movie)
    write_ctc_results(windowed.labels, windowed.tracks, tmp_path / "01_RES")
    assert ctc_validate(tmp_path / "01_RES") == []
    scores = score_arrays(windowed.labels, windowed.tracks, long_movie.labels, long_movie.tracks)
    assert scores.tra > 0.95 and any(r.parent for r in windowed.tracks)
    assert windowed.tracks == whole.tracks
    np.testing.assert_array_equal(windowed.labels, whole.labels)


@pytest.mark.parametrize("stop_after", [30, 90])
def test_a_cancelled_windowed_run_resumed_equals_an_uninterrupted_one(long_movie, stop_after):
    whole = given(long_movie, WINDOW).track(long_movie.movie)
    out = np.zeros(long_movie.labels.shape, np.int32)
    calls: list[int] = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > stop_after

    first = given(long_movie, WINDOW).track(long_movie.movie, out=out, cancel=cancel)
    assert first.cancelled
    rest = given(long_movie, WINDOW).track(long_movie.movie, out=out, resume=first.state)
    assert rest.frames_done == 72
    np.testing.assert_array_equal(rest.labels, whole.labels)
    assert rest.tracks == whole.tracks


def wandering_cells(n_frames: int, n_cells: int = 15) -> list[FrameCells]:
    """``n_cells`` cells of diameter 20 wandering 2 px a frame over 384 x 384 (seeded)."""
    rng = np.random.default_rng(3)
    pos = rng.uniform(0, 384, (n_cells, 2))
    frames = []
    for _ in range(n_frames):
        pos = pos + rng.normal(0, 2, pos.shape)
        frames.append(FrameCells(pos.copy(), np.full(n_cells, 300)))
    return frames


def link_peak(n_frames: int, window: int) -> int:
    """Peak bytes allocated while linking ``n_frames`` of wandering cells."""
    import gc
    import tracemalloc

    frames = wandering_cells(n_frames)
    gc.collect()
    tracemalloc.start()
    try:
        links = LapLinker(LinkSettings(window_frames=window)).link(frames, [None] * n_frames, 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(links.luts) == n_frames
    return peak


def test_the_linkers_memory_follows_the_window_not_the_movie():
    import laptrack  # noqa: F401  (imports are not the linker's memory)

    link_peak(20, 60)  # warm-up: lazy imports and caches
    one_window, four_times = link_peak(60, 60), link_peak(240, 60)  # the default window
    assert four_times < 1.25 * one_window, (one_window, four_times)
    # one LAP over the whole movie grows with it: what the windows avoid
    assert link_peak(240, 0) > 3 * one_window
