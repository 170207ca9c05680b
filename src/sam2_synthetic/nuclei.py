"""2D nuclei: irregular elliptical outlines, chromatin texture, rendering to density and labels.

A :class:`_Nucleus` is an ellipse whose outline is perturbed by a few harmonics (and pinched
into a dumbbell during anaphase), filled with a dome-shaped density and chromatin texture
(coarse heterochromatin, bright chromocentres, dim nucleoli). :func:`_render` turns a list of
nuclei into a fluorophore density and an ``int32`` label image, (row, col). The chromatin
blobs of :func:`_chromatin` are also used in 3D by :mod:`sam2_synthetic.volume`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass
class _Nucleus:
    """Geometry and texture of one 2D nucleus; mutated frame by frame in the time-lapse."""

    cy: float  # centre row (pixels)
    cx: float  # centre col (pixels)
    a: float  # semi-axis along the orientation (pixels)
    b: float  # semi-axis across the orientation (pixels)
    theta: float  # orientation of the a-axis in radians, from +col towards +row
    harmonics: NDArray[np.float64]  # (K, 2) amplitude and phase of outline modes k = 2..K+1
    blobs: NDArray[np.float64]  # (M, 4) u, v, sigma, amplitude in normalised nucleus coords
    brightness: float
    pinch: float = 0.0  # waist of an anaphase nucleus, 0 (none) .. ~0.4


def _disk_points(rng: np.random.Generator, n: int, radius: float) -> NDArray[np.float64]:
    r = radius * np.sqrt(rng.uniform(size=n))
    phi = rng.uniform(0, 2 * np.pi, size=n)
    return np.stack([r * np.cos(phi), r * np.sin(phi)], axis=1)


def _chromatin(rng: np.random.Generator, ndim: int = 2) -> NDArray[np.float64]:
    """Texture blobs (M, ndim + 2): position, sigma, amplitude in normalised coordinates."""

    def blobs(n: int, spread: float, sigma: tuple, amp: tuple) -> NDArray[np.float64]:
        pos = _disk_points(rng, n, spread)
        if ndim == 3:
            pos = np.concatenate([pos, rng.uniform(-spread, spread, (n, 1)) * 0.7], axis=1)
        return np.column_stack([pos, rng.uniform(*sigma, n), rng.uniform(*amp, n)])

    return np.concatenate(
        [
            blobs(10, 0.8, (0.18, 0.35), (-0.2, 0.2)),  # coarse heterochromatin
            blobs(int(rng.integers(0, 7)), 0.8, (0.06, 0.1), (0.3, 0.8)),  # chromocentres
            blobs(int(rng.integers(1, 3)), 0.5, (0.12, 0.2), (-0.4, -0.2)),  # nucleoli
        ]
    )


def _random_nucleus(
    rng: np.random.Generator, cy: float, cx: float, radius: float, aspect: float | None = None
) -> _Nucleus:
    aspect = rng.uniform(1.0, 1.5) if aspect is None else aspect
    k = np.arange(2, 6)
    harmonics = np.column_stack(
        [0.07 * rng.uniform(0.2, 1.0, k.size) / (k - 1), rng.uniform(0, 2 * np.pi, k.size)]
    )
    return _Nucleus(
        cy=cy,
        cx=cx,
        a=radius * math.sqrt(aspect),
        b=radius / math.sqrt(aspect),
        theta=rng.uniform(0, np.pi),
        harmonics=harmonics,
        blobs=_chromatin(rng),
        brightness=float(rng.lognormal(0.0, 0.25)),
    )


def _footprint(nuc: _Nucleus, shape: tuple[int, int]):
    """Window of ``nuc`` in the image and its normalised coordinates there.

    Returns ``(window, u, v, rho)``: slices into the image, coordinates along / across the
    orientation in units of the semi-axes, and the radius normalised by the (irregular)
    outline, so that ``rho < 1`` is inside; all (h, w) float arrays. ``window`` is None when
    the nucleus lies outside the image.
    """
    ext = 1.3 * max(nuc.a, nuc.b) + 2
    y0, y1 = max(int(nuc.cy - ext), 0), min(int(nuc.cy + ext) + 2, shape[0])
    x0, x1 = max(int(nuc.cx - ext), 0), min(int(nuc.cx + ext) + 2, shape[1])
    if y0 >= y1 or x0 >= x1:
        return None, None, None, None
    dy = np.arange(y0, y1, dtype=np.float64)[:, None] - nuc.cy
    dx = np.arange(x0, x1, dtype=np.float64)[None, :] - nuc.cx
    c, s = math.cos(nuc.theta), math.sin(nuc.theta)
    u = (dx * c + dy * s) / nuc.a
    v = (dy * c - dx * s) / nuc.b
    phi = np.arctan2(v, u)
    outline = np.ones_like(phi)
    for k, (amp, phase) in enumerate(nuc.harmonics, start=2):
        outline += amp * np.cos(k * phi + phase)
    if nuc.pinch:
        outline *= 1 - nuc.pinch * np.abs(np.sin(phi)) ** 3
    rho = np.hypot(u, v) / outline
    return (slice(y0, y1), slice(x0, x1)), u, v, rho


def _density(nuc: _Nucleus, u: NDArray, v: NDArray, rho: NDArray) -> NDArray[np.float64]:
    """Fluorophore density of one nucleus on its footprint (mean about ``brightness``)."""
    texture = np.ones_like(u)
    for bu, bv, sigma, amp in nuc.blobs:
        texture += amp * np.exp(-((u - bu) ** 2 + (v - bv) ** 2) / (2 * sigma * sigma))
    dome = 0.75 + 0.25 * np.sqrt(np.clip(1 - rho * rho, 0, 1))  # thicker in the middle
    edge = np.clip((1 - rho) * math.sqrt(nuc.a * nuc.b) + 0.5, 0, 1)  # anti-aliased outline
    return nuc.brightness * dome * np.clip(texture, 0.3, None) * edge


def _render(
    nuclei: list[_Nucleus], ids: list[int], shape: tuple[int, int]
) -> tuple[NDArray[np.float64], NDArray[np.int32]]:
    """Density (H, W) float64 and labels (H, W) int32; overlaps go to the nearer centre."""
    density = np.zeros(shape)
    labels = np.zeros(shape, np.int32)
    nearest = np.full(shape, np.inf)
    for nuc, label in zip(nuclei, ids, strict=True):
        window, u, v, rho = _footprint(nuc, shape)
        if window is None:
            continue
        density[window] += _density(nuc, u, v, rho)
        wins = (rho < 1) & (rho < nearest[window])
        labels[window][wins] = label
        nearest[window] = np.minimum(nearest[window], rho)
    return density, labels
