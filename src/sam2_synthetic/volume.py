"""A synthetic z-stack of flattened ellipsoidal nuclei, as in a confocal stack of a cell layer.

Axis order is (plane, row, col); see :func:`nuclei_zstack`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import DTypeLike, NDArray
from scipy import ndimage as ndi

from sam2_synthetic.camera import _PSF_SIGMA, _background, _expose, _fine_texture
from sam2_synthetic.checks import _check_dtype, _check_positive, _check_range, _check_shape
from sam2_synthetic.nuclei import _chromatin
from sam2_synthetic.results import SyntheticImage

__all__ = ["nuclei_zstack"]


def _rotation(rng: np.random.Generator, max_tilt: float) -> NDArray[np.float64]:
    """Rotation (3, 3) in (z, y, x): a random turn about z, then a tilt up to ``max_tilt``."""
    turn, tilt, tilt_dir = (
        rng.uniform(0, 2 * np.pi),
        rng.uniform(0, max_tilt),
        rng.uniform(0, 2 * np.pi),
    )
    c, s = math.cos(turn), math.sin(turn)
    about_z = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    axis = np.array([0.0, math.cos(tilt_dir), math.sin(tilt_dir)])  # tilt about an in-plane axis
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    tilt_m = np.eye(3) + math.sin(tilt) * k + (1 - math.cos(tilt)) * (k @ k)
    return tilt_m @ about_z


def _ellipsoid(
    centre: NDArray[np.float64],
    semi: NDArray[np.float64],
    rot: NDArray[np.float64],
    vol_shape: tuple[int, int, int],
    z_step: float,
    rng: np.random.Generator,
) -> tuple[tuple[slice, ...], NDArray[np.float64], NDArray[np.float64]]:
    """Window of an irregular ellipsoid in the volume and its coordinates there.

    ``centre`` is (z, y, x) in lateral pixel units (plane index times ``z_step`` for z),
    ``semi`` the semi-axes along the local axes (z, y, x) and ``rot`` the local -> volume
    rotation. Returns ``(window, local, rho)``: slices into the volume, local coordinates
    (3, d, h, w) in units of the semi-axes, and the radius normalised by the irregular
    surface (``rho < 1`` is inside).
    """
    ext = 1.2 * semi.max() + 2
    lo = [max(int((centre[0] - ext) / z_step), 0)]
    hi = [min(int((centre[0] + ext) / z_step) + 2, vol_shape[0])]
    for axis in (1, 2):
        lo.append(max(int(centre[axis] - ext), 0))
        hi.append(min(int(centre[axis] + ext) + 2, vol_shape[axis]))
    steps = (z_step, 1.0, 1.0)
    grid = np.meshgrid(
        *[np.arange(lo[i], hi[i]) * steps[i] - centre[i] for i in range(3)], indexing="ij"
    )
    local = np.einsum("ji,j...->i...", rot, np.stack(grid)) / semi[:, None, None, None]
    norm = np.sqrt((local**2).sum(axis=0))
    direction = local / np.maximum(norm, 1e-9)
    surface = np.ones_like(norm)
    for _ in range(4):  # a few random plane waves over the directions: a lumpy surface
        normal = rng.normal(size=3)
        normal /= np.linalg.norm(normal)
        wave = np.tensordot(normal, direction, axes=1) * rng.uniform(2, 4) + rng.uniform(0, 6.3)
        surface += rng.uniform(0.01, 0.04) * np.cos(wave)
    window = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    return window, local, norm / surface


def nuclei_zstack(
    n_planes: int = 24,
    shape: tuple[int, int] = (192, 192),
    n_nuclei: int = 10,
    *,
    seed: int = 0,
    radius: tuple[float, float] = (12.0, 18.0),
    z_step: float = 2.0,
    snr: float = 6.0,
    dtype: DTypeLike = np.uint16,
) -> SyntheticImage:
    """A z-stack of flattened ellipsoidal nuclei, as in a confocal stack of a cell layer.

    Nuclei are ellipsoids of random orientation (tilted up to 30 degrees out of the plane),
    flattened axially (axial semi-axis 0.55 .. 0.8 of the lateral radius), with irregular
    surfaces and 3D chromatin texture; they do not overlap and lie inside the volume axially.
    The PSF is anisotropic (axial sigma about 3x the lateral one in physical units), signal
    is attenuated with depth and each plane gets an uneven background and camera noise.

    Parameters
    ----------
    n_planes : int
        Number of planes Z, at least 4.
    shape : (int, int)
        (rows, cols) of each plane, each at least 32.
    n_nuclei : int
        Number of nuclei (as many as fit if the volume is too crowded).
    seed : int
        Seed of ``numpy.random.default_rng``; equal seeds give equal data.
    radius : (float, float)
        Range of the mean lateral nuclear radius in pixels.
    z_step : float
        Distance between planes in units of the lateral pixel size (2 means voxels are twice
        as deep as they are wide).
    snr : float
        Mean nuclear signal above background divided by the noise std inside nuclei.
    dtype : numpy dtype
        Output dtype of ``image``, as in :func:`fluorescence_image`.

    Returns
    -------
    SyntheticImage
        ``image`` (Z, H, W) of ``dtype`` and ``labels`` (Z, H, W) ``int32``, ids ``1..N``.
    """
    if n_planes < 4:
        raise ValueError(f"n_planes={n_planes} is not valid; pass a number >= 4.")
    if n_nuclei < 0:
        raise ValueError(f"n_nuclei={n_nuclei} is not valid; pass a number >= 0.")
    shape = _check_shape(shape, 2, 32)
    r_low, r_high = _check_range(radius, "radius")
    z_step = _check_positive(z_step, "z_step")
    snr = _check_positive(snr, "snr")
    dt = _check_dtype(dtype)
    rng = np.random.default_rng(seed)
    vol_shape = (n_planes, *shape)
    depth = (n_planes - 1) * z_step

    density = np.zeros(vol_shape)
    labels = np.zeros(vol_shape, np.int32)
    count = 0
    for _ in range(60 * n_nuclei):
        if count == n_nuclei:
            break
        r = rng.uniform(r_low, r_high)
        aspect = rng.uniform(1.0, 1.4)
        semi = np.array([r * rng.uniform(0.55, 0.8), r / math.sqrt(aspect), r * math.sqrt(aspect)])
        rot = _rotation(rng, math.radians(30))
        half_z = float(np.abs(rot[0]) @ semi)  # axial half-extent of the rotated ellipsoid
        centre = np.array(
            [
                rng.uniform(min(half_z, depth / 2), max(depth - half_z, depth / 2)),
                rng.uniform(0.3 * r, shape[0] - 0.3 * r),
                rng.uniform(0.3 * r, shape[1] - 0.3 * r),
            ]
        )
        window, local, rho = _ellipsoid(centre, semi, rot, vol_shape, z_step, rng)
        inside = rho < 1
        if inside.sum() < 0.3 * (4 / 3) * math.pi * semi.prod() / z_step:
            continue  # mostly outside the volume
        if (labels[window].astype(bool) & inside).any():
            continue
        texture = np.ones_like(rho)
        for *pos, sigma, amp in _chromatin(rng, ndim=3):  # pos: in-plane u, v, then axial
            d2 = (local[2] - pos[0]) ** 2 + (local[1] - pos[1]) ** 2 + (local[0] - pos[2]) ** 2
            texture += amp * np.exp(-d2 / (2 * sigma * sigma))
        dome = 0.75 + 0.25 * np.sqrt(np.clip(1 - rho * rho, 0, 1))
        edge = np.clip((1 - rho) * semi.min() + 0.5, 0, 1)
        brightness = rng.lognormal(0.0, 0.25)
        density[window] += brightness * dome * np.clip(texture, 0.3, None) * edge
        count += 1
        labels[window][inside] = count

    density *= _fine_texture(rng, vol_shape)
    density *= np.exp(-np.arange(n_planes) * z_step / (2.5 * max(depth, 1)))[:, None, None]
    psf = (3 * _PSF_SIGMA / z_step, _PSF_SIGMA, _PSF_SIGMA)
    haze = (8.0 / z_step, 8.0, 8.0)
    plane_bg = _background(rng, shape)
    drift = 1 + 0.05 * rng.normal(size=n_planes)[:, None, None]
    expected = plane_bg[None] * drift + ndi.gaussian_filter(density, psf)
    expected += 0.08 * ndi.gaussian_filter(density, haze)
    return SyntheticImage(image=_expose(expected, snr, rng, dt), labels=labels)
