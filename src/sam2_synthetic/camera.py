"""Optics and camera of the simulated widefield microscope.

The lateral PSF width, a smooth uneven background (autofluorescence and vignetting), fine
grain and small unlabelled debris on the sample, and the camera itself: Poisson shot noise,
Gaussian read noise, gain and an offset that keeps dark pixels above 0, then rounding and
clipping to the output dtype. Intensities before :func:`_expose` are in units of the mean
nuclear signal.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage as ndi

_READ_NOISE = 1.6  # camera read noise, electrons rms
_BACKGROUND = 0.12  # mean background relative to the mean nuclear signal
_PSF_SIGMA = 1.1  # lateral PSF, Gaussian sigma in pixels


def _smooth_field(rng: np.random.Generator, shape: tuple[int, ...], cells: int = 4) -> NDArray:
    """A smooth random field with zero mean and unit std (cubic spline of a coarse grid)."""
    coarse = rng.normal(size=(cells + 2,) * len(shape))
    coords = np.meshgrid(*[np.linspace(1, cells, n) for n in shape], indexing="ij", sparse=False)
    out = ndi.map_coordinates(coarse, coords, order=3, mode="nearest")
    return (out - out.mean()) / (out.std() + 1e-12)


def _background(rng: np.random.Generator, shape: tuple[int, int]) -> NDArray[np.float64]:
    """Uneven illumination and autofluorescence, mean about ``_BACKGROUND``."""
    rows = np.linspace(-1, 1, shape[0])[:, None] - rng.uniform(-0.4, 0.4)
    cols = np.linspace(-1, 1, shape[1])[None, :] - rng.uniform(-0.4, 0.4)
    vignette = 1 - 0.18 * (rows**2 + cols**2)
    field_ = 1 + 0.2 * _smooth_field(rng, shape)
    out = vignette * field_
    return _BACKGROUND * out / out.mean()


def _fine_texture(rng: np.random.Generator, shape: tuple[int, ...]) -> NDArray[np.float64]:
    grain = ndi.gaussian_filter(rng.normal(size=shape), 0.8)
    return 1 + 0.35 * grain / (grain.std() + 1e-12)


def _debris(rng: np.random.Generator, shape: tuple[int, int], n: int) -> NDArray[np.float64]:
    """A few small bright specks (dust, dead-cell fragments) that are not labelled."""
    out = np.zeros(shape)
    rows = rng.integers(0, shape[0], n)
    cols = rng.integers(0, shape[1], n)
    out[rows, cols] = rng.uniform(3, 10, n)
    return ndi.gaussian_filter(out, 1.0)


def _expose(
    expected: NDArray[np.float64], snr: float, rng: np.random.Generator, dtype: np.dtype
) -> np.ndarray:
    """Camera: shot noise, read noise, gain and offset; returns ``expected.shape`` in ``dtype``.

    ``expected`` is in units of the mean nuclear signal. The photon budget is chosen so that
    (mean nuclear signal) / (noise std inside nuclei) equals ``snr``.
    """
    k = snr * snr * (1 + _BACKGROUND)
    photons = 0.5 * (k + math.sqrt(k * k + 4 * snr * snr * _READ_NOISE**2))
    electrons = rng.poisson(np.clip(expected, 0, None) * photons).astype(np.float64)
    electrons += rng.normal(0.0, _READ_NOISE, expected.shape)
    if dtype.kind in "ui" and np.iinfo(dtype).max < 4096:  # 8-bit: nuclei around 40% of range
        offset, level = 0.03 * np.iinfo(dtype).max, 0.4 * np.iinfo(dtype).max
    else:  # 16-bit camera: offset 100+, mean nucleus ~2000 grey levels above it
        offset, level = 100.0, 2000.0
    gain = level / photons  # grey levels per electron
    offset += 5 * gain * _READ_NOISE  # like a camera's bias: dark pixels are not clipped at 0
    grey = offset + electrons * gain
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        return np.clip(np.rint(grey), info.min, info.max).astype(dtype)
    return grey.astype(dtype)
