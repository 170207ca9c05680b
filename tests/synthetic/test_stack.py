"""Tests of the realistic z-stacks: :func:`microscopy_zstack`."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sam2_synthetic import microscopy_zstack, sample_style

SHAPE = (80, 80)


def nuclear(**changes):
    base = {"diameter": 24.0, "coverage": 0.3, "snr": 30.0, "debris": 0.0, "haze": 0.05}
    return dataclasses.replace(sample_style("nuclear"), **(base | changes))


def planes_spanned(labels: np.ndarray) -> np.ndarray:
    present = np.stack([(labels == k).any(axis=(1, 2)) for k in range(1, labels.max() + 1)])
    return present.sum(axis=1)


def test_same_seed_gives_identical_stacks() -> None:
    a, b = microscopy_zstack(8, (64, 64), seed=1), microscopy_zstack(8, (64, 64), seed=1)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.labels, microscopy_zstack(8, (64, 64), seed=2).labels)


@pytest.mark.parametrize("seed", range(3))
def test_random_stacks(seed: int) -> None:
    data = microscopy_zstack(12, SHAPE, seed=seed)
    assert data.image.shape == data.labels.shape == (12, *SHAPE)
    assert data.labels.dtype == np.int32
    ids = np.unique(data.labels)
    np.testing.assert_array_equal(ids, np.arange(ids.size))
    assert data.n_objects >= 1


def test_objects_are_3d_and_brighter() -> None:
    data = microscopy_zstack(24, SHAPE, seed=0, style=nuclear(), z_step=2.0)
    spans = planes_spanned(data.labels)
    assert np.median(spans) >= 4
    image = data.image.astype(np.float64)
    assert image[data.labels > 0].mean() > 1.5 * image[data.labels == 0].mean()
    shifted = np.roll(data.labels, 6, axis=2)
    assert image[data.labels > 0].mean() > image[shifted > 0].mean()


def test_coarser_z_steps_give_fewer_planes_per_object() -> None:
    style = nuclear()
    fine = planes_spanned(microscopy_zstack(30, SHAPE, seed=1, style=style, z_step=1.5).labels)
    coarse = planes_spanned(microscopy_zstack(12, SHAPE, seed=1, style=style, z_step=5.0).labels)
    assert np.median(fine) > 2 * np.median(coarse)


def test_blur_is_longer_along_z() -> None:
    """A point-like speck spreads over more physical distance along z than across."""
    style = nuclear(coverage=0.01, debris=4.0, haze=0.0, snr=300.0, background=0.01)
    style = dataclasses.replace(style, dtype="float32", bit_depth=16, grey_levels=2000.0)
    data = microscopy_zstack(30, SHAPE, seed=3, style=style, z_step=1.0, attenuation=0.0)
    image = data.image.astype(np.float64) - np.median(data.image)
    image[data.labels > 0] = 0
    z, y, x = np.unravel_index(np.argmax(image), image.shape)

    def width(profile: np.ndarray) -> float:
        profile = np.clip(profile, 0, None)
        pos = np.arange(profile.size) - profile.size // 2
        return float(np.sqrt((profile * pos**2).sum() / profile.sum()))

    half = 6
    axial = image[max(z - half, 0) : z + half + 1, y, x]
    lateral = image[z, y, max(x - half, 0) : x + half + 1]
    assert axial.size == lateral.size == 2 * half + 1
    assert width(axial) > 1.8 * width(lateral)


def test_attenuation_darkens_deep_planes() -> None:
    style = nuclear(background=0.01, gradient=0.0, vignetting=0.0)
    data = microscopy_zstack(16, SHAPE, seed=4, style=style, z_step=2.0, attenuation=2.0)
    image, labels = data.image.astype(np.float64) - style.offset, data.labels
    top = image[:5][labels[:5] > 0].mean()
    bottom = image[-5:][labels[-5:] > 0].mean()
    assert bottom < 0.6 * top


@pytest.mark.parametrize("modality", ["membrane", "cytoplasm"])
def test_whole_cell_stains(modality: str) -> None:
    data = microscopy_zstack(10, SHAPE, seed=0, modality=modality)
    assert data.n_objects >= 1


@pytest.mark.parametrize(
    "call",
    [
        lambda: microscopy_zstack(3),
        lambda: microscopy_zstack(8, z_step=0),
        lambda: microscopy_zstack(8, attenuation=-1),
        lambda: microscopy_zstack(8, modality="phase"),
        lambda: microscopy_zstack(8, style=sample_style("dic")),
        lambda: microscopy_zstack(8, (8, 8)),
    ],
)
def test_bad_arguments_raise_value_error(call) -> None:
    with pytest.raises(ValueError, match="pass"):
        call()
