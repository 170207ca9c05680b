"""The cell size used with model detections: the model's, checked against the classical one."""

from __future__ import annotations

import numpy as np
import pytest

from sam2_cells.cell_size import MAX_DISAGREEMENT, CellSize, checked_diameter, describe_cell_size
from sam2_cells.classical import estimate_diameter, segment_nuclei
from sam2_synthetic import microscopy_timelapse


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    movie = microscopy_timelapse(1, (192, 192), seed=12, modality="nuclear", n_cells=14)
    return np.asarray(movie.movie[0], np.float32)


def fragments(labels: np.ndarray, side: int = 3) -> np.ndarray:
    """Every object of ``labels`` cut into (side x side) tiles that touch each other."""
    rows, cols = np.indices(labels.shape)
    tile = (rows // side) * (labels.shape[1] // side + 1) + cols // side + 1
    return np.where(labels > 0, tile, 0)


def segment_like_a_model(frame: np.ndarray, truth: float):
    """A stand-in for the model: whole nuclei at sizes near ``truth``, fragments below."""
    calls = []

    def segment_at(diameter: float) -> np.ndarray:
        calls.append(diameter)
        whole = segment_nuclei(frame, truth)
        return whole if diameter > truth / 1.5 else fragments(whole)

    return segment_at, calls


def test_an_estimate_close_to_the_classical_one_is_kept(frame):
    classical = estimate_diameter(frame)
    segment_at, calls = segment_like_a_model(frame, classical)
    for model in (classical / 1.3, classical * 1.3):
        size = checked_diameter(model, frame, segment_at)
        assert size.source == "model" and size.diameter == model
        assert size.classical == pytest.approx(classical) and size.touching is None
    assert calls == [], "the model segments nothing where the estimates agree"


def test_where_they_disagree_the_size_whose_objects_touch_least_wins(frame):
    classical = estimate_diameter(frame)
    segment_at, calls = segment_like_a_model(frame, classical)
    size = checked_diameter(0.4 * classical, frame, segment_at)  # fragments at 0.4x
    assert size.source == "classical" and size.diameter == pytest.approx(classical)
    assert size.touching[0] > 0.9 and size.touching[1] < size.touching[0]
    assert calls == [pytest.approx(0.4 * classical), pytest.approx(classical)]
    # a classical detector that fragments loses to a model that does not
    segment_at, _ = segment_like_a_model(frame, 2.0 * classical)
    size = checked_diameter(2.0 * classical, frame, segment_at)
    assert size.source == "model" and size.diameter == pytest.approx(2.0 * classical)
    # the factor is a setting
    segment_at, calls = segment_like_a_model(frame, classical)
    assert checked_diameter(0.4 * classical, frame, segment_at, max_ratio=3.0).source == "model"
    assert calls == [] and MAX_DISAGREEMENT < 1 / 0.4


def test_without_enough_classical_objects_the_model_estimate_stands():
    noise = np.random.default_rng(0).normal(100.0, 5.0, (128, 128)).astype(np.float32)
    size = checked_diameter(7.0, noise, lambda d: pytest.fail("nothing to compare"))
    assert size.source == "model" and size.diameter == 7.0 and size.classical is None


@pytest.mark.parametrize(
    ("model", "frame", "ratio", "message"),
    [
        (0.0, np.zeros((32, 32)), 1.5, "model_diameter=0.0 must be a positive"),
        (float("nan"), np.zeros((32, 32)), 1.5, "must be a positive"),
        (10.0, np.zeros((4, 32, 32)), 1.5, r"one \(H, W\) frame, got shape \(4, 32, 32\)"),
        (10.0, np.zeros((32, 32)), 0.5, "max_ratio=0.5 must be at least 1"),
    ],
)
def test_bad_arguments_are_refused(model, frame, ratio, message):
    with pytest.raises(ValueError, match=message):
        checked_diameter(model, frame, lambda d: np.zeros((32, 32), np.int32), max_ratio=ratio)


def test_the_size_used_is_described_for_the_user():
    class Detector:
        diameter = 17.6
        size = None

    assert describe_cell_size(Detector()) == (
        "Cell size 18 px (estimated; set the cell diameter if it is off)."
    )
    assert describe_cell_size(Detector(), given=12.0) == "Cell size 12 px (given)."
    swapped = Detector()
    swapped.size = CellSize(18.2, "classical", 8.3, 18.2, (0.6, 0.2))
    assert "classical detector's estimate" in describe_cell_size(swapped)
    assert "8 px" in describe_cell_size(swapped)
    assert describe_cell_size(object()) == "", "a label stack has no size"
