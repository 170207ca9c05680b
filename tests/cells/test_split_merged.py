"""Detections that hold two cells are split with the neighbouring frames
(sam2_cells.split_merged): touching nuclei seen apart a frame earlier, daughters detected
as one object in their first frames; a single large nucleus is left whole."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from sam2_cells.detection import ClassicalDetector, make_detector
from sam2_cells.split_merged import SplitMergedDetector, split_by_reference
from sam2_cells.tracker import CellTracker
from sam2_cells.tracker_settings import TrackerSettings

SHAPE = (96, 96)


def disc(centre: tuple[float, float], radius: float) -> np.ndarray:
    rr, cc = np.mgrid[: SHAPE[0], : SHAPE[1]]
    return (rr - centre[0]) ** 2 + (cc - centre[1]) ** 2 <= radius**2


def capsule(a: tuple[float, float], b: tuple[float, float], radius: float) -> np.ndarray:
    """Two discs joined by a band as wide as they are (no waist: one object to a
    detector that sees one frame)."""
    band = np.zeros(SHAPE, bool)
    band[round(a[0] - radius) : round(a[0] + radius) + 1, round(a[1]) : round(b[1]) + 1] = True
    return disc(a, radius) | disc(b, radius) | band


def render(masks: list[np.ndarray], seed: int) -> np.ndarray:
    """A fluorescence frame: bright nuclei on a dark background, blurred, with noise."""
    img = np.full(SHAPE, 10.0)
    for m in masks:
        img[m] = 100.0
    rng = np.random.default_rng(seed)
    return (ndi.gaussian_filter(img, 1.0) + rng.normal(0, 3.0, SHAPE)).astype(np.float32)


def labels_of(masks: list[np.ndarray]) -> np.ndarray:
    out = np.zeros(SHAPE, np.int32)
    for k, m in enumerate(masks, start=1):
        out[m] = k
    return out


def test_touching_pair_seen_apart_one_frame_earlier_is_split():
    left, right = disc((48, 38), 7), disc((48, 56), 7)
    before = labels_of([left, right])
    now = labels_of([capsule((48, 40), (48, 54), 7)])  # pressed together: one object
    out = split_by_reference(now, before, typical_area=float(np.pi * 49))
    ids = [i for i in np.unique(out) if i]
    assert len(ids) == 2
    # each piece is one of the two cells: the left one on the left, the right on the right
    cols = sorted(ndi.center_of_mass(out == i)[1] for i in ids)
    assert cols[0] < 45 < 49 < cols[1]
    assert np.array_equal(out > 0, now > 0), "the object's pixels are kept, only cut"
    assert now.max() == 1, "the input is not modified"


def test_single_large_nucleus_is_not_split():
    big = capsule((48, 40), (48, 54), 7)  # as large as two cells, seen whole before too
    typical = float(np.pi * 49)
    assert split_by_reference(labels_of([big]), labels_of([big]), typical_area=typical).max() == 1
    # nor when the frame before cut it into small fragments (a textured nucleus)
    frags = labels_of([disc((48, 40), 3), disc((48, 54), 3)])
    assert split_by_reference(labels_of([big]), frags, typical_area=typical).max() == 1
    # nor a cell of typical size that the frame before cut into halves (room for one)
    one = disc((48, 48), 7)
    halves = labels_of([one & (np.arange(SHAPE[1]) < 48), one & (np.arange(SHAPE[1]) >= 48)])
    assert split_by_reference(labels_of([one]), halves, typical_area=typical).max() == 1


def test_round_object_is_not_cut_by_later_frames():
    """A round cell that a later frame shows in two halves (a mother about to divide, a
    nucleus the detector cuts later) keeps its shape; two cells side by side are cut."""
    typical = float(np.pi * 49)
    later = {"typical_area": typical, "min_cell": 0.18, "min_area": 0.5}
    one = disc((48, 48), 7)
    halves = labels_of([one & (np.arange(SHAPE[1]) < 48), one & (np.arange(SHAPE[1]) >= 48)])
    assert split_by_reference(labels_of([one]), halves, **later, min_elongation=1.4).max() == 1
    assert split_by_reference(labels_of([one]), halves, **later).max() == 2, "shape decides"
    pair = capsule((48, 42), (48, 54), 5)  # two small cells pressed together: elongated
    apart = labels_of([disc((48, 40), 5), disc((48, 56), 5)])
    assert split_by_reference(labels_of([pair]), apart, **later, min_elongation=1.4).max() == 2


def small_daughters_movie() -> tuple[np.ndarray, int]:
    """(12, 96, 96) frames: a mother divides into two small daughters (together smaller
    than a typical cell) that touch on frames 6-9 and part on 10. Returns the movie and
    the daughters' first frame."""
    a, b = disc((22, 70), 8.0), disc((74, 24), 8.0)
    frames = []
    for t in range(12):
        if t < 6:
            cells = [disc((48, 46), 8.0 if t < 4 else 6.0)]
        elif t < 10:
            cells = [capsule((48, 41), (48, 51), 4.5)]
        else:
            cells = [disc((48, 38.5), 4.5), disc((48, 53.5), 4.5)]
        frames.append(render([a, b, *cells], seed=t))
    return np.stack(frames), 6


def test_small_daughters_touching_for_four_frames_are_split_from_the_first():
    movie, first = small_daughters_movie()
    raw = ClassicalDetector()
    detector = SplitMergedDetector(ClassicalDetector())
    short = SplitMergedDetector(ClassicalDetector(), ahead=2)
    for t in range(first, first + 4):
        assert raw.detect(movie, t).max() == 3, "one frame alone shows the daughters as one"
        assert detector.detect(movie, t).max() == 4, f"frame {t}: daughters split"
    assert short.detect(movie, first).max() == 3, "two frames ahead do not see them part"
    run = CellTracker(None, TrackerSettings(detection="classical")).track(movie)
    daughters = [r for r in run.tracks if r.parent]
    assert len(daughters) == 2 and {r.begin for r in daughters} == {first}


def dividing_movie() -> tuple[np.ndarray, int]:
    """(12, 96, 96) frames: two still nuclei and a mother that condenses (frames 4-5) and
    divides; her daughters touch (one object, no waist) on frames 6-7 and part on 8.
    Returns the movie and the daughters' first frame."""
    a, b = disc((22, 70), 7.5), disc((74, 24), 7.5)
    frames = []
    for t in range(12):
        if t < 4:
            cells = [disc((48, 46), 8.0)]
        elif t < 6:  # condensing: her footprint shrinks before she divides
            cells = [disc((48, 46), 7.0 - 0.5 * (t - 4))]
        elif t < 8:  # each daughter a little smaller than the condensed mother
            cells = [capsule((48, 40), (48, 52), 5.5)]
        else:
            cells = [disc((48, 39.5), 5.5), disc((48, 52.5), 5.5)]
        frames.append(render([a, b, *cells], seed=t))
    return np.stack(frames), 6


@pytest.fixture(scope="module")
def divide():
    return dividing_movie()


def test_daughters_touching_after_division_are_split_in_their_first_frames(divide):
    movie, first = divide
    detector = SplitMergedDetector(ClassicalDetector(), back=3, ahead=2)
    raw = ClassicalDetector()
    for t in (first, first + 1):
        assert raw.detect(movie, t).max() == 3, "one frame alone shows the daughters as one"
        assert detector.detect(movie, t).max() == 4, f"frame {t}: daughters split"


def test_division_found_where_daughters_touch(divide):
    movie, first = divide
    run = CellTracker(None, TrackerSettings(detection="classical")).track(movie)
    daughters = [r for r in run.tracks if r.parent]
    assert len(daughters) == 2 and daughters[0].parent == daughters[1].parent
    assert {r.begin for r in daughters} == {first}, "found at the division, not when they part"
    mother = next(r for r in run.tracks if r.label == daughters[0].parent)
    assert mother.begin == 0 and mother.end == first - 1
    off = CellTracker(None, TrackerSettings(detection="classical", split_merged=False))
    late = [r for r in off.track(movie).tracks if r.parent]
    assert not late or min(r.begin for r in late) > first, "without splitting: late or missed"


def test_resumed_detection_equals_the_sequential_one(divide):
    movie, _ = divide
    seq = SplitMergedDetector(ClassicalDetector())
    every = [seq.detect(movie, t) for t in range(len(movie))]
    for t in (3, 7, 11):  # a fresh detector asked for frame t first (a resumed run)
        assert np.array_equal(SplitMergedDetector(ClassicalDetector()).detect(movie, t), every[t])


def test_one_detector_on_two_movies_detects_each(divide):
    movie, _ = divide
    other = movie[:, ::-1].copy()  # the same cells, mirrored: other labels
    detector = SplitMergedDetector(ClassicalDetector())
    detector.detect(movie, 5)
    mirrored = detector.detect(other, 5)
    fresh = SplitMergedDetector(ClassicalDetector()).detect(other, 5)
    assert np.array_equal(mirrored, fresh), "no frame of the first movie is reused"


def test_make_detector_wraps_classical_only_when_asked():
    assert isinstance(make_detector("classical", split_merged=True), SplitMergedDetector)
    assert isinstance(make_detector("classical"), ClassicalDetector)
    assert make_detector("classical", split_merged=True).name == "classical"
    with pytest.raises(ValueError, match="back=-1"):
        SplitMergedDetector(ClassicalDetector(), back=-1)


def test_command_line_entry_splits_merged_cells_unless_told_not_to(divide):
    from sam2_cells.lineage import TrackRecord
    from sam2_cells.seeds import Seeds
    from sam2_cells.tracking_run import run_tracking

    movie, first = divide
    said: list[str] = []

    def division_starts(**options: bool) -> list[int]:
        _, tracks = run_tracking(
            stack=movie,
            seeds=Seeds("auto"),
            model="default",
            device="cpu",
            detector="classical",
            report=said.append,
            **options,
        )
        return sorted(r.begin for r in tracks if isinstance(r, TrackRecord) and r.parent)

    assert division_starts() == [first, first], "the default cuts daughters that touch"
    assert len(said) == 1 and said[0].startswith("Cell size") and "(estimated" in said[0]
    late = division_starts(split_merged=False)
    assert not late or min(late) > first
