"""Tests of the realistic time-lapses: :func:`microscopy_timelapse` and its CTC lineage."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from scipy import ndimage as ndi

from sam2_cells import TrackRecord
from sam2_synthetic import (
    Dynamics,
    SyntheticTimelapse,
    microscopy_timelapse,
    sample_style,
    sample_timelapse,
)
from sam2_synthetic.tracks import _lineage

SHAPE = (96, 96)
STILL = Dynamics(speed=0.0, persistence=0.0, jitter=0.0, division_rate=0.0, bleaching=0.0)


def nuclear(**changes) -> object:
    base = {"diameter": 14.0, "coverage": 0.2, "snr": 30.0, "debris": 0.0, "ghosts": 0}
    return dataclasses.replace(sample_style("nuclear"), **(base | changes))


def assert_ctc_valid(data: SyntheticTimelapse) -> None:
    """Labels 1..N, each present in exactly its begin..end frames, parents end just before."""
    tracks, labels = data.tracks, data.labels
    assert [t.label for t in tracks] == list(range(1, len(tracks) + 1))
    assert all(isinstance(t, TrackRecord) for t in tracks)
    present = {int(k): set() for k in np.unique(labels) if k}
    for t, frame in enumerate(labels):
        for k in np.unique(frame):
            if k:
                present[int(k)].add(t)
    assert sorted(present) == [t.label for t in tracks]
    by_label = {t.label: t for t in tracks}
    children: dict[int, int] = {}
    for track in tracks:
        assert present[track.label] == set(range(track.begin, track.end + 1)), track
        if track.parent:
            mother = by_label[track.parent]
            assert mother.end == track.begin - 1 and mother.label < track.label
            children[mother.label] = children.get(mother.label, 0) + 1
    assert all(n <= 2 for n in children.values())


@pytest.fixture(scope="module")
def dividing() -> SyntheticTimelapse:
    dyn = Dynamics(speed=0.8, persistence=0.6, division_rate=0.05, mitosis_frames=2)
    return microscopy_timelapse(24, SHAPE, seed=1, style=nuclear(), dynamics=dyn, n_cells=10)


@pytest.fixture(scope="module")
def drifting() -> SyntheticTimelapse:
    dyn = dataclasses.replace(STILL, drift=(0.0, 2.0), speed=0.3)
    return microscopy_timelapse(20, SHAPE, seed=2, style=nuclear(), dynamics=dyn, n_cells=12)


def test_same_seed_gives_identical_movies() -> None:
    a = microscopy_timelapse(4, (64, 64), seed=3)
    b = microscopy_timelapse(4, (64, 64), seed=3)
    np.testing.assert_array_equal(a.movie, b.movie)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.tracks == b.tracks
    assert not np.array_equal(a.movie, microscopy_timelapse(4, (64, 64), seed=4).movie)


@pytest.mark.parametrize("seed", range(4))
def test_random_movies_follow_ctc_rules(seed: int) -> None:
    data = microscopy_timelapse(10, (80, 80), seed=seed)
    assert data.movie.shape == data.labels.shape == (10, 80, 80)
    assert data.labels.dtype == np.int32
    assert_ctc_valid(data)


def test_divisions_link_daughters_to_mothers(dividing: SyntheticTimelapse) -> None:
    assert_ctc_valid(dividing)
    assert dividing.n_divisions >= 3
    sisters = {}
    for t in dividing.tracks:
        if t.parent:
            sisters.setdefault(t.parent, []).append(t)
    assert any(len(pair) == 2 for pair in sisters.values())


def test_mothers_round_up_and_brighten(dividing: SyntheticTimelapse) -> None:
    movie, labels = dividing.movie.astype(np.float64), dividing.labels
    gains = []
    for mother in {t.parent for t in dividing.tracks if t.parent}:
        track = dividing.tracks[mother - 1]
        if track.end - track.begin < 4:
            continue
        late = movie[track.end][labels[track.end] == mother].mean()
        early = np.mean(
            [movie[t][labels[t] == mother].mean() for t in (track.begin, track.begin + 1)]
        )
        gains.append(late / early)
    assert gains and np.median(gains) > 1.3


def test_without_condensation_mothers_keep_their_size_and_brightness() -> None:
    """``Dynamics(condense=False)``: a marker that does not show mitosis; the same movie
    with condensation has its mothers shrink and brighten in their last frames."""

    def last_against_earlier(condense: bool) -> tuple[float, float]:
        dyn = Dynamics(speed=0.8, persistence=0.6, division_rate=0.05, condense=condense)
        data = microscopy_timelapse(24, SHAPE, seed=1, style=nuclear(), dynamics=dyn, n_cells=10)
        movie, labels = data.movie.astype(np.float64), data.labels
        areas, gains = [], []
        for mother in {t.parent for t in data.tracks if t.parent}:
            track = data.tracks[mother - 1]
            if track.end - track.begin < 4:
                continue
            early, late = labels[track.end - 3] == mother, labels[track.end] == mother
            areas.append(late.sum() / early.sum())
            gains.append(movie[track.end][late].mean() / movie[track.end - 3][early].mean())
        assert len(areas) >= 2
        return float(np.median(areas)), float(np.median(gains))

    area, gain = last_against_earlier(condense=False)
    assert area > 0.85 and gain < 1.2
    area, gain = last_against_earlier(condense=True)
    assert area < 0.75 and gain > 1.3


def test_sisters_move_apart(dividing: SyntheticTimelapse) -> None:
    labels = dividing.labels
    distances = []
    pairs: dict[int, list[TrackRecord]] = {}
    for t in dividing.tracks:
        if t.parent:
            pairs.setdefault(t.parent, []).append(t)
    for a, b in (p for p in pairs.values() if len(p) == 2):
        frames = [t for t in range(a.begin, min(a.end, b.end) + 1)][:4]
        if len(frames) < 3:
            continue
        centre = [[ndi.center_of_mass(labels[t] == k) for t in frames] for k in (a.label, b.label)]
        d = np.hypot(*(np.array(centre[0]) - np.array(centre[1])).T)
        distances.append(d[-1] - d[0])
    assert distances and np.median(distances) > 0


def test_cells_enter_and_leave(drifting: SyntheticTimelapse) -> None:
    assert_ctc_valid(drifting)
    last = len(drifting.movie) - 1
    entering = [t for t in drifting.tracks if t.begin > 0 and t.parent == 0]
    leaving = [t for t in drifting.tracks if t.end < last]
    assert len(entering) >= 2 and len(leaving) >= 2
    for track in entering[:3]:  # they come in through the left border (drift towards +col)
        first = np.argwhere(drifting.labels[track.begin] == track.label)
        assert first[:, 1].min() == 0


def test_stage_drift_moves_everything(drifting: SyntheticTimelapse) -> None:
    steps = []
    for track in drifting.tracks:
        if track.end - track.begin >= 3:
            cols = [np.argwhere(drifting.labels[t] == track.label)[:, 1] for t in (5, 6)]
            if (
                track.begin <= 5
                and track.end >= 6
                and all(c.min() > 0 and c.max() < 95 for c in cols)
            ):
                steps.append(cols[1].mean() - cols[0].mean())
    assert steps and 1.3 < np.median(steps) < 2.7


def test_photobleaching_dims_the_movie() -> None:
    dyn = dataclasses.replace(STILL, bleaching=0.05)
    style = nuclear(background=0.02, offset=100.0)
    data = microscopy_timelapse(12, SHAPE, seed=0, style=style, dynamics=dyn, n_cells=8)
    signal = [data.movie[t][data.labels[t] > 0].mean() - 100 for t in (0, 11)]
    assert signal[1] < 0.75 * signal[0]


def test_crowded_cells_do_not_pile_up() -> None:
    dyn = Dynamics(speed=2.0, persistence=0.8, division_rate=0.0)
    style = nuclear(coverage=0.4, overlap=0.05)
    data = microscopy_timelapse(10, SHAPE, seed=5, style=style, dynamics=dyn)
    labels = data.labels[-1]
    areas = np.bincount(labels.ravel())[1:]
    areas = areas[areas > 0]
    inner = ndi.binary_erosion(labels > 0)
    assert np.median(areas) > 0.5 * np.pi * 7**2  # not squashed under neighbours
    assert inner.sum() > 0.3 * (labels > 0).sum()


def test_static_cells_without_divisions_keep_their_tracks() -> None:
    data = microscopy_timelapse(6, SHAPE, seed=0, style=nuclear(), dynamics=STILL, n_cells=6)
    assert all(t.begin == 0 and t.end == 5 and t.parent == 0 for t in data.tracks)
    assert data.n_divisions == 0


@pytest.mark.parametrize("modality", ["phase", "membrane"])
def test_other_modalities(modality: str) -> None:
    style = dataclasses.replace(nuclear(), modality=modality)
    data = microscopy_timelapse(5, SHAPE, seed=1, style=style, n_cells=8)
    assert_ctc_valid(data)


def test_lineage_splits_reappearing_cells() -> None:
    presence = np.array(
        [
            [1, 1, 0, 0, 0],  # a mother, divides at frame 2
            [0, 0, 1, 1, 1],  # a daughter, visible from its birth
            [0, 0, 0, 1, 1],  # a daughter born outside the field, enters later
            [1, 0, 1, 1, 0],  # a cell hidden in frame 1
        ],
        bool,
    )
    records, table = _lineage(presence, np.array([0, 1, 1, 0]), np.array([0, 2, 2, 0]))
    assert records == [
        TrackRecord(1, 0, 1, 0),
        TrackRecord(2, 0, 0, 0),
        TrackRecord(3, 2, 4, 1),
        TrackRecord(4, 2, 3, 0),  # back in view: a new track without a parent
        TrackRecord(5, 3, 4, 0),  # not visible at birth: no link to the mother
    ]
    np.testing.assert_array_equal(table[3], [0, 0, 3, 5, 4])


def test_a_movie_is_fast() -> None:
    start = time.perf_counter()
    sample_timelapse(30, (256, 256))
    assert time.perf_counter() - start < 8.0  # ~1 s on one free core


@pytest.mark.parametrize(
    "call",
    [
        lambda: microscopy_timelapse(0),
        lambda: microscopy_timelapse(3, (16, 16)),
        lambda: microscopy_timelapse(3, n_cells=-2),
        lambda: microscopy_timelapse(3, modality="xray"),
    ],
)
def test_bad_arguments_raise_value_error(call) -> None:
    with pytest.raises(ValueError, match="pass"):
        call()
