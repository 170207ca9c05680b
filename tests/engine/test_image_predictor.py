"""ImagePredictor behaviour on scientific images and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import sam2_engine as se
from sam2_engine.imaging.frames import Normalization
from sam2_synthetic import fluorescence_image


@pytest.fixture(scope="module")
def predictor():
    torch.manual_seed(0)
    return se.ImagePredictor(se.build_model("test_small", device="cpu"))


@pytest.fixture(scope="module")
def nuclei():
    return fluorescence_image((180, 220), n_nuclei=8, seed=1)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float32, np.float64])
def test_any_dtype_gives_masks_at_the_original_size(predictor, nuclei, dtype):
    img = nuclei.image.astype(np.float64)
    img = (img / img.max() * (255 if dtype == np.uint8 else 3000)).astype(dtype)
    predictor.set_image(img)
    out = predictor.predict(points=[[100, 80]], labels=[1])
    assert out.masks.shape == (3, 180, 220) and out.masks.dtype == bool
    assert out.scores.shape == (3,) and out.logits.shape == (3, 64, 64)
    assert out.mask.shape == (180, 220)


def test_uint16_is_normalised_by_percentiles_not_by_its_dtype_range(predictor, nuclei):
    """A uint16 image using a few thousand grey levels must give the same embedding as
    the same image stretched to the full range: percentiles remove the scale."""
    predictor.set_image(nuclei.image)
    a = predictor.features.embed.clone()
    stretched = (nuclei.image.astype(np.float64) * 10).clip(0, 65535).astype(np.uint16)
    predictor.set_image(stretched)
    torch.testing.assert_close(predictor.features.embed, a, atol=1e-4, rtol=1e-4)


def test_multichannel_with_channel_axis(predictor, nuclei):
    stack = np.stack([nuclei.image, nuclei.image // 2, nuclei.image // 3], axis=0)  # (C, H, W)
    predictor.set_image(stack, channel_axis=0)
    assert predictor.original_sizes == [(180, 220)]
    predictor.set_image(stack, channel_axis=0, channels=[1])
    assert predictor.predict(points=[[10, 10]], labels=[1]).masks.shape[1:] == (180, 220)


def test_batch_of_images_equals_one_at_a_time(predictor, nuclei):
    other = fluorescence_image((120, 150), n_nuclei=4, seed=5).image
    predictor.set_images([nuclei.image, other])
    batched = [predictor.predict(points=[[40, 30]], labels=[1], image_index=i) for i in (0, 1)]
    for i, img in enumerate([nuclei.image, other]):
        predictor.set_image(img)
        single = predictor.predict(points=[[40, 30]], labels=[1])
        np.testing.assert_allclose(batched[i].logits, single.logits, atol=1e-4)


def test_several_boxes_in_one_call(predictor, nuclei):
    predictor.set_image(nuclei.image)
    boxes = [[10, 10, 60, 60], [100, 80, 200, 170], [0, 0, 220, 180]]
    out = predictor.predict_boxes(boxes)
    assert out.masks.shape == (3, 1, 180, 220)
    for i, box in enumerate(boxes):
        single = predictor.predict(box=box, multimask=False)
        np.testing.assert_allclose(out.logits[i], single.logits, atol=1e-4)


def test_refinement_feeds_back_logits(predictor, nuclei):
    predictor.set_image(nuclei.image)
    first = predictor.predict(points=[[100, 80]], labels=[1])
    again = predictor.predict(
        points=[[100, 80], [20, 20]],
        labels=[1, 0],
        mask_input=first.logits[first.best],
        multimask=False,
    )
    plain = predictor.predict(points=[[100, 80], [20, 20]], labels=[1, 0], multimask=False)
    assert not np.allclose(again.logits, plain.logits)  # the mask prompt changed the result


def test_hole_filling_runs_on_cpu(nuclei):
    model = se.build_model("test_small", device="cpu")
    plain = se.ImagePredictor(model)
    filled = se.ImagePredictor(model, max_hole_area=10_000)
    for p in (plain, filled):
        p.set_image(nuclei.image)
    a = plain.predict(points=[[100, 80]], labels=[1]).masks
    b = filled.predict(points=[[100, 80]], labels=[1]).masks
    assert (b | ~a).all()  # filling only ever adds pixels
    assert b.sum() >= a.sum()


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(points=[[500, 10]], labels=[1]), ValueError, "outside the image"),
        (dict(points=[[10, -1]], labels=[1]), ValueError, "outside the image"),
        (dict(points=[[10, 10]], labels=[1, 0]), ValueError, "one label"),
        (dict(points=[[10, 10]]), ValueError, "together"),
        (dict(points=[10, 10, 10], labels=[1]), ValueError, "shape"),
        (dict(box=[10, 10, 5, 50]), ValueError, "x1 < x0"),
        (dict(box=[300, 300, 400, 400]), ValueError, "outside the image"),
        (dict(mask_input=np.zeros((10, 10))), ValueError, "logits of shape"),
        (dict(), ValueError, "at least one prompt"),
        (dict(points=[[np.nan, 10]], labels=[1]), ValueError, "NaN"),
    ],
)
def test_bad_prompts_are_refused_clearly(predictor, nuclei, kwargs, error, message):
    predictor.set_image(nuclei.image)
    with pytest.raises(error, match=message):
        predictor.predict(**kwargs)
    assert predictor.predict(points=[[10, 10]], labels=[1]).masks.shape[1:] == (180, 220)


@pytest.mark.parametrize(
    "image, message",
    [
        (np.full((30, 30), np.nan, np.float32), "NaN"),
        (np.zeros((4, 30, 30, 30), np.uint8), "dimension|shape|channel"),
        (np.zeros((0, 30), np.uint8), "empty"),
        (np.zeros(30, np.uint8), "dimension|shape"),
    ],
)
def test_bad_images_are_refused(image, message):
    predictor = se.ImagePredictor(se.build_model("test_tiny", device="cpu"))
    with pytest.raises(ValueError, match=message):
        predictor.set_image(image)
    assert not predictor.is_image_set


def test_predict_before_set_image():
    predictor = se.ImagePredictor(se.build_model("test_tiny", device="cpu"))
    with pytest.raises(RuntimeError, match="set_image"):
        predictor.predict(points=[[1, 1]], labels=[1])


def test_fixed_normalisation_for_napari_contrast_limits(nuclei):
    predictor = se.ImagePredictor(se.build_model("test_tiny", device="cpu"))
    predictor.set_image(nuclei.image, normalization=Normalization("fixed", vmin=0, vmax=4000))
    assert predictor.is_image_set
