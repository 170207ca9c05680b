"""Domain-randomised fluorescence z-stacks with 3D labels: :func:`microscopy_zstack`.

Axis order is (plane, row, col). Nuclei (or whole cells, for a cytoplasm or membrane stain)
are tilted, flattened ellipsoids with lumpy surfaces and 3D texture, packed in one or more
layers. The sampling is anisotropic (planes ``z_step`` lateral pixels apart), the PSF much
wider along z than laterally, widefield haze adds light from other planes, and the signal
may fall off with depth. The look otherwise follows a :class:`~sam2_synthetic.style.Style`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage as ndi

from sam2_synthetic.checks import _check_positive, _check_shape
from sam2_synthetic.microscopy import Seed, _relabel, _resolve_style
from sam2_synthetic.optics import _blur, _scope
from sam2_synthetic.packing import _drop_overlapping, _relax
from sam2_synthetic.results import SyntheticImage
from sam2_synthetic.sensor import _camera
from sam2_synthetic.style import FLUORESCENCE, Style
from sam2_synthetic.volume import _rotation

__all__ = ["microscopy_zstack"]

_MAX_OBJECTS = 300


@dataclass
class _Blob3D:
    """One 3D object; ``centre`` is (z, y, x) in lateral pixel units (plane * z_step for z)."""

    centre: NDArray[np.float64]
    semi: NDArray[np.float64]  # semi-axes along the local axes (z, y, x)
    rot: NDArray[np.float64]  # local -> volume rotation (3, 3)
    waves: NDArray[np.float64]  # (4, 6): surface normal (3), frequency, phase, amplitude
    bright: float
    condensed: bool
    nucleoli: NDArray[np.float64]  # (M, 5): position (3, normalised), sigma, amplitude
    tex: NDArray[np.int64]  # (3,) offset into the texture tile


def _layout(
    rng: np.random.Generator, vol_shape: tuple[int, int, int], z_step: float, style: Style
) -> list[_Blob3D]:
    """Objects packed into the volume, relaxed apart in 3D, at most ``_MAX_OBJECTS``."""
    depth = (vol_shape[0] - 1) * z_step
    r_mean = style.diameter / 2
    flat = rng.uniform(0.5, 0.85)  # axial / lateral semi-axis
    layers = float(np.clip(0.8 * depth / (2 * flat * r_mean), 1.0, 6.0))
    n = style.coverage * vol_shape[1] * vol_shape[2] / (math.pi * r_mean**2) * layers
    n = int(min(n, _MAX_OBJECTS))
    radius = np.clip(r_mean * rng.lognormal(0, style.size_spread, n), 2.0, 3 * r_mean)
    rz = flat * r_mean
    z_lo, z_hi = (rz * 0.8, depth - rz * 0.8) if depth > 1.6 * rz else (depth / 2, depth / 2)
    pos = np.column_stack(
        [
            rng.uniform(z_lo, z_hi, n) / flat,  # packed as spheres in stretched coordinates
            rng.uniform(-0.5 * r_mean, vol_shape[1] + 0.5 * r_mean, n),
            rng.uniform(-0.5 * r_mean, vol_shape[2] + 0.5 * r_mean, n),
        ]
    )
    pos = _relax(pos, radius, style.overlap, iterations=8)
    keep = _drop_overlapping(pos, radius, style.overlap + 0.12)
    pos, radius = pos[keep], radius[keep]
    pos[:, 0] *= flat
    blobs = []
    for centre, r in zip(pos, radius, strict=True):
        aspect = 1 + style.elongation * rng.gamma(2.0, 0.5)
        condensed = rng.random() < style.mitotic_fraction
        semi = np.array(
            [r * flat * rng.uniform(0.85, 1.15), r / math.sqrt(aspect), r * math.sqrt(aspect)]
        )
        if condensed:
            semi = np.full(3, 0.7 * r)
        normals = rng.normal(size=(4, 3))
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        waves = np.column_stack(
            [
                normals,
                rng.uniform(2, 4, 4),
                rng.uniform(0, 2 * np.pi, 4),
                rng.uniform(0.2, 1.0, 4) * (0.01 + 0.5 * style.irregularity),
            ]
        )
        m = min(int(rng.poisson(style.nucleoli)), 4) * (not condensed)
        nucleoli = np.column_stack(
            [
                rng.uniform(-0.45, 0.45, (m, 3)),
                rng.uniform(0.1, 0.22, m),
                style.nucleolus_contrast * rng.uniform(0.6, 1.4, m),
            ]
        )
        bright = rng.lognormal(0, style.brightness_spread)
        if rng.random() < style.dim_fraction:
            bright *= rng.uniform(0.1, 0.2)
        blobs.append(
            _Blob3D(
                centre=centre,
                semi=semi,
                rot=_rotation(rng, math.radians(30)),
                waves=waves,
                bright=bright * (2.2 if condensed else 1.0),
                condensed=condensed,
                nucleoli=nucleoli,
                tex=rng.integers(256, 512, 3),
            )
        )
    return blobs


def _window(blob: _Blob3D, vol_shape: tuple[int, int, int], z_step: float):
    """Slices of the blob's box in the volume, local coordinates (3, d, h, w), rho and sd.

    ``local`` is in lateral pixel units along the blob's axes; ``rho`` < 1 inside the lumpy
    surface; ``sd`` is the distance to the surface along the ray from the centre (< 0 inside).
    """
    ext = 1.3 * blob.semi.max() + 2
    c = blob.centre
    lo = [max(math.floor((c[0] - ext) / z_step), 0)]
    hi = [min(math.ceil((c[0] + ext) / z_step) + 1, vol_shape[0])]
    for axis in (1, 2):
        lo.append(max(int(c[axis] - ext), 0))
        hi.append(min(int(c[axis] + ext) + 2, vol_shape[axis]))
    if any(a >= b for a, b in zip(lo, hi, strict=True)):
        return None
    steps = (z_step, 1.0, 1.0)
    axes = [np.arange(lo[i], hi[i]) * steps[i] - c[i] for i in range(3)]
    grid = [axes[0][:, None, None], axes[1][None, :, None], axes[2][None, None, :]]
    local = np.stack([sum(blob.rot[j, k] * grid[j] for j in range(3)) for k in range(3)])
    norm = local / blob.semi[:, None, None, None]
    r = np.sqrt((norm * norm).sum(axis=0))
    direction = norm / np.maximum(r, 1e-9)
    surface = np.ones_like(r)
    for nx, ny, nz, freq, phase, amp in blob.waves:
        dot = nx * direction[0] + ny * direction[1] + nz * direction[2]
        surface += amp * np.cos(freq * dot + phase)
    rho = r / surface
    dist = np.sqrt((local * local).sum(axis=0))
    sd = np.where(rho > 1e-6, (rho - 1) * dist / np.maximum(rho, 1e-6), -blob.semi.min())
    return tuple(slice(a, b) for a, b in zip(lo, hi, strict=True)), local, norm, rho, sd


def _value(style: Style, blob: _Blob3D, local, norm, rho, sd, tile) -> NDArray:
    """Fluorophore density of one blob on its window (before coverage)."""
    mask = tile.shape[0] - 1
    scale = 2.0 if blob.condensed else 1.0
    idx = [((local[k] * scale).astype(np.int64) + blob.tex[k]) & mask for k in range(3)]
    tex = tile[idx[0], idx[1], idx[2]]
    amp = style.texture * (1.8 if blob.condensed else 1.0)
    dome = np.sqrt(np.clip(1 - rho * rho, 0, 1))
    profile = (1 - style.dome) + style.dome * dome
    if style.modality == "membrane":
        w = style.membrane_width
        band = np.exp(-0.5 * ((sd + 0.6 * w) / (0.6 * w)) ** 2)
        return np.clip(style.interior * (1 + amp * tex) + band, 0, None)
    out = profile * np.clip(1 + amp * tex, 0.05, None)
    if style.modality == "cytoplasm":
        ratio = style.nucleus_ratio
        inside_nucleus = np.clip(0.5 - (rho / ratio - 1) * ratio * blob.semi.min(), 0, 1)
        peri = np.exp(-np.maximum(rho / ratio - 1, 0) * 2)
        hole = 0.0 if blob.condensed else style.nucleus_hole
        return out * (0.5 + 0.5 * peri) * (1 - hole * inside_nucleus)
    if style.rim > 0 and not blob.condensed:
        out = out + style.rim * np.exp(np.minimum(sd, 0) / max(0.8, 0.1 * blob.semi.min()))
    for *pos, sigma, height in blob.nucleoli:
        d2 = sum((norm[k] - pos[k]) ** 2 for k in range(3))
        out = out + height * np.exp(-d2 / (2 * sigma * sigma))
    return np.clip(out, 0.05, None)


def _tile3d(rng: np.random.Generator, style: Style) -> NDArray[np.float64]:
    grain = max(0.7, style.texture_scale * style.diameter / 2)
    size = 32 if style.diameter < 30 else 64
    tile = ndi.gaussian_filter(rng.standard_normal((size,) * 3), grain, mode="wrap")
    return tile / (tile.std() + 1e-12)


def microscopy_zstack(
    n_planes: int = 32,
    shape: tuple[int, int] = (192, 192),
    *,
    seed: Seed = 0,
    style: Style | None = None,
    z_step: float | None = None,
    attenuation: float | None = None,
    modality: str | None = None,
    dtype: str | None = None,
) -> SyntheticImage:
    """A realistic, domain-randomised fluorescence z-stack with 3D instance labels.

    Parameters
    ----------
    n_planes : int
        Number of planes Z, at least 4.
    shape : (int, int)
        (rows, cols) of each plane, each at least 32.
    seed : int or sequence of int
        Seed of ``numpy.random.default_rng``; equal seeds give equal data.
    style : Style, optional
        The look; a random fluorescence style if not given (its diameter at least
        ``6 * z_step``, so that objects span a few planes, unless the planes are too small
        for that). Must be a fluorescence modality.
    z_step : float, optional
        Distance between planes in lateral pixels; random in 2 .. 5 if not given.
    attenuation : float, optional
        Signal lost from the first to the last plane, as ``exp(-attenuation)``; random
        (often 0) if not given.
    modality, dtype : str, optional
        Force the modality (``"nuclear"``, ``"cytoplasm"`` or ``"membrane"``) or dtype.

    Returns
    -------
    SyntheticImage
        ``image`` (Z, H, W) of the style's dtype and ``labels`` (Z, H, W) ``int32``, 0 for
        background and ``1..N`` for the objects.

    Examples
    --------
    >>> data = microscopy_zstack(8, (64, 64), seed=2, z_step=3.0)
    >>> data.image.shape == data.labels.shape == (8, 64, 64)
    True
    """
    if int(n_planes) != n_planes or n_planes < 4:
        raise ValueError(f"n_planes={n_planes} is not valid; pass a whole number >= 4.")
    shape = _check_shape(shape, 2, 32)
    if modality is not None and modality not in FLUORESCENCE:
        raise ValueError(f"modality={modality!r} is not valid; pass one of {FLUORESCENCE}.")
    style_rng, rng = np.random.default_rng(seed).spawn(2)
    z_step = float(rng.uniform(2, 5)) if z_step is None else _check_positive(z_step, "z_step")
    if style is None:
        modality = modality or str(style_rng.choice(FLUORESCENCE, p=[0.6, 0.2, 0.2]))
        style = _resolve_style(style_rng, shape, None, modality, dtype)
        diameter = min(max(style.diameter, 6 * z_step), max(min(shape) / 3, 3 * z_step))
        style = dataclasses.replace(style, diameter=diameter)
    else:
        style = _resolve_style(style_rng, shape, style, modality, dtype)
    if not style.fluorescent:
        raise ValueError(f"style.modality={style.modality!r}; pass one of {FLUORESCENCE}.")
    if attenuation is None:
        attenuation = float(rng.uniform(0, 1.5)) if rng.random() < 0.5 else 0.0
    attenuation = _check_positive(attenuation, "attenuation", allow_zero=True)
    vol_shape = (int(n_planes), *shape)

    tile = _tile3d(rng, style)
    density = np.zeros(vol_shape)
    labels = np.zeros(vol_shape, np.int32)
    blobs = _layout(rng, vol_shape, z_step, style)
    for label, blob in enumerate(blobs, start=1):
        found = _window(blob, vol_shape, z_step)
        if found is None:
            continue
        window, local, norm, rho, sd = found
        cover = np.clip(0.5 - sd, 0, 1)
        density[window] += blob.bright * cover * _value(style, blob, local, norm, rho, sd, tile)
        labels[window][sd < 0] = label
    n_specks = rng.poisson(style.debris * shape[0] * shape[1] * n_planes / 1e5)
    specks = tuple(rng.integers(0, s, n_specks) for s in vol_shape)
    np.add.at(density, specks, rng.lognormal(1.0, 0.6, n_specks))

    depth = np.arange(n_planes) / max(n_planes - 1, 1)
    density *= np.exp(-attenuation * depth)[:, None, None]
    axial = rng.uniform(2.5, 4.5) * style.psf_sigma / z_step  # the PSF is longer along z
    signal = ndi.gaussian_filter(density, (axial, style.psf_sigma, style.psf_sigma), truncate=3)
    if style.haze > 0:  # widefield: out-of-focus light from the planes around
        haze = ndi.gaussian_filter1d(density, 4 * axial, axis=0, truncate=3)
        wide = max(6.0, 1.2 * style.diameter)
        signal += style.haze * np.stack([_blur(p, wide) for p in haze])
    scope = _scope(rng, shape, style, tile[0])
    background = (
        style.background * scope.mottle * (1 + 0.03 * rng.standard_normal((n_planes, 1, 1)))
    )
    expected = scope.illumination * (signal + background)
    if style.invert:
        top = float(np.quantile(expected[:, ::4, ::4], 0.995))
        expected = np.clip(1.05 * top - expected, 0.0, None) + 0.02 * top
    image = _camera(style, expected, rng).expose(expected, rng)
    visible = np.bincount(labels.ravel(), minlength=len(blobs) + 1)[1:]
    return SyntheticImage(
        image=image, labels=_relabel(labels, visible, np.arange(1, len(blobs) + 1))
    )
