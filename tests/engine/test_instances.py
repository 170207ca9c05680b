"""Segment everything with the instance head: watershed of the two maps, sizes, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sam2_engine as se


@pytest.fixture(scope="module")
def segmenter():
    torch.manual_seed(0)
    model = se.build_model("conv_micro", checkpoint=False, device="cpu")
    return se.InstanceSegmenter(model, diameter=20)


def _two_touching_discs(shape=(64, 96), r=10):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    labels = np.zeros(shape, np.int32)
    for i, cx in enumerate((36, 54), start=1):  # 18 px apart: they touch
        disc = (yy - 32) ** 2 + (xx - cx) ** 2 <= r**2
        labels[disc & (labels == 0)] = i
    return labels


def _ideal_maps(labels):
    from scipy import ndimage as ndi

    dist = np.zeros(labels.shape, np.float32)
    for i in range(1, labels.max() + 1):
        d = ndi.distance_transform_edt(labels == i)
        dist += (d / d.max()).astype(np.float32)
    return (labels > 0).astype(np.float32), dist


def test_touching_objects_are_split_by_their_cores(segmenter):
    truth = _two_touching_discs()
    fg, dist = _ideal_maps(truth)
    labels = segmenter.labels_from_maps(fg, dist, diameter=20)
    assert labels.dtype == np.int32 and labels.max() == 2
    for i in (1, 2):
        inter = np.logical_and(labels == i, truth == i).sum()
        union = np.logical_or(labels == i, truth == i).sum()
        assert inter / union > 0.9


def test_specks_below_the_size_floor_are_dropped(segmenter):
    fg = np.zeros((40, 40), np.float32)
    dist = np.zeros_like(fg)
    fg[5:7, 5:7] = dist[5:7, 5:7] = 1.0  # a 4-pixel speck, far below a 20 px disc
    assert segmenter.labels_from_maps(fg, dist, diameter=20).max() == 0


def test_segment_keeps_the_image_shape(segmenter):
    image = np.random.default_rng(0).integers(0, 4000, (70, 90)).astype(np.uint16)
    labels = segmenter.segment(image)
    assert labels.shape == (70, 90) and labels.dtype == np.int32
    assert segmenter.last_diameter == 20


def test_estimated_diameter_is_a_positive_size(segmenter):
    auto = se.InstanceSegmenter(segmenter.model)
    rgb = np.random.default_rng(1).random((64, 64, 3)).astype(np.float32)
    assert auto.estimate_diameter(rgb) > 0


def test_size_of_estimates_as_segment_does(segmenter):
    auto = se.InstanceSegmenter(segmenter.model)
    image = np.random.default_rng(2).integers(0, 4000, (2, 70, 90)).astype(np.uint16)
    size = auto.size_of(image, channel_axis=0)
    auto.segment(image, channel_axis=0)
    assert size > 0 and size == auto.last_diameter


def test_the_size_is_where_found_sizes_stop_following_the_probe():
    # texture at small probes: the head finds objects at whatever size it is told (a
    # consistent but unstable answer); the real objects, about 30 px, come out at 28-31
    # px over three probes: the plateau wins even though a small probe is more consistent
    probes = [6.0 * 1.35**k for k in range(9)]
    found = [6.1, 8.0, 11.1, 14.0, 28.0, 29.5, 31.0, 33.0, None]
    estimate = se.plateau_diameter(probes, found)
    assert 28.0 <= estimate <= 31.0


def test_the_size_falls_back_to_the_most_consistent_probe_without_a_plateau():
    probes = [10.0, 20.0, 40.0]
    assert se.plateau_diameter(probes, [None, 18.0, None]) == 18.0
    assert se.plateau_diameter(probes, [None, None, None]) is None
    with pytest.raises(ValueError, match="probes"):
        se.plateau_diameter(probes, [1.0])


def test_a_model_brings_its_own_thresholds(segmenter):
    model = segmenter.model
    model.recommended = {"instance": {"foreground_threshold": 0.45, "seed_threshold": 0.8}}
    try:
        settings = se.InstanceSegmenter(model).settings
        assert (settings.foreground_threshold, settings.seed_threshold) == (0.45, 0.8)
        assert se.InstanceSettings.for_model(model, seed_threshold=0.6).seed_threshold == 0.6
        model.recommended = {"instance": {"tile": 3}}
        with pytest.raises(ValueError, match="unknown instance settings"):
            se.InstanceSegmenter(model)
    finally:
        model.recommended = {}
    assert se.InstanceSegmenter(model).settings == se.InstanceSettings()


@pytest.mark.parametrize("bad", [0, -3, float("nan")])
def test_bad_diameter_is_refused(segmenter, bad):
    with pytest.raises(ValueError, match="diameter"):
        se.InstanceSegmenter(segmenter.model, diameter=bad)


def test_thresholds_are_checked():
    with pytest.raises(ValueError, match="seed_threshold"):
        se.InstanceSettings(seed_threshold=1.5)


def _fake_decoder(monkeypatch, answer):
    """ImagePredictor.predict answers ``answer(box)`` (an (H, W) mask) for a box prompt."""
    from sam2_engine.image import ImagePredictor
    from sam2_engine.image_prediction import ImagePrediction

    calls = []

    def predict(self, box=None, multimask=False, **kwargs):
        calls.append(box)
        mask = answer(box)[None]
        one = np.ones(1, np.float32)
        return ImagePrediction(mask, one, np.zeros((1, 4, 4), np.float32), one)

    monkeypatch.setattr(ImagePredictor, "predict", predict)
    return calls


def test_box_refinement_takes_the_decoders_outline_where_it_agrees(segmenter, monkeypatch):
    truth = _two_touching_discs()
    rough = truth.copy()
    rough[rough == 1] = 0  # the head found object 1 only in part: its left two thirds
    rough[(truth == 1) & (np.arange(truth.shape[1])[None, :] < 40)] = 1

    def answer(box):  # the decoder outlines the true object whose box centre it is given
        x = (box[0] + box[2]) / 2
        return truth == (1 if x < 45 else 2)

    calls = _fake_decoder(monkeypatch, answer)
    refined = segmenter.refine(np.zeros((*truth.shape, 3), np.float32), rough)
    assert len(calls) == 2
    # object 1 as the head found it spans columns 26..39: inclusive corners
    assert any(c[0] == 26 and c[2] == 39 for c in calls)
    assert np.array_equal(refined > 0, truth > 0)


def test_box_refinement_keeps_the_heads_object_when_the_decoder_disagrees(segmenter, monkeypatch):
    truth = _two_touching_discs()
    _fake_decoder(monkeypatch, lambda box: np.ones(truth.shape, bool))  # grabs everything
    refined = segmenter.refine(np.zeros((*truth.shape, 3), np.float32), truth)
    assert refined.max() == 2
    assert np.array_equal(refined > 0, truth > 0)


def test_an_unsure_distance_map_still_splits_touching_objects(segmenter):
    """Peaks at 0.3 instead of 1 (a head early in training): cores are relative."""
    truth = _two_touching_discs()
    fg, dist = _ideal_maps(truth)
    labels = segmenter.labels_from_maps(fg, 0.3 * dist, diameter=20)
    assert labels.max() == 2
