"""What one object looks like in each modality: its intensity (or thickness) on its window.

The fluorescence modalities give fluorophore density in units of the median object signal:
a nuclear stain (dome-shaped density, chromatin texture, nucleoli, a brighter rim), a
cytoplasm stain (the whole cell, brighter around the nucleus, the nucleus optionally darker)
and a membrane stain (a bright band along the outline over a dim interior). The
transmitted-light modalities give the optical thickness of the cell (thicker in the middle
and over the nucleus, granular), which :mod:`sam2_synthetic.optics` turns into phase
contrast, brightfield or DIC. Interior texture is read from a periodic noise tile in each
object's own coordinates, so it moves and turns with the object.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage as ndi

from sam2_synthetic.population import DAUGHTER, INTERPHASE, _Population
from sam2_synthetic.raster import ValueFunction, _Patch
from sam2_synthetic.style import Style


def _texture_tile(rng: np.random.Generator, style: Style) -> NDArray[np.float64]:
    """A periodic (S, S) noise tile, zero mean and unit std, S a power of two (64 .. 512).

    Coarse blobs of ``style.texture_scale`` times the median radius plus a finer grain.
    """
    grain = max(0.7, style.texture_scale * style.diameter / 2)
    size = 64
    while size < min(512, 3 * style.diameter):
        size *= 2
    coarse = ndi.gaussian_filter(rng.standard_normal((size, size)), grain, mode="wrap")
    fine = ndi.gaussian_filter(rng.standard_normal((size, size)), max(0.6, grain / 3), mode="wrap")
    tile = coarse / (coarse.std() + 1e-12) + 0.5 * fine / (fine.std() + 1e-12)
    return tile / (tile.std() + 1e-12)


def _sample(tile: NDArray, pop: _Population, patch: _Patch, scale: NDArray) -> NDArray:
    """The tile at the patch pixels, in object coordinates (``scale`` > 1: finer grain)."""
    mask = tile.shape[0] - 1
    offset = pop.tex[patch.index]
    iy = (patch.lv * scale + offset[:, 0, None, None]).astype(np.int64) & mask
    ix = (patch.lu * scale + offset[:, 1, None, None]).astype(np.int64) & mask
    return tile[iy, ix]


def _nucleus_distance(pop: _Population, patch: _Patch) -> tuple[NDArray, NDArray]:
    """Normalised radius of the cell's nucleus and the distance outside it (pixels)."""
    a, b = patch.per(pop.a), patch.per(pop.b)
    du, dv, ratio = (patch.per(pop.nucleus[:, k]) for k in range(3))
    stretch = (a / b) ** 0.25  # the nucleus is rounder than the cell and fits inside it
    na = np.minimum(ratio * np.sqrt(a * b) * stretch, 0.8 * a)
    nb = np.minimum(ratio * np.sqrt(a * b) / stretch, 0.75 * b)
    rn = np.hypot((patch.lu - du * a) / na, (patch.lv - dv * b) / nb)
    return rn, (rn - 1) * np.sqrt(na * nb)


def _values(style: Style, tile: NDArray) -> ValueFunction:
    """The value function of :func:`sam2_synthetic.raster._render` for ``style``."""

    def value(pop: _Population, patch: _Patch) -> NDArray[np.float64]:
        kind = patch.per(pop.kind)
        condensed = kind != INTERPHASE
        scale = np.where(condensed, 2.0, 1.0)
        tex = _sample(tile, pop, patch, scale)
        amp = style.texture * np.where(condensed, 1.8, 1.0)
        dome = np.sqrt(np.clip(1 - patch.rho * patch.rho, 0.0, 1.0))
        if style.modality == "nuclear":
            out = _nuclear(style, pop, patch, dome, tex, amp, condensed)
        elif style.modality == "cytoplasm":
            out = _cytoplasm(style, pop, patch, dome, tex, amp, condensed)
        elif style.modality == "membrane":
            out = _membrane(style, patch, tex, amp, condensed)
        else:
            out = _thickness(style, pop, patch, dome, tex, amp, kind)
        bright = patch.per(pop.bright)
        if not style.fluorescent:  # thickness varies less than brightness: no invisible cells
            bright = np.sqrt(bright)
        return out * bright * patch.cover

    return value


def _nuclear(style, pop, patch, dome, tex, amp, condensed) -> NDArray:
    profile = (1 - style.dome) + style.dome * dome
    out = profile * (1 + amp * tex)
    if style.rim > 0:
        width = np.maximum(0.8, 0.1 * np.sqrt(patch.per(pop.a) * patch.per(pop.b)))
        out = out + np.where(condensed, 0.0, style.rim) * np.exp(np.minimum(patch.sd, 0) / width)
    nucleoli = pop.nucleoli[patch.index]
    if np.any(nucleoli[..., 3] != 0):
        u, v = patch.lu / patch.per(pop.a), patch.lv / patch.per(pop.b)
        for m in range(nucleoli.shape[1]):
            nu, nv, sigma, height = (nucleoli[:, m, k, None, None] for k in range(4))
            if not np.any(height):
                continue
            out = out + height * np.exp(-((u - nu) ** 2 + (v - nv) ** 2) / (2 * sigma * sigma))
    return np.clip(out, 0.05, None)


def _cytoplasm(style, pop, patch, dome, tex, amp, condensed) -> NDArray:
    _rn, outside = _nucleus_distance(pop, patch)
    radius = np.sqrt(patch.per(pop.a) * patch.per(pop.b))
    perinuclear = np.exp(-np.maximum(outside, 0) / (0.5 * radius))
    profile = (1 - style.dome) + style.dome * dome
    out = (0.5 + 0.5 * perinuclear) * profile * np.clip(1 + amp * tex, 0.05, None)
    hole = np.clip(0.5 - outside, 0.0, 1.0) * np.where(condensed, 0.0, style.nucleus_hole)
    return out * (1 - hole)


def _membrane(style, patch, tex, amp, condensed) -> NDArray:
    width = style.membrane_width
    band = np.exp(-0.5 * ((patch.sd + 0.6 * width) / (0.6 * width)) ** 2)
    interior = np.where(condensed, 2.0, 1.0) * style.interior
    return np.clip(interior * (1 + amp * tex) + band * (1 + 0.5 * amp * tex), 0.0, None)


def _thickness(style, pop, patch, dome, tex, amp, kind) -> NDArray:
    rn, _ = _nucleus_distance(pop, patch)
    profile = dome ** (0.3 + 1.2 * style.dome)
    nucleus = 0.35 * np.sqrt(np.clip(1 - rn * rn, 0.0, 1.0))
    out = profile + nucleus + 0.4 * amp * tex * profile
    rounded = np.where(kind == INTERPHASE, 1.0, np.where(kind == DAUGHTER, 1.8, 2.5))
    if style.modality == "phase":  # rounded-up mitotic cells are phase-bright
        rounded = np.where(kind == INTERPHASE, 1.0, -1.5)
    return out * rounded
