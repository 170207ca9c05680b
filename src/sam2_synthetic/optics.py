"""The microscope between the sample and the camera: blur, illumination, background, clutter.

:func:`_expected` turns the per-defocus-level maps of :func:`sam2_synthetic.raster._render`
into the expected image in relative units. Fluorescence: Gaussian PSF blur (wider for
defocused objects), out-of-focus haze, unlabelled specks, fibres and blurred ghost cells, an
additive background with mottled autofluorescence, all under an uneven illumination (smooth
gradient and vignetting). Transmitted light: the optical thickness is blurred the same way
and becomes phase contrast (dark cells with bright halos), brightfield (weak absorption plus
defocus rims) or DIC (a shadow-cast derivative along the shear direction) on a bright,
unevenly lit background. Contrast inversion is applied last.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage as ndi

from sam2_synthetic.style import Style


def _upsample(small: NDArray[np.float64], f: int, n: int, axis: int) -> NDArray[np.float64]:
    """Linear interpolation from block means of ``f`` pixels back to ``n`` along ``axis``."""
    m = small.shape[axis]
    pos = np.clip((np.arange(n) + 0.5) / f - 0.5, 0, m - 1)
    lo = pos.astype(np.int64)
    hi = np.minimum(lo + 1, m - 1)
    t = pos - lo
    if axis == 0:
        return small[lo] * (1 - t)[:, None] + small[hi] * t[:, None]
    return small[:, lo] * (1 - t) + small[:, hi] * t


def _blur(image: NDArray[np.float64], sigma: float) -> NDArray[np.float64]:
    """Gaussian blur of a 2D image; wide blurs are done on a reduced grid (fast, smooth)."""
    if sigma < 0.3:
        return image
    if sigma <= 5:
        return ndi.gaussian_filter(image, sigma, truncate=3.0)
    f = max(2, int(sigma / 2.5))
    h, w = image.shape
    ph, pw = -h % f, -w % f
    padded = np.pad(image, ((0, ph), (0, pw)), mode="edge") if ph or pw else image
    small = padded.reshape(padded.shape[0] // f, f, padded.shape[1] // f, f).mean(axis=(1, 3))
    small = ndi.gaussian_filter(small, sigma / f, truncate=3.0, mode="reflect")
    return _upsample(_upsample(small, f, h, 0), f, w, 1)


def _smooth(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> NDArray:
    """A smooth random field, zero mean and unit std, with about ``cells`` bumps per side."""
    bases = []
    for n in shape:
        centres = np.linspace(-0.2, 1.2, cells + 2)
        x = np.linspace(0, 1, n)[:, None]
        bases.append(np.exp(-(((x - centres) * (cells + 1) / 1.4) ** 2)))
    out = (bases[0] @ rng.standard_normal((cells + 2, cells + 2))) @ np.ascontiguousarray(
        bases[1].T
    )
    return (out - out.mean()) / (out.std() + 1e-12)


def _illumination(rng: np.random.Generator, shape: tuple[int, int], style: Style) -> NDArray:
    """Uneven illumination, mean about 1: a tilted plane, a smooth field and vignetting."""
    h, w = shape
    y = np.linspace(-1, 1, h)[:, None]
    x = np.linspace(-1, 1, w)[None, :]
    angle = rng.uniform(0, 2 * np.pi)
    plane = math.sin(angle) * y + math.cos(angle) * x
    field = 1 + style.gradient * (0.6 * plane + 0.4 * _smooth(rng, shape, 3))
    cy, cx = rng.uniform(-0.5, 0.5, 2)
    field = field * (1 - style.vignetting * ((y - cy) ** 2 + (x - cx) ** 2) / 4)
    return np.clip(field, 0.05, None)


@dataclass
class _Clutter:
    """Unlabelled things in the sample, as points in sample (row, col) coordinates."""

    specks: NDArray[np.float64]  # (P, 2) sharp points: dust, fragments, fibres
    speck_weight: NDArray[np.float64]  # (P,) integrated intensity (or thickness)
    blobs: NDArray[np.float64]  # (Q, 2) larger, softer specks
    blob_weight: NDArray[np.float64]
    blob_sigma: float
    ghosts: NDArray[np.float64]  # (G, 2) out-of-focus cells of other planes
    ghost_weight: NDArray[np.float64]
    ghost_sigma: float
    dark: NDArray[np.float64]  # (D, 2) absorbing specks in fluorescence
    dark_weight: NDArray[np.float64]


def _fibre(rng: np.random.Generator, shape: tuple[int, int], spacing: float) -> NDArray:
    """Points (P, 2) along a gently curving fibre or scratch across part of the field."""
    length = rng.uniform(0.2, 0.9) * max(shape)
    n = max(2, int(length / spacing))
    turn = np.cumsum(rng.normal(0, rng.uniform(0.002, 0.03), n)) + rng.uniform(0, 2 * np.pi)
    steps = spacing * np.column_stack([np.sin(turn), np.cos(turn)])
    return rng.uniform((0, 0), shape) + np.cumsum(steps, axis=0)


def _clutter(
    rng: np.random.Generator, shape: tuple[int, int], style: Style, margin: float = 0.0
) -> _Clutter:
    """Specks, fibres, soft blobs, ghosts and dark specks for ``style`` (peak heights ~1).

    Points are spread over the field grown by ``margin`` on each side (for a drifting stage).
    """
    lo = (-margin, -margin)
    hi = (shape[0] + margin, shape[1] + margin)
    area = (hi[0] - lo[0]) * (hi[1] - lo[1])
    psf2 = 2 * math.pi * style.psf_sigma**2
    n = rng.poisson(style.debris * area / 1e4)
    n_sharp = rng.binomial(n, 0.6)
    specks = [rng.uniform(lo, hi, (n_sharp, 2))]
    weights = [rng.lognormal(0.3, 0.6, n_sharp) * psf2]
    spacing = 0.5
    for _ in range(style.fibres):
        points = _fibre(rng, (hi[0] - lo[0], hi[1] - lo[1]), spacing) + lo
        specks.append(points)
        peak = rng.uniform(0.15, 1.0)
        line = peak * math.sqrt(2 * math.pi) * style.psf_sigma * spacing
        weights.append(np.full(len(points), line))
    blob_sigma = float(rng.uniform(1.5, 4.0))
    n_blobs = n - n_sharp
    n_ghosts = style.ghosts
    ghost_sigma = float(style.diameter * rng.uniform(0.3, 0.6) + style.defocus_sigma)
    n_dark = rng.poisson(0.5 * style.debris * area / 1e4) if style.fluorescent else 0
    return _Clutter(
        specks=np.concatenate(specks) if specks else np.zeros((0, 2)),
        speck_weight=np.concatenate(weights),
        blobs=rng.uniform(lo, hi, (n_blobs, 2)),
        blob_weight=rng.lognormal(-0.5, 0.5, n_blobs) * 2 * math.pi * blob_sigma**2,
        blob_sigma=blob_sigma,
        ghosts=rng.uniform(lo, hi, (n_ghosts, 2)),
        ghost_weight=rng.uniform(0.05, 0.3, n_ghosts) * 2 * math.pi * ghost_sigma**2,
        ghost_sigma=ghost_sigma,
        dark=rng.uniform(lo, hi, (n_dark, 2)),
        dark_weight=rng.uniform(0.2, 0.8, n_dark) * 2 * math.pi * blob_sigma**2,
    )


def _splat(
    points: NDArray, weights: NDArray, shape: tuple[int, int], shift: tuple[float, float]
) -> NDArray[np.float64]:
    """Points (P, 2) moved by ``shift``, spread bilinearly over the four nearest pixels."""
    h, w = shape
    if len(points) == 0:
        return np.zeros(shape)
    p = points + np.asarray(shift)
    base = np.floor(p).astype(np.int64)
    frac = p - base
    flat, vals = [], []
    for dy in (0, 1):
        for dx in (0, 1):
            yy, xx = base[:, 0] + dy, base[:, 1] + dx
            wy = frac[:, 0] if dy else 1 - frac[:, 0]
            wx = frac[:, 1] if dx else 1 - frac[:, 1]
            ok = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            flat.append(yy[ok] * w + xx[ok])
            vals.append((weights * wy * wx)[ok])
    return np.bincount(np.concatenate(flat), np.concatenate(vals), minlength=h * w).reshape(h, w)


@dataclass
class _Scope:
    """What stays fixed while the sample moves: illumination and the background texture."""

    illumination: NDArray[np.float64]
    mottle: NDArray[np.float64]  # autofluorescence texture, mean 1
    edge: float  # brightfield: defocus rims, bright (+) or dark (-) edges, -1 .. 1


def _scope(rng: np.random.Generator, shape: tuple[int, int], style: Style, tile: NDArray):
    """Draw the fixed parts of the microscope for ``style``."""
    h, w = shape
    mask = tile.shape[0] - 1
    grain = tile[np.arange(h)[:, None] & mask, (np.arange(w)[None, :] + 17) & mask]
    mottle = 0.6 * _smooth(rng, shape, 10) + 0.3 * _smooth(rng, shape, 3) + 0.3 * grain
    mottle = np.clip(1 + style.autofluorescence * mottle, 0.1, None)
    edge = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.1, 1.0))
    return _Scope(_illumination(rng, shape, style), mottle, edge)


def _expected(
    maps: NDArray[np.float64],
    style: Style,
    scope: _Scope,
    clutter: _Clutter,
    shift: tuple[float, float] = (0.0, 0.0),
    focus: float = 0.0,
) -> NDArray[np.float64]:
    """Expected image (H, W) in relative units from ``maps`` (3, H, W) of the objects.

    ``shift`` moves the clutter with the stage; ``focus`` adds blur to everything (pixels).
    """
    shape = maps.shape[1:]
    psf = math.hypot(style.psf_sigma, focus)
    defocus = style.defocus_sigma * (1.0 if style.fluorescent else 0.5)  # phase objects fade
    sigmas = (psf, math.hypot(psf, 0.5 * defocus), math.hypot(psf, defocus))
    sharp = maps[0] + _splat(clutter.specks, clutter.speck_weight, shape, shift)
    signal = _blur(sharp, sigmas[0])
    layers = [
        (maps[1], sigmas[1]),
        (maps[2], sigmas[2]),
        (
            _splat(clutter.blobs, clutter.blob_weight, shape, shift),
            math.hypot(psf, clutter.blob_sigma),
        ),
        (_splat(clutter.ghosts, clutter.ghost_weight, shape, shift), clutter.ghost_sigma),
    ]
    for layer, sigma in layers:
        if layer.any():
            signal += _blur(layer, sigma)
    if style.fluorescent:
        haze = style.haze * _blur(maps.sum(axis=0), max(6.0, 1.2 * style.diameter))
        out = scope.illumination * (signal + haze + style.background * scope.mottle)
        if len(clutter.dark):
            dark = _blur(
                _splat(clutter.dark, clutter.dark_weight, shape, shift), clutter.blob_sigma
            )
            out *= 1 - np.clip(dark, 0.0, 0.9)
        if style.invert:
            top = float(np.quantile(out[::4, ::4], 0.995))
            out = np.clip(1.05 * top - out, 0.0, None) + 0.02 * top
        return out
    c, d = style.contrast, style.diameter
    if style.modality == "phase":  # the halo: a high-pass of the optical thickness
        light = 1 - c * (0.4 * signal + 3.0 * (signal - _blur(signal, style.halo_width)))
    elif style.modality == "dic":
        gy, gx = np.gradient(signal)
        relief = math.cos(style.shear_angle) * gx + math.sin(style.shear_angle) * gy
        light = 1 + c * (0.3 * d * relief - 0.1 * signal)
    else:  # brightfield: weak absorption and the rims of a slight defocus
        rim = ndi.laplace(_blur(signal, max(1.0, 0.05 * d))) * (d * d / 40)
        light = 1 - c * (0.6 * signal - scope.edge * rim)
    uneven = np.sqrt(scope.illumination) * (1 + 0.08 * (scope.mottle - 1))
    light = light * uneven
    light = np.clip(light, 0.02, None)
    if style.invert:
        light = np.clip(2 * float(np.median(light[::4, ::4])) - light, 0.02, None)
    return light
