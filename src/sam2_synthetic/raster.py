"""Rasterising a :class:`~sam2_synthetic.population._Population` into maps and labels, batched.

Objects are grouped by the size of the square window they need; each group is computed at
once on an (n, S, S) stack, so thousands of small nuclei cost about as much as a few large
ones. For every window pixel :func:`_patches` gives the object's local coordinates, the
normalised radius ``rho`` (< 1 inside the irregular outline), an approximate signed distance
to the outline in pixels and an anti-aliased coverage. :func:`_render` asks a value function
for each object's intensity there, sums the values per defocus level and writes the labels:
each pixel belongs to the object drawn last (on top) among those covering it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from sam2_synthetic.population import _Population

_BUCKETS = (8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768)
N_LEVELS = 3


@dataclass
class _Patch:
    """Windows of n objects, all (n, S, S) except ``index`` (n,)."""

    index: NDArray[np.int64]  # the objects' indices in the population
    flat: NDArray[np.int64]  # flat pixel index into the image (only meaningful where valid)
    valid: NDArray[np.bool_]  # inside the image
    lu: NDArray[np.float64]  # pixels along the object's a-axis, from its centre
    lv: NDArray[np.float64]  # pixels along its b-axis
    rho: NDArray[np.float64]  # radius normalised by the outline: < 1 inside
    sd: NDArray[np.float64]  # signed distance to the outline in pixels: < 0 inside
    cover: NDArray[np.float64]  # anti-aliased coverage 0..1

    def per(self, values: NDArray) -> NDArray:
        """Per-object ``values`` (N, ...) of the population, broadcast to (n, 1, 1)."""
        return values[self.index][:, None, None]


def _outline(harm: NDArray[np.complex128], z: NDArray[np.complex128]) -> NDArray[np.float64]:
    """``1 + Re(sum_k harm_k z**(k+2))``; ``harm`` (n, K) broadcast against ``z`` (n, ...)."""
    extra = (slice(None),) + (None,) * (z.ndim - 1)
    poly = harm[:, -1][extra] * np.ones_like(z)
    for k in range(harm.shape[1] - 2, -1, -1):
        poly = poly * z + harm[:, k][extra]
    return 1.0 + (poly * z * z).real


def _reach(pop: _Population) -> NDArray[np.float64]:
    """Distance from the centre beyond which an object has no pixels, plus a margin."""
    bleb = 2.2 * pop.bleb[..., 1].max(axis=1, initial=0.0) * pop.radius
    return np.maximum(pop.a, pop.b) * (1 + np.abs(pop.harm).sum(axis=1)) + bleb + 2.0


def _patches(pop: _Population, shape: tuple[int, int]) -> Iterator[_Patch]:
    """The windows of every object that overlaps the image, in groups of equal size."""
    h, w = shape
    reach = _reach(pop)
    seen = (pop.cy + reach > 0) & (pop.cy - reach < h) & (pop.cx + reach > 0)
    seen &= pop.cx - reach < w
    side = 2 * np.ceil(reach) + 2
    bucket = np.searchsorted(np.array(_BUCKETS), side)
    for k in np.unique(bucket[seen]):
        index = np.flatnonzero(seen & (bucket == k))
        size = _BUCKETS[k] if k < len(_BUCKETS) else int(side[index].max())
        yield _patch(pop, index, size, shape)


def _patch(pop: _Population, index: NDArray, size: int, shape: tuple[int, int]) -> _Patch:
    h, w = shape
    cy, cx = pop.cy[index], pop.cx[index]
    a, b = pop.a[index][:, None, None], pop.b[index][:, None, None]
    y0 = np.floor(cy - size / 2).astype(np.int64)
    x0 = np.floor(cx - size / 2).astype(np.int64)
    ys = y0[:, None] + np.arange(size)  # (n, S)
    xs = x0[:, None] + np.arange(size)
    dy = (ys - cy[:, None])[:, :, None]
    dx = (xs - cx[:, None])[:, None, :]
    theta = pop.theta[index][:, None, None]
    c, s = np.cos(theta), np.sin(theta)
    lu = dx * c + dy * s
    lv = dy * c - dx * s
    u, v = lu / a, lv / b
    r = np.hypot(u, v)
    z = (u + 1j * v) / np.maximum(r, 1e-9)
    outline = _outline(pop.harm[index], z)
    pinch = pop.pinch[index][:, None, None]
    if pinch.any():
        outline = outline * (1 - pinch * np.abs(z.imag) ** 3)
    rho = r / outline
    dpx = np.hypot(lu, lv)
    rpx = np.where(rho > 1e-6, dpx / np.maximum(rho, 1e-6), b)
    sd = (rho - 1) * rpx
    bleb = pop.bleb[index]
    if (bleb[..., 1] > 0).any():
        phi = bleb[..., 0]
        at = _outline(pop.harm[index], np.exp(1j * phi)) * 0.95
        bu, bv = at * np.cos(phi) * a[:, :, 0], at * np.sin(phi) * b[:, :, 0]
        br = bleb[..., 1] * np.sqrt(a * b)[:, :, 0]
        for m in range(bleb.shape[1]):
            present = (br[:, m] > 0)[:, None, None]
            db = np.hypot(lu - bu[:, m, None, None], lv - bv[:, m, None, None])
            sd_b = np.where(present, db - br[:, m, None, None], np.inf)
            rho_b = db / np.maximum(br[:, m, None, None], 1e-9)
            rho = np.where(sd_b < sd, np.minimum(rho, rho_b), rho)
            sd = np.minimum(sd, sd_b)
    valid = ((ys >= 0) & (ys < h))[:, :, None] & ((xs >= 0) & (xs < w))[:, None, :]
    flat = ys[:, :, None] * w + xs[:, None, :]
    cover = np.clip(0.5 - sd, 0.0, 1.0)
    return _Patch(index, flat, valid, lu, lv, rho, sd, cover)


ValueFunction = Callable[[_Population, _Patch], NDArray[np.float64]]


def _render(
    pop: _Population, shape: tuple[int, int], value: ValueFunction
) -> tuple[NDArray[np.float64], NDArray[np.int32], NDArray[np.int64]]:
    """Sum the objects' values per defocus level and write their labels.

    Returns
    -------
    maps : (N_LEVELS, H, W) float64
        Summed values of the objects at each defocus level (0 is in focus).
    labels : (H, W) int32
        ``pop.label`` of the top-most object covering each pixel, 0 where none does.
    visible : (N,) int64
        Number of pixels labelled with each object.
    """
    h, w = shape
    npix = h * w
    flat_maps: list[NDArray] = []
    weights: list[NDArray] = []
    flat_labels: list[NDArray] = []
    ranks: list[NDArray] = []
    for patch in _patches(pop, shape):
        values = value(pop, patch)
        keep = patch.valid & (patch.cover > 0)
        level = patch.per(pop.level.astype(np.int64))
        flat_maps.append((patch.flat + level * npix)[keep])
        weights.append(values[keep])
        inside = patch.valid & (patch.sd < 0)
        flat_labels.append(patch.flat[inside])
        ranks.append(np.broadcast_to(patch.per(np.arange(1, len(pop) + 1)), inside.shape)[inside])
    maps = np.zeros(N_LEVELS * npix)
    top = np.zeros(npix, np.int64)
    if flat_maps:
        maps = np.bincount(
            np.concatenate(flat_maps), np.concatenate(weights), minlength=N_LEVELS * npix
        )
        np.maximum.at(top, np.concatenate(flat_labels), np.concatenate(ranks))
    visible = np.bincount(top, minlength=len(pop) + 1)[1:]
    ids = np.concatenate([[0], pop.label]).astype(np.int32)
    return maps.reshape(N_LEVELS, h, w), ids[top].reshape(h, w), visible
