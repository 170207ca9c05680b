"""Single synthetic images: a 2D nuclear-stain fluorescence image and an RGB scene.

Both come with exact instance labels, ``int32`` (row, col), 0 for background.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import DTypeLike
from scipy import ndimage as ndi

from sam2_synthetic.camera import (
    _PSF_SIGMA,
    _background,
    _debris,
    _expose,
    _fine_texture,
)
from sam2_synthetic.checks import _check_dtype, _check_positive, _check_range, _check_shape
from sam2_synthetic.nuclei import _footprint, _Nucleus, _random_nucleus, _render
from sam2_synthetic.results import SyntheticImage

__all__ = ["fluorescence_image", "natural_rgb_image", "natural_rgb_scene"]


# --------------------------------------------------------------------------- 2D image


def fluorescence_image(
    shape: tuple[int, int] = (256, 256),
    n_nuclei: int = 25,
    *,
    seed: int = 0,
    radius: tuple[float, float] = (8.0, 16.0),
    snr: float = 8.0,
    dtype: DTypeLike = np.uint16,
) -> SyntheticImage:
    """A 2D nuclear-stain (DAPI / Hoechst-like) widefield image with instance labels.

    Nuclei are ellipses of random size and orientation with mildly irregular outlines and
    chromatin texture; they do not overlap but may touch, about half of them grow in small
    clusters, and nuclei cut by the image border are kept. A few unlabelled bright specks of
    debris, out-of-focus haze, an uneven background, PSF blur and camera noise complete it.

    Parameters
    ----------
    shape : (int, int)
        (rows, cols) of the image, each at least 32.
    n_nuclei : int
        Number of nuclei to place. A field too crowded for all of them gets as many as fit.
    seed : int
        Seed of ``numpy.random.default_rng``; equal seeds give equal data.
    radius : (float, float)
        Range of the mean nuclear radius in pixels (the semi-axes are ``r * sqrt(aspect)``
        and ``r / sqrt(aspect)``, aspect 1 .. 1.5).
    snr : float
        Mean nuclear signal above background divided by the noise std inside nuclei.
    dtype : numpy dtype
        Output dtype of ``image``. 16-bit and wider integers and floats hold camera grey levels
        (a mean nucleus ~2000 levels above the camera offset, a few thousand levels in use);
        8-bit integers are scaled so that a mean nucleus sits at about 40 % of the range.

    Returns
    -------
    SyntheticImage
        ``image`` (H, W) of ``dtype`` and ``labels`` (H, W) ``int32``, ids ``1..N``.

    Examples
    --------
    >>> data = fluorescence_image((128, 128), n_nuclei=6, seed=3)
    >>> data.n_objects
    6
    """
    shape = _check_shape(shape, 2, 32)
    r_low, r_high = _check_range(radius, "radius")
    snr = _check_positive(snr, "snr")
    dt = _check_dtype(dtype)
    if n_nuclei < 0:
        raise ValueError(f"n_nuclei={n_nuclei} is not valid; pass a number >= 0.")
    rng = np.random.default_rng(seed)

    nuclei: list[_Nucleus] = []
    occupied = np.zeros(shape, bool)
    for _ in range(60 * n_nuclei):
        if len(nuclei) == n_nuclei:
            break
        r = rng.uniform(r_low, r_high)
        if nuclei and rng.random() < 0.5:  # next to an existing nucleus: colonies
            other = nuclei[rng.integers(len(nuclei))]
            dist = (r + math.sqrt(other.a * other.b)) * rng.uniform(1.0, 1.3)
            phi = rng.uniform(0, 2 * np.pi)
            cy, cx = other.cy + dist * math.sin(phi), other.cx + dist * math.cos(phi)
        else:
            cy, cx = rng.uniform(0, shape[0]), rng.uniform(0, shape[1])
        if not (0 <= cy < shape[0] and 0 <= cx < shape[1]):
            continue
        nuc = _random_nucleus(rng, cy, cx, r)
        window, _, _, rho = _footprint(nuc, shape)
        inside = rho < 1
        if inside.sum() < 0.25 * math.pi * r * r or (occupied[window] & inside).any():
            continue
        occupied[window] |= inside
        nuclei.append(nuc)

    density, labels = _render(nuclei, list(range(1, len(nuclei) + 1)), shape)
    density = density * _fine_texture(rng, shape) + _debris(rng, shape, int(rng.integers(1, 5)))
    expected = _background(rng, shape) + ndi.gaussian_filter(density, _PSF_SIGMA)
    expected += 0.05 * ndi.gaussian_filter(density, 8.0)  # out-of-focus haze
    return SyntheticImage(image=_expose(expected, snr, rng, dt), labels=labels)


# --------------------------------------------------------------------------- RGB scene


_PALETTE = np.array(
    [
        [215, 48, 39],  # red
        [69, 117, 180],  # blue
        [254, 224, 60],  # yellow
        [26, 152, 80],  # green
        [244, 109, 67],  # orange
        [118, 42, 131],  # purple
        [53, 190, 200],  # cyan
        [240, 240, 235],  # white
    ],
    dtype=np.float64,
)


def natural_rgb_scene(
    shape: tuple[int, int] = (256, 256), *, seed: int = 0, n_objects: int = 5
) -> SyntheticImage:
    """A simple RGB photograph-like scene (coloured shapes on a textured floor) with labels.

    The background is a wall-to-floor gradient with multi-scale texture; the objects (disks,
    ellipses, rotated rectangles, triangles) are flat-coloured with a light gradient and a soft
    shadow, may occlude each other a little, and carry labels ``1..N`` of their visible parts.

    Parameters
    ----------
    shape : (int, int)
        (rows, cols), each at least 32.
    seed : int
        Seed of ``numpy.random.default_rng``.
    n_objects : int
        Number of objects, 0 .. 8.

    Returns
    -------
    SyntheticImage
        ``image`` (H, W, 3) ``uint8`` (RGB, channel last) and ``labels`` (H, W) ``int32``.
    """
    from skimage.draw import ellipse, polygon

    shape = _check_shape(shape, 2, 32)
    if not 0 <= n_objects <= len(_PALETTE):
        raise ValueError(f"n_objects={n_objects} is not valid; pass 0 .. {len(_PALETTE)}.")
    rng = np.random.default_rng(seed)
    h, w = shape
    rows = np.linspace(0, 1, h)[:, None, None]
    horizon = rng.uniform(0.25, 0.45)
    wall, floor = rng.uniform(150, 215, 3), rng.uniform(90, 160, 3)
    base = np.where(rows < horizon, wall, floor) * (0.85 + 0.25 * rows)
    grain = sum(
        weight * ndi.gaussian_filter(rng.normal(size=shape), sigma)
        for weight, sigma in ((8.0, 1.0), (20.0, 4.0), (24.0, 12.0))
    )
    image = base + grain[..., None] * np.array([1.0, 0.9, 0.75]) * (rows >= horizon)
    image += 0.3 * grain[..., None] * (rows < horizon)

    labels = np.zeros(shape, np.int32)
    colours = rng.permutation(len(_PALETTE))[:n_objects]
    scale = min(shape)
    count = 0
    for _ in range(40 * n_objects):
        if count == n_objects:
            break
        kind = rng.integers(4)
        cy, cx = rng.uniform(0.2, 0.85) * h, rng.uniform(0.12, 0.88) * w
        size = rng.uniform(0.08, 0.16) * scale
        angle = rng.uniform(0, np.pi)
        if kind == 0:
            rr, cc = ellipse(cy, cx, size, size, shape)
        elif kind == 1:
            rr, cc = ellipse(cy, cx, size, size * rng.uniform(0.4, 0.7), shape, rotation=angle)
        else:
            n_corners = 4 if kind == 2 else 3
            phi = angle + np.arange(n_corners) * 2 * np.pi / n_corners
            stretch = rng.uniform(0.6, 1.0) if kind == 2 else 1.0
            ys = cy + size * np.sin(phi) * stretch
            xs = cx + size * np.cos(phi)
            rr, cc = polygon(ys, xs, shape)
        mask = np.zeros(shape, bool)
        mask[rr, cc] = True
        if mask.sum() < 0.5 * size * size or (labels[mask] > 0).mean() > 0.15:
            continue
        shadow = ndi.gaussian_filter(np.roll(mask, (3, 3), axis=(0, 1)).astype(float), 3.0)
        image *= 1 - 0.35 * shadow[..., None]
        light = 1 + 0.25 * ((cy - np.arange(h)[:, None]) + (cx - np.arange(w)[None, :])) / size / 2
        shaded = _PALETTE[colours[count]] * np.clip(light, 0.6, 1.3)[..., None]
        image[mask] = shaded[mask]
        count += 1
        labels[mask] = count

    image = ndi.gaussian_filter(image, (0.6, 0.6, 0))  # lens blur, softens the edges
    image += rng.normal(0, 2.0, image.shape)
    return SyntheticImage(image=np.clip(np.rint(image), 0, 255).astype(np.uint8), labels=labels)


def natural_rgb_image(shape: tuple[int, int] = (256, 256), *, seed: int = 0) -> np.ndarray:
    """The image of :func:`natural_rgb_scene`: (H, W, 3) ``uint8`` RGB, channel last.

    Examples
    --------
    >>> natural_rgb_image((64, 96)).shape
    (64, 96, 3)
    """
    return natural_rgb_scene(shape, seed=seed).image
