"""Tests of the realistic still fields: :func:`microscopy_image` and friends."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from scipy import ndimage as ndi

from sam2_synthetic import (
    MODALITIES,
    Style,
    microscopy_image,
    random_microscopy_images,
    sample_style,
)

SHAPE = (128, 128)


def clean(modality: str, **changes) -> Style:
    """A well-exposed style of ``modality`` with a fixed look."""
    base = {
        "snr": 40.0 if modality in ("nuclear", "cytoplasm", "membrane") else 150.0,
        "debris": 0.0,
        "fibres": 0,
        "ghosts": 0,
        "dim_fraction": 0.0,
        "defocus_fraction": 0.0,
        "coverage": 0.25,
        "diameter": 20.0,
    }
    return dataclasses.replace(sample_style(modality), **(base | changes))


def assert_consecutive(labels: np.ndarray) -> None:
    ids = np.unique(labels)
    np.testing.assert_array_equal(ids, np.arange(ids.size))


def ring(labels: np.ndarray, width: int) -> np.ndarray:
    """Background pixels within ``width`` pixels of an object."""
    grown = ndi.binary_dilation(labels > 0, iterations=width)
    return grown & (labels == 0)


def boundary_gradient(image: np.ndarray, labels: np.ndarray) -> float:
    """Mean gradient magnitude on the object outlines over its mean on the whole image."""
    smooth = ndi.gaussian_filter(image.astype(np.float64), 1.0)
    grad = np.hypot(*np.gradient(smooth))
    edge = ndi.binary_dilation(labels > 0) & ~ndi.binary_erosion(labels > 0)
    return float(grad[edge].mean() / grad.mean())


def contrast(image: np.ndarray, labels: np.ndarray, modality: str) -> float:
    """How much the objects stand out from their surroundings in the modality's sense."""
    image = image.astype(np.float64)
    inside, near = image[labels > 0].mean(), image[ring(labels, 3)].mean()
    noise = image[labels == 0].std() + 1e-9
    if modality in ("nuclear", "cytoplasm"):  # brighter than around them
        return (inside - near) / noise
    if modality == "membrane":  # bright outlines
        outline = (labels > 0) & ~ndi.binary_erosion(labels > 0, iterations=2)
        return (image[outline].mean() - image[ring(labels, 4) & ~ring(labels, 1)].mean()) / noise
    if modality == "phase":  # dark cells, bright halo around them
        return (near - inside) / noise
    return boundary_gradient(image, labels) - 1  # brightfield, DIC: edges at the outlines


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_identical_fields() -> None:
    for seed in (0, 5, (3, 4)):
        a, b = microscopy_image(SHAPE, seed=seed), microscopy_image(SHAPE, seed=seed)
        np.testing.assert_array_equal(a.image, b.image)
        np.testing.assert_array_equal(a.labels, b.labels)
    c = microscopy_image(SHAPE, seed=1)
    assert not np.array_equal(c.labels, microscopy_image(SHAPE, seed=2).labels)


def test_fixed_style_keeps_the_layout_across_modalities() -> None:
    style = clean("nuclear")
    labels = [
        microscopy_image(SHAPE, seed=4, style=dataclasses.replace(style, modality=m)).labels
        for m in ("nuclear", "dic")
    ]
    np.testing.assert_array_equal(*labels)


def test_random_images_are_reproducible_one_by_one() -> None:
    fields = list(random_microscopy_images(3, (64, 64), seed=9))
    assert len(fields) == 3
    np.testing.assert_array_equal(fields[2].image, microscopy_image((64, 64), seed=(9, 2)).image)
    assert len({f.image.tobytes() for f in fields}) == 3


# --------------------------------------------------------------------------- labels match the image


@pytest.mark.parametrize("modality", MODALITIES)
def test_labels_sit_on_the_objects(modality: str) -> None:
    """Objects stand out in the modality's sense, and would not if the labels were shifted."""
    data = microscopy_image(SHAPE, seed=2, style=clean(modality))
    assert data.n_objects >= 5
    assert_consecutive(data.labels)
    true = contrast(data.image, data.labels, modality)
    shifted = contrast(data.image, np.roll(data.labels, (7, -6), axis=(0, 1)), modality)
    assert true > 1.0 and true > 2 * shifted, (true, shifted)


@pytest.mark.parametrize("modality", ["nuclear", "phase"])
def test_inverted_contrast(modality: str) -> None:
    style = clean(modality)
    plain = microscopy_image(SHAPE, seed=3, style=style)
    inverted = microscopy_image(SHAPE, seed=3, style=dataclasses.replace(style, invert=True))
    sign = contrast(plain.image, plain.labels, modality)
    assert sign > 1 and contrast(inverted.image, inverted.labels, modality) < -1


def test_random_fields_have_labels_that_match() -> None:
    """Over random styles the outlines carry more edge than the rest of the image."""
    scores = []
    for seed in range(24):
        data = microscopy_image(SHAPE, seed=seed)
        if data.n_objects:
            assert_consecutive(data.labels)
            scores.append(boundary_gradient(data.image, data.labels))
    assert len(scores) >= 20
    assert np.median(scores) > 1.5 and np.mean(np.array(scores) > 1.0) > 0.85


# --------------------------------------------------------------------------- objects


def equivalent_diameters(labels: np.ndarray) -> np.ndarray:
    inner = labels.copy()
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    inner[np.isin(inner, border)] = 0
    areas = np.bincount(inner.ravel())[1:]
    return 2 * np.sqrt(areas[areas > 0] / np.pi)


@pytest.mark.parametrize("diameter", [7.0, 24.0, 60.0])
def test_object_size_follows_the_style(diameter: float) -> None:
    style = clean("nuclear", diameter=diameter, size_spread=0.1, coverage=0.3, overlap=0.0)
    style = dataclasses.replace(style, mitotic_fraction=0.0, dividing_fraction=0.0)
    side = 128 if diameter < 10 else 384
    d = equivalent_diameters(microscopy_image((side, side), seed=1, style=style).labels)
    assert d.size >= 3
    assert 0.75 * diameter < np.median(d) < 1.2 * diameter


def test_confluent_fields_have_touching_objects() -> None:
    style = clean("membrane", coverage=0.7, clustering=0.8, overlap=0.1, diameter=20.0)
    labels = microscopy_image(SHAPE, seed=0, style=style).labels
    pairs = set()
    for a, b in ((labels[1:], labels[:-1]), (labels[:, 1:], labels[:, :-1])):
        touch = (a != b) & (a > 0) & (b > 0)
        pairs |= {tuple(sorted(p)) for p in zip(a[touch], b[touch], strict=True)}
    touching = {label for pair in pairs for label in pair}
    assert len(touching) > 0.6 * labels.max()  # most objects touch a neighbour
    sparse = microscopy_image(SHAPE, seed=0, style=dataclasses.replace(style, coverage=0.05))
    assert sparse.n_objects < labels.max() / 4


def test_dim_and_bright_objects_in_one_field() -> None:
    style = clean("nuclear", dim_fraction=0.3, brightness_spread=0.3, coverage=0.35)
    data = microscopy_image((192, 192), seed=0, style=style)
    image = data.image.astype(np.float64) - style.offset
    means = ndi.mean(image, data.labels, np.arange(1, data.n_objects + 1))
    assert means.max() > 5 * means.min()
    assert np.mean(means < 0.3 * np.median(means)) > 0.1


def test_mitoses_are_small_and_bright() -> None:
    style = clean("nuclear", mitotic_fraction=0.4, dividing_fraction=0.0, size_spread=0.05)
    data = microscopy_image((192, 192), seed=3, style=style)
    image = data.image.astype(np.float64)
    ids = np.arange(1, data.n_objects + 1)
    means, areas = ndi.mean(image, data.labels, ids), ndi.sum(1, data.labels, ids)
    bright = means > np.quantile(means, 0.7)
    assert np.median(areas[bright]) < 0.8 * np.median(areas[~bright])


def test_debris_is_not_labelled() -> None:
    style = clean("nuclear", coverage=0.05)
    tidy = microscopy_image(SHAPE, seed=6, style=style)
    dirty = microscopy_image(SHAPE, seed=6, style=dataclasses.replace(style, debris=4.0, fibres=3))
    np.testing.assert_array_equal(tidy.labels, dirty.labels)
    threshold = np.quantile(tidy.image[tidy.labels > 0], 0.2)
    assert (dirty.image[dirty.labels == 0] > threshold).sum() > 3 * (
        tidy.image[tidy.labels == 0] > threshold
    ).sum() + 10


# --------------------------------------------------------------------------- camera


def test_dtypes_and_ranges() -> None:
    cases = {
        ("uint8", 8, 0.0, 200.0): (0, 255),
        ("uint16", 12, 100.0, 3000.0): (0, 4095),
        ("uint16", 16, 500.0, 30000.0): (0, 65535),
        ("float32", 16, 100.0, 3000.0): (0.0, 1.0),
    }
    for (dtype, bits, offset, levels), (low, high) in cases.items():
        style = dataclasses.replace(
            clean("nuclear"),
            dtype=dtype,
            bit_depth=bits,
            offset=offset,
            grey_levels=levels,
            normalise=True,
        )
        image = microscopy_image(SHAPE, seed=0, style=style).image
        assert image.dtype == np.dtype(dtype)
        assert low <= image.min() and image.max() <= high
        assert image.max() > 0.5 * (offset + levels) * (high / (2**bits - 1))


def test_grey_levels_used_follow_the_style() -> None:
    style = dataclasses.replace(clean("nuclear"), bit_depth=16, grey_levels=250.0, offset=50.0)
    few = np.unique(microscopy_image(SHAPE, seed=0, style=style).image).size
    style = dataclasses.replace(style, grey_levels=20000.0)
    many = np.unique(microscopy_image(SHAPE, seed=0, style=style).image).size
    assert 50 < few < 400 < 2000 < many
    assert microscopy_image(SHAPE, seed=0, style=style, dtype="uint8").image.dtype == np.uint8


def test_random_fields_vary() -> None:
    fields = [microscopy_image((64, 64), seed=s) for s in range(30)]
    assert len({f.image.dtype for f in fields}) == 3
    counts = [f.n_objects for f in fields]
    assert min(counts) <= 4 and max(counts) >= 20


def test_a_field_is_fast() -> None:
    microscopy_image(seed=0)
    start = time.perf_counter()
    for seed in range(20):
        microscopy_image((256, 256), seed=seed)
    assert (time.perf_counter() - start) / 20 < 0.25  # ~0.03 s on one free core


@pytest.mark.parametrize(
    "call",
    [
        lambda: microscopy_image((16, 16)),
        lambda: microscopy_image((64, 64, 3)),
        lambda: microscopy_image(modality="xray"),
        lambda: microscopy_image(dtype="int16"),
        lambda: random_microscopy_images(-1),
    ],
)
def test_bad_arguments_raise_value_error(call) -> None:
    with pytest.raises(ValueError, match="pass"):
        call()
