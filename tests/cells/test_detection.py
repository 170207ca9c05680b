"""Detection sources behind one protocol: a label stack, the classical detector, the
model (instance head when the engine and the model have one, else segment-everything)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import ndimage as ndi

import sam2_engine as se
from sam2_cells.classical import bright_objects, estimate_diameter, histogram_mode, segment_nuclei
from sam2_cells.detection import (
    ClassicalDetector,
    Detector,
    LabelStackDetector,
    ModelDetector,
    as_label_frame,
    make_detector,
)
from sam2_synthetic import microscopy_timelapse


@pytest.fixture(scope="module")
def movie():
    return microscopy_timelapse(3, (128, 128), seed=3, modality="nuclear", n_cells=10)


def matched(found: np.ndarray, truth: np.ndarray) -> float:
    """Share of true objects covered more than half by one found object."""
    hits = 0
    ids = [i for i in np.unique(truth) if i]
    for i in ids:
        values, counts = np.unique(found[truth == i], return_counts=True)
        best = max((c for v, c in zip(values, counts, strict=True) if v), default=0)
        hits += best > 0.5 * (truth == i).sum()
    return hits / len(ids)


def test_every_source_is_a_detector():
    for d in (LabelStackDetector(np.zeros((2, 4, 4), int)), ClassicalDetector(10.0)):
        assert isinstance(d, Detector)


def test_label_frames_are_numbered_one_to_n_and_small_objects_dropped():
    frame = np.zeros((6, 6), np.int64)
    frame[0:2, 0:2] = 40
    frame[4, 4] = 7
    out = as_label_frame(frame, min_area=2)
    assert out.dtype == np.int32 and set(np.unique(out)) == {0, 1}


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (np.zeros((3, 8, 8), np.int32), "has 3 frames but the movie has 2"),
        (np.zeros((2, 8, 9), np.int32), "frames are 8x9 but the movie's are 8x8"),
        (np.zeros((2, 8, 8), np.float32), "labels must be integers"),
        (np.zeros((8, 8), np.int32), "must be \\(time, row, col\\)"),
    ],
)
def test_a_label_stack_that_does_not_fit_the_movie_is_refused(labels, message):
    with pytest.raises(ValueError, match=message):
        LabelStackDetector(labels).check((2, 8, 8))


def test_the_classical_detector_finds_the_nuclei(movie):
    found = segment_nuclei(movie.movie[0], 17.0)
    assert matched(found, movie.labels[0]) > 0.8
    assert 0.7 < found.max() / len(np.unique(movie.labels[0])[1:]) < 1.3


def test_the_classical_detector_estimates_the_nucleus_size(movie):
    d = estimate_diameter(movie.movie[0])
    truth = 2 * np.sqrt(np.median(np.bincount(movie.labels[0].ravel())[1:]) / np.pi)
    assert abs(d - truth) < 0.3 * truth


def test_the_size_estimate_is_not_a_speck_s_when_specks_outnumber_the_nuclei():
    # nine 28 px nuclei among forty bright 6 px specks of debris: the median object is
    # a speck, the nuclei hold most of the objects' area
    rng = np.random.default_rng(3)
    rows, cols = np.mgrid[:256, :256]
    frame = 100.0 + rng.normal(0, 3, (256, 256))
    for y, x in [(40, 40), (40, 128), (40, 215), (128, 40), (128, 128)]:
        frame[(rows - y) ** 2 + (cols - x) ** 2 <= 14**2] += 120
    for y, x in [(128, 215), (215, 40), (215, 128), (215, 215)]:
        frame[(rows - y) ** 2 + (cols - x) ** 2 <= 14**2] += 120
    for y, x in rng.integers(0, 256, (40, 2)):
        if (
            min(abs(y - c) for c in (40, 128, 215)) > 20
            or min(abs(x - c) for c in (40, 128, 215)) > 20
        ):
            frame[(rows - y) ** 2 + (cols - x) ** 2 <= 3**2] += 200
    frame = ndi.gaussian_filter(frame, 1.0)
    assert 22 < estimate_diameter(frame) < 34


def crowded_field(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(frame, truth): 14 px nuclei on a hexagonal grid covering about 60% of the field,
    uneven brightness, a light gradient and camera noise."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:160, :160]
    truth = np.zeros((160, 160), np.int32)
    frame = 100.0 + 0.5 * cols
    k = 0
    for i, y in enumerate(np.arange(9, 155, 14.0)):
        for x in np.arange(9 + 7 * (i % 2), 155, 15.5):
            disk = (rows - y) ** 2 + (cols - x) ** 2 <= 6.5**2
            k += 1
            truth[disk] = k
            frame[disk] += rng.uniform(300, 900)
    frame += rng.normal(0, 15, frame.shape)
    return frame.astype(np.float32), truth


def test_the_classical_detector_finds_nuclei_covering_most_of_the_field():
    frame, truth = crowded_field()
    assert (truth > 0).mean() > 0.5  # the median pixel is a nucleus
    assert histogram_mode(frame) < 100 + 0.5 * 160  # the mode stays on the background
    found = segment_nuclei(frame, 14.0)
    assert matched(found, truth) > 0.9
    assert 0.9 < found.max() / truth.max() < 1.1


def test_the_classical_detector_finds_dark_nuclei_on_a_bright_background(movie):
    normal = movie.movie[0].astype(np.float32)
    inverted = normal.max() - normal
    assert bright_objects(normal, 17.0) and not bright_objects(inverted, 17.0)
    found = segment_nuclei(inverted, 17.0)
    assert matched(found, movie.labels[0]) > 0.8
    detector = ClassicalDetector(17.0)
    assert matched(detector.detect(movie.movie.max() - movie.movie, 0), movie.labels[0]) > 0.8
    assert detector.bright is False


def _fibre_frame() -> np.ndarray:
    """(128, 128): a nucleus (16 px) in the middle, a fibre (70 x 3 px) above it and a
    nucleus cut in half by the left border, on a noisy background."""
    rng = np.random.default_rng(3)
    frame = rng.normal(100, 3, (128, 128)).astype(np.float32)
    yy, xx = np.mgrid[:128, :128]
    frame[(yy - 80) ** 2 + (xx - 64) ** 2 <= 64] += 200
    frame[(yy - 90) ** 2 + xx**2 <= 64] += 200
    frame[30:33, 20:90] += 200
    return frame


def test_the_classical_detector_drops_fibres_but_not_nuclei_cut_by_the_border():
    from sam2_cells.classical import ClassicalParams

    frame = _fibre_frame()
    labels = segment_nuclei(frame, 16.0)
    assert labels.max() == 2
    assert labels[80, 64] > 0 and labels[90, 2] > 0 and labels[31, 50] == 0
    kept = segment_nuclei(frame, 16.0, ClassicalParams(max_elongation=0))
    assert kept[31, 50] > 0  # the filter is what drops it


def test_a_nucleus_touched_by_a_fibre_is_kept_and_the_fibre_stripped():
    from sam2_cells.classical import ClassicalParams

    rng = np.random.default_rng(5)
    frame = rng.normal(100, 3, (128, 128)).astype(np.float32)
    yy, xx = np.mgrid[:128, :128]
    nucleus = (yy - 64) ** 2 + (xx - 64) ** 2 <= 64
    frame[nucleus] += 200
    frame[62:65, 70:124] += 200  # a fibre from the nucleus' edge to the right
    frame[20:23, 10:80] += 200  # a fibre alone
    labels = segment_nuclei(frame, 16.0)
    assert labels.max() == 1
    assert labels[64, 64] == 1 and labels[63, 110] == 0 and labels[21, 40] == 0
    found = labels == 1
    assert (found & nucleus).sum() > 0.9 * nucleus.sum()
    assert found.sum() < 1.4 * nucleus.sum()  # the fibre's stub at most
    whole = segment_nuclei(frame, 16.0, ClassicalParams(strip_radius=0))
    assert not whole.any()  # dropped whole with the fibre, as before


def _textured_nucleus() -> tuple[np.ndarray, np.ndarray]:
    """(128, 128) frame: a dim nucleus (24 px) with five bright spots (chromocentres) on
    a noisy background, and its (128, 128) bool mask."""
    rng = np.random.default_rng(0)
    frame = rng.normal(100, 4, (128, 128)).astype(np.float32)
    yy, xx = np.mgrid[:128, :128]
    nucleus = (yy - 64) ** 2 + (xx - 64) ** 2 <= 144
    frame[nucleus] += 80
    for r, c in [(58, 58), (58, 70), (70, 60), (68, 70), (64, 64)]:
        frame[(yy - r) ** 2 + (xx - c) ** 2 <= 5] += 500
    return frame, nucleus


def test_textured_nuclei_are_filled_whole_when_asked():
    from sam2_cells.classical import TEXTURED, ClassicalParams

    frame, nucleus = _textured_nucleus()
    plain = segment_nuclei(frame, 24.0)
    textured = segment_nuclei(frame, 24.0, ClassicalParams(texture=TEXTURED))
    assert plain.max() == textured.max() == 1
    assert (plain[nucleus] > 0).mean() < 0.85  # the spots set the bar: the body is cut
    assert (textured[nucleus] > 0).mean() > 0.9
    assert ((textured > 0) & ~nucleus).sum() < 0.1 * nucleus.sum()


def test_the_tracker_setting_textured_reaches_the_classical_detector():
    from sam2_cells.classical import TEXTURED
    from sam2_cells.tracker import CellTracker
    from sam2_cells.tracker_settings import TrackerSettings

    tracker = CellTracker(None, TrackerSettings(detection="classical", textured=True))
    assert tracker.detector.inner.params.texture == TEXTURED
    assert make_detector("classical").params is None  # the defaults: texture 0
    frame, nucleus = _textured_nucleus()
    found = make_detector("classical", diameter=24.0, textured=True).detect(frame[None], 0)
    assert (found[nucleus] > 0).mean() > 0.9


def test_the_classical_detector_finds_nothing_in_an_empty_frame():
    assert not segment_nuclei(np.zeros((64, 64), np.uint16), 12.0).any()
    assert not ClassicalDetector(None).detect(np.zeros((2, 64, 64)), 1).any()


def test_auto_is_classical_without_an_instance_head(tiny_model):
    assert make_detector("auto", model=tiny_model).name == "classical"
    assert make_detector("model", model=tiny_model).name == "model"
    with pytest.raises(ValueError, match="needs a label stack"):
        make_detector("labels")
    with pytest.raises(ValueError, match="unknown detection source"):
        make_detector("cellpose")


def test_the_model_detector_uses_the_instance_head_when_there_is_one(monkeypatch, movie):
    made = []
    estimate = 15.0

    class FakeSegmenter:
        def __init__(self, model, diameter=None):
            made.append(diameter)
            self.diameter = diameter

        def size_of(self, image):
            return estimate

        def segment(self, image):
            out = np.zeros(image.shape[:2], np.int32)
            out[2:6, 2:6] = 9
            if self.diameter < 8:  # too small a size: the object comes apart in fragments
                out[2:6, 4:6] = 3
            return out

    monkeypatch.setattr(se, "InstanceSegmenter", FakeSegmenter, raising=False)
    monkeypatch.setattr(se, "has_instance_head", lambda m: True, raising=False)
    model = SimpleNamespace(recommended={})
    assert make_detector("auto", model=model).name == "classical", "not recommended for cells"
    model.recommended = {"detector": "model"}
    d = make_detector("auto", model=model)
    assert d.name == "model" and d.method == "instance head"
    labels = d.detect(movie.movie, 2)
    assert set(np.unique(labels)) == {0, 1}
    assert made == [None, 15.0], "the size is estimated once, on frame 0, then fixed"
    assert d.size.source == "model" and d.size.classical is not None

    # an estimate far from the classical detector's, at which the model's objects come
    # apart (a sparse field's fragments), is replaced
    estimate = 5.0
    made.clear()
    d = make_detector("model", model=model)
    d.detect(movie.movie, 1)
    classical = estimate_diameter(movie.movie[0].astype(np.float32))
    assert d.size.source == "classical" and d.size.model == 5.0
    assert d.size.touching == (1.0, 0.0)
    assert made == [None, 5.0, pytest.approx(classical), pytest.approx(classical)]
    assert d.diameter == pytest.approx(classical)
    assert make_detector("model", model=model, diameter=5.0).detect(movie.movie, 0).any()


def test_the_model_detector_falls_back_to_segment_everything(tiny_model, movie):
    d = ModelDetector(tiny_model, diameter=17.0)
    assert d.method == "segment-everything"
    labels = d.detect(movie.movie, 0)
    assert labels.shape == movie.labels.shape[1:] and labels.dtype == np.int32


def test_textured_with_model_detections_is_refused():
    from sam2_cells.tracker_settings import TrackerSettings

    with pytest.raises(ValueError, match="is an option of the classical detector"):
        TrackerSettings(detection="model", textured=True)
    assert TrackerSettings(detection="auto", textured=True).textured  # auto: classical here
    with pytest.raises(ValueError, match="come from the model"):
        make_detector("model", model=SimpleNamespace(), textured=True)
    from sam2_cells import textured_applies

    assert [textured_applies(s) for s in ("auto", "classical", "model", "labels")] == [
        True,
        True,
        False,
        False,
    ]


def test_textured_with_a_label_stack_is_refused_not_ignored(movie):
    from sam2_cells.seeds import Seeds
    from sam2_cells.tracking_run import run_tracking

    with pytest.raises(ValueError, match="come from your label stack"):
        make_detector("labels", labels=movie.labels, textured=True)
    with pytest.raises(ValueError, match="come from your label stack"):
        run_tracking(
            stack=movie.movie,
            seeds=Seeds("auto"),
            model="default",
            device="cpu",
            detector="labels",
            labels=movie.labels,
            textured=True,
        )


def test_asking_for_textured_nuclei_makes_auto_choose_the_classical_detector(monkeypatch):
    from sam2_cells.classical import TEXTURED

    monkeypatch.setattr(se, "InstanceSegmenter", object, raising=False)
    monkeypatch.setattr(se, "has_instance_head", lambda m: True, raising=False)
    model = SimpleNamespace(recommended={"detector": "model"})
    assert make_detector("auto", model=model).name == "model"
    chosen = make_detector("auto", model=model, textured=True)
    assert chosen.name == "classical" and chosen.params.texture == TEXTURED
