"""Tests of the domain randomisation: :class:`Style`, :func:`random_style`, :class:`Dynamics`."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sam2_synthetic import (
    FLUORESCENCE,
    MODALITIES,
    TRANSMITTED,
    Dynamics,
    Style,
    random_dynamics,
    random_style,
)

STYLES = [random_style(seed) for seed in range(400)]


def test_random_style_is_deterministic() -> None:
    assert random_style(7) == random_style(np.random.default_rng(7))
    assert random_style(7) != random_style(8)


def test_every_modality_is_drawn() -> None:
    counts = {m: sum(s.modality == m for s in STYLES) for m in MODALITIES}
    assert all(n >= 15 for n in counts.values()), counts
    assert set(MODALITIES) == set(FLUORESCENCE) | set(TRANSMITTED)
    assert 10 < sum(s.invert for s in STYLES) < 120  # inverted contrast sometimes


def test_styles_vary_widely() -> None:
    diameters = np.array([s.diameter for s in STYLES])
    assert diameters.min() < 8 and diameters.max() > 60  # wide fields and zoomed-in fields
    coverage = np.array([s.coverage for s in STYLES])
    assert coverage.min() < 0.05 and coverage.max() > 0.6  # sparse to confluent
    assert {s.dtype for s in STYLES} == {"uint8", "uint16", "float32"}
    assert {s.bit_depth for s in STYLES if s.dtype == "uint16"} == {12, 16}
    levels = np.array([s.grey_levels for s in STYLES])
    assert levels.min() < 300 and levels.max() > 20_000  # a few hundred .. most of 16 bits
    snr = np.array([s.snr for s in STYLES if s.fluorescent])
    assert snr.min() < 3 and snr.max() > 30
    assert any(s.nucleolus_contrast < 0 for s in STYLES)  # dim nucleoli
    assert any(s.nucleolus_contrast > 0.5 for s in STYLES)  # bright nucleoli
    assert np.mean([s.fixed_pattern > 0 for s in STYLES]) > 0.3
    assert np.mean([s.defocus_fraction > 0 for s in STYLES]) > 0.3


def test_random_styles_fit_their_range() -> None:
    for s in STYLES:
        if s.dtype != "float32":
            assert s.offset + s.grey_levels <= s.max_value
        assert 6 <= s.diameter <= 80


def test_forced_modality_and_small_shape() -> None:
    for seed in range(20):
        style = random_style(seed, modality="membrane", shape=(48, 48))
        assert style.modality == "membrane"
        assert style.diameter <= 16.5


@pytest.mark.parametrize(
    "changes",
    [
        {"modality": "confocal"},
        {"dtype": "int8"},
        {"dtype": "uint8", "bit_depth": 12},
        {"diameter": 1.0},
        {"coverage": 1.5},
        {"snr": 0.0},
        {"haze": -0.1},
        {"psf_sigma": float("nan")},
        {"dtype": "uint8", "bit_depth": 8, "grey_levels": 300.0},
    ],
)
def test_bad_styles_raise_value_error(changes: dict) -> None:
    with pytest.raises(ValueError, match="pass"):
        dataclasses.replace(Style(), **changes)
    with pytest.raises(ValueError, match="pass"):
        random_style(0, modality="xray")


def test_style_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Style().diameter = 3.0  # type: ignore[misc]


def test_dynamics() -> None:
    drawn = [random_dynamics(seed) for seed in range(100)]
    assert random_dynamics(3) == random_dynamics(3)
    assert any(np.hypot(*d.drift) > 0.5 for d in drawn)
    assert any(d.drift == (0.0, 0.0) for d in drawn)
    assert {d.mitosis_frames for d in drawn} == {1, 2, 3}
    for bad in ({"speed": -1}, {"persistence": 1.0}, {"mitosis_frames": 0}, {"drift": (np.inf, 0)}):
        with pytest.raises(ValueError, match="pass"):
            Dynamics(**bad)
