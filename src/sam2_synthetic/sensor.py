"""The camera: shot noise, read noise, fixed-pattern noise, gain, offset and quantisation.

A :class:`_Camera` is calibrated once per image, movie or z-stack (:func:`_camera`): its
photon budget follows the style's SNR, its gain maps the bright end of the first image to
``style.grey_levels`` above ``style.offset`` (so some images use a few hundred grey levels,
others most of the range), and its fixed pattern (row and column offsets, per-pixel gain,
a few hot pixels) is the same in every frame. :meth:`_Camera.expose` then makes an image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sam2_synthetic.style import Style


@dataclass
class _Camera:
    photons: float  # photo-electrons per relative intensity unit
    gain: float  # grey levels per electron
    offset: float  # grey levels
    read_noise: float  # electrons rms
    pattern: NDArray[np.float64]  # fixed offsets in electrons (row, col, hot pixels), (H, W)
    prnu: NDArray[np.float64]  # per-pixel gain, mean 1, (H, W)
    dtype: np.dtype
    max_value: float
    normalise: bool

    def expose(self, expected: NDArray[np.float64], rng: np.random.Generator) -> np.ndarray:
        """One exposure of ``expected`` (..., H, W) relative intensities, in the output dtype."""
        lam = np.clip(expected, 0.0, None) * (self.photons * self.prnu)
        electrons = _shot_noise(lam, rng)
        electrons += rng.normal(0.0, self.read_noise, expected.shape)
        electrons += self.pattern
        grey = self.offset + self.gain * electrons
        if self.dtype.kind == "f":
            grey = np.clip(grey, 0.0, self.max_value)
            if self.normalise:
                grey = grey / self.max_value
            return grey.astype(self.dtype)
        return np.clip(np.rint(grey), 0, self.max_value).astype(self.dtype)


def _shot_noise(lam: NDArray[np.float64], rng: np.random.Generator) -> NDArray[np.float64]:
    """Poisson counts of mean ``lam``: exact below 30 electrons, Gaussian above (faster)."""
    out = lam + np.sqrt(lam) * rng.standard_normal(lam.shape)
    low = lam < 30
    if low.any():
        out[low] = rng.poisson(lam[low])
    return out


def _photons(style: Style) -> float:
    """Electrons per unit so that the reference level has signal / noise ``style.snr``.

    The reference is the median object signal above the background (fluorescence) or the
    background itself (transmitted light).
    """
    snr, sigma = style.snr, style.read_noise
    k = snr * snr * ((1 + style.background) if style.fluorescent else 1.0)
    return 0.5 * (k + math.sqrt(k * k + 4 * snr * snr * sigma * sigma))


def _camera(style: Style, reference: NDArray[np.float64], rng: np.random.Generator) -> _Camera:
    """A camera for ``style`` whose gain puts the 99.5th percentile of ``reference`` (H, W)
    at ``style.grey_levels`` above the offset."""
    shape = reference.shape[-2:]
    photons = _photons(style)
    sample = reference[..., ::3, ::3]
    bright = max(float(np.quantile(sample, 0.995)), 1e-6)
    gain = style.grey_levels / (photons * bright)
    fp = style.fixed_pattern
    rows = rng.normal(0.0, 1.0, (shape[0], 1))
    cols = rng.normal(0.0, 1.0, (1, shape[1]))
    # row / column offsets up to ~0.3x the read noise: visible in the darkest images only
    pattern = (fp / 0.04) * style.read_noise * (0.15 * rows + 0.25 * cols) + np.zeros(shape)
    if fp > 0:  # a few hot pixels
        n_hot = rng.poisson(3e-4 * shape[0] * shape[1])
        where = rng.integers(0, shape[0], n_hot), rng.integers(0, shape[1], n_hot)
        pattern[where] += rng.uniform(0.1, 0.6, n_hot) * style.grey_levels / gain
    prnu = 1.0 + 0.3 * fp * rng.normal(0.0, 1.0, shape)
    return _Camera(
        photons=photons,
        gain=gain,
        offset=style.offset,
        read_noise=style.read_noise,
        pattern=pattern,
        prnu=np.clip(prnu, 0.5, 1.5),
        dtype=np.dtype(style.dtype),
        max_value=float(style.max_value),
        normalise=style.normalise,
    )
