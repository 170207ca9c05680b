"""Big images in window mode: windows read and normalise only their own pixels, the
intensity range is estimated once, and masks come back cropped with their offset."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
import torch

import sam2_engine as se
from sam2_engine import Normalization, WindowPolicy
from sam2_engine.imaging.lazy_plane import LazyPlane


def _image(shape=(300, 420), seed=0, dtype=np.uint16):
    rng = np.random.default_rng(seed)
    return rng.integers(100, 4000, shape).astype(dtype)


def test_a_region_is_what_to_rgb_gives_for_the_same_pixels():
    image = _image()
    plane = LazyPlane(image)
    full = se.to_rgb(image)
    region = plane.region(slice(10, 60), slice(200, 333))
    np.testing.assert_array_equal(region, full[10:60, 200:333])
    assert tuple(plane[0:5, 0:7].shape) == (5, 7, 3) and plane.shape == (300, 420, 3)


def test_channels_and_fixed_ranges_match_to_rgb():
    image = _image((64, 80, 4), seed=1)
    norm = Normalization("fixed", vmin=200, vmax=3000)
    plane = LazyPlane(image, channel_axis=-1, channels=(2, None, 0), normalization=norm)
    full = se.to_rgb(image, channel_axis=-1, channels=(2, None, 0), normalization=norm)
    np.testing.assert_array_equal(plane.full(), full)


def test_the_range_is_estimated_once_from_a_strided_sample():
    class Counting(np.ndarray):
        reads: ClassVar[list] = []

        def __getitem__(self, key):
            Counting.reads.append(key)
            return super().__getitem__(key)

    image = _image((4096, 2048)).view(Counting)
    plane = LazyPlane(image)
    first = plane.stats
    plane.region(slice(0, 10), slice(0, 10))
    plane.region(slice(100, 110), slice(0, 10))
    assert plane.stats is first
    strided = [k for k in Counting.reads if isinstance(k, tuple) and k[0].step not in (None, 1)]
    assert len(strided) == 1, "one subsample for the range, then only regions"


def test_nan_is_refused_when_a_window_reads_it():
    image = np.ones((40, 40), dtype=np.float32)
    image[5, 5] = np.nan
    plane = LazyPlane(image, stats=(0.0, 1.0))
    plane.region(slice(20, 30), slice(20, 30))
    with pytest.raises(ValueError, match="NaN"):
        plane.region(slice(0, 10), slice(0, 10))


def test_a_bad_layout_gets_one_sentence():
    with pytest.raises(ValueError, match="channel_axis=-1"):
        LazyPlane(np.zeros((10, 10, 7), np.uint16))


@pytest.fixture(scope="module")
def windowed():
    torch.manual_seed(0)
    model = se.build_model("test_tiny", device="cpu")
    policy = WindowPolicy(object_fraction=0.3, probe_sides=(32, 64))
    return se.ImagePredictor(model, windows=policy)


def test_window_mode_keeps_the_image_and_returns_cropped_masks(windowed):
    image = _image((600, 900), seed=3)
    windowed.set_image(image)
    lazy = windowed._focus._images[0]
    assert lazy.raw is image, "the image is not copied"
    res = windowed.predict(points=[[700, 100]], labels=[1])
    crop = res.crop
    assert crop.frame_hw == (600, 900) and crop.masks.shape[0] == 3
    assert crop.masks.shape[1] < 600 and crop.masks.shape[2] < 900
    full = res.masks  # built on demand from the crop
    assert full.shape == (3, 600, 900)
    np.testing.assert_array_equal(full[(slice(None), *crop.slices)], crop.masks)
    outside = full.copy()
    outside[(slice(None), *crop.slices)] = False
    assert not outside.any()
    np.testing.assert_array_equal(res.mask, full[int(res.best)])


def test_window_mode_gives_the_same_masks_as_a_normalised_frame(windowed):
    image = _image((500, 500), seed=4)
    windowed.set_image(image)
    lazy = windowed.predict(points=[[250, 260]], labels=[1]).masks
    windowed.set_image(se.NormalizedFrame(se.to_rgb(image)))
    eager = windowed.predict(points=[[250, 260]], labels=[1]).masks
    np.testing.assert_array_equal(lazy, eager)
