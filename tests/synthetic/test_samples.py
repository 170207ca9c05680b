"""Tests of the ready-made sample data (napari's sample menu)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from sam2_synthetic import (
    MODALITIES,
    SyntheticImage,
    SyntheticTimelapse,
    sample_field,
    sample_style,
    sample_timelapse,
    sample_zstack,
)


@pytest.mark.parametrize(
    ("make", "shape"),
    [
        (sample_field, (512, 512)),
        (sample_timelapse, (40, 256, 256)),
        (sample_zstack, (32, 192, 192)),
    ],
)
def test_samples_are_fast_typed_and_seeded(make, shape) -> None:
    start = time.perf_counter()
    data = make()
    assert time.perf_counter() - start < 6.0  # < 2 s on one free core
    image = data.movie if isinstance(data, SyntheticTimelapse) else data.image
    assert image.shape == data.labels.shape == shape
    assert image.dtype == np.uint16 and image.max() <= 4095  # a 12-bit camera
    assert data.labels.dtype == np.int32 and data.labels.max() > 5
    again = make(seed=0)
    np.testing.assert_array_equal(data.labels, again.labels)


def test_sample_timelapse_has_divisions() -> None:
    assert sample_timelapse(20, (128, 128)).n_divisions >= 1


@pytest.mark.parametrize("modality", MODALITIES)
def test_sample_field_of_every_modality(modality: str) -> None:
    data = sample_field(modality, (128, 128), seed=1)
    assert isinstance(data, SyntheticImage) and data.n_objects >= 3
    assert sample_style(modality).modality == modality


def test_unknown_sample_modality() -> None:
    with pytest.raises(ValueError, match="pass"):
        sample_field("xray")
