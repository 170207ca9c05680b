"""The cell size used with model detections: the model's, checked against the classical one."""

from __future__ import annotations

import numpy as np
import pytest

from sam2_cells.cell_size import (
    MAX_DISAGREEMENT,
    CellSize,
    checked_diameter,
    describe_cell_size,
    missed_share,
)
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


def test_a_size_at_which_the_model_misses_cells_loses(frame):
    """A model whose objects at twice the size are whole but leave half the nuclei out
    (a plateau that is too large): they touch nothing, yet the classical size wins."""
    classical = estimate_diameter(frame)
    whole = segment_nuclei(frame, classical)
    ids = [i for i in np.unique(whole) if i]

    def segment_at(diameter: float) -> np.ndarray:
        if diameter < 1.5 * classical:
            return whole
        return np.where(np.isin(whole, ids[::2]), whole, 0)  # every other nucleus missed

    size = checked_diameter(2.5 * classical, frame, segment_at)
    assert size.missed[0] > 0.4 and size.missed[1] == 0.0
    assert size.source == "classical" and size.decided_by == "missed"
    text = describe_cell_size(type("Detector", (), {"size": size})())
    assert f"missed {size.missed[0]:.0%} of the cells" in text


def test_the_classical_labels_are_cropped_as_the_model_segments(frame):
    classical = estimate_diameter(frame)
    whole = segment_nuclei(frame, classical)

    def crop(image: np.ndarray) -> np.ndarray:
        return image[32:160, 32:160]

    def segment_at(diameter: float) -> np.ndarray:
        return crop(whole) if diameter > classical / 1.5 else fragments(crop(whole))

    size = checked_diameter(0.4 * classical, frame, segment_at, crop=crop)
    assert size.source == "classical" and size.missed == (0.0, 0.0)
    with pytest.raises(ValueError, match="of one shape"):
        checked_diameter(0.4 * classical, frame, segment_at)  # the crop left out


def test_missed_share_counts_objects_less_than_half_covered():
    ref = np.zeros((20, 20), int)
    ref[2:8, 2:8], ref[12:18, 12:18], ref[2:8, 12:18] = 1, 2, 5
    cover = np.zeros_like(ref)
    cover[2:8, 2:8] = 3  # all of object 1
    cover[12:18, 12:16] = 4  # two thirds of object 2
    cover[2:8, 12:14] = 4  # a third of object 5
    assert missed_share(cover, ref) == pytest.approx(1 / 3)
    assert missed_share(ref, ref) == 0.0 and missed_share(np.zeros_like(ref), ref) == 1.0
    assert missed_share(ref, np.zeros_like(ref)) == 0.0


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
