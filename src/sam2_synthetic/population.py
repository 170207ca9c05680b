"""A population of 2D objects (nuclei or cells) as arrays, and its random layout in a field.

:class:`_Population` holds the geometry and appearance of N objects, one array per property;
the index order is the drawing order (a later object lies on top of an earlier one).
:func:`_random_population` fills a field for a :class:`~sam2_synthetic.style.Style`: sizes
with a log-normal spread, uniform or clustered positions relaxed until neighbours touch
without overlapping more than the style allows, and a share of mitotic and dividing objects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from sam2_synthetic.packing import _drop_overlapping, _relax
from sam2_synthetic.style import Style

N_HARMONICS = 4  # outline modes k = 2 .. 5
N_BLEBS = 3
N_NUCLEOLI = 4

INTERPHASE, MITOTIC, METAPHASE, DAUGHTER = 0, 1, 2, 3


@dataclass
class _Population:
    """N objects in (row, col) pixel coordinates; every field is an array with N rows."""

    cy: NDArray[np.float64]  # centre row
    cx: NDArray[np.float64]  # centre col
    a: NDArray[np.float64]  # semi-axis along the orientation
    b: NDArray[np.float64]  # semi-axis across it
    theta: NDArray[np.float64]  # orientation of the a-axis, from +col towards +row
    harm: NDArray[np.complex128]  # (N, K) outline coefficients of z**2 .. z**(K+1)
    pinch: NDArray[np.float64]  # waist of a figure-eight, 0 (none) .. 0.6
    bleb: NDArray[np.float64]  # (N, B, 2) angle and radius (fraction of sqrt(ab)); 0: none
    bright: NDArray[np.float64]  # brightness (fluorescence) or thickness (transmitted)
    kind: NDArray[np.int8]  # INTERPHASE, MITOTIC, METAPHASE or DAUGHTER
    level: NDArray[np.int8]  # defocus level 0 (in focus), 1, 2
    tex: NDArray[np.int64]  # (N, 2) offsets into the texture tile
    nucleoli: NDArray[np.float64]  # (N, M, 4) u, v, sigma (normalised), amplitude; 0: none
    nucleus: NDArray[np.float64]  # (N, 3) offset u, v (normalised) and size ratio
    label: NDArray[np.int64]  # id written into the label image

    def __len__(self) -> int:
        return len(self.cy)

    def take(self, index: NDArray) -> _Population:
        """The objects at ``index`` (an integer or boolean array), as a new population."""
        return _Population(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @staticmethod
    def concat(parts: list[_Population]) -> _Population:
        return _Population(
            **{
                f.name: np.concatenate([getattr(p, f.name) for p in parts])
                for f in fields(_Population)
            }
        )

    @property
    def radius(self) -> NDArray[np.float64]:
        """Mean radius ``sqrt(a * b)``."""
        return np.sqrt(self.a * self.b)


def _new_objects(
    rng: np.random.Generator,
    style: Style,
    cy: NDArray[np.float64],
    cx: NDArray[np.float64],
    radius: NDArray[np.float64],
) -> _Population:
    """Interphase objects of mean radius ``radius`` at the given centres, drawn for ``style``."""
    n = len(cy)
    aspect = np.clip(1 + style.elongation * rng.gamma(2.0, 0.5, n), 1.0, 4.0)
    k = np.arange(2, 2 + N_HARMONICS)
    amp = style.irregularity * rng.uniform(0.2, 1.0, (n, N_HARMONICS)) / (k - 1) ** 0.8
    harm = amp * np.exp(1j * rng.uniform(0, 2 * np.pi, (n, N_HARMONICS)))
    bleb = np.zeros((n, N_BLEBS, 2))
    blebby = rng.random(n) < style.bleb_fraction
    count = rng.integers(1, N_BLEBS + 1, n)
    present = blebby[:, None] & (np.arange(N_BLEBS)[None] < count[:, None])
    bleb[..., 0] = rng.uniform(0, 2 * np.pi, (n, N_BLEBS))
    bleb[..., 1] = np.where(present, rng.uniform(0.15, 0.35, (n, N_BLEBS)), 0.0)
    bright = rng.lognormal(0.0, style.brightness_spread, n)
    dim = rng.random(n) < style.dim_fraction
    bright[dim] *= rng.uniform(0.1, 0.2, int(dim.sum()))
    level = np.zeros(n, np.int8)
    defocused = rng.random(n) < style.defocus_fraction
    level[defocused] = rng.integers(1, 3, int(defocused.sum()))
    nucleoli = np.zeros((n, N_NUCLEOLI, 4))
    n_nucleoli = np.minimum(rng.poisson(style.nucleoli, n), N_NUCLEOLI)
    r = 0.5 * np.sqrt(rng.uniform(size=(n, N_NUCLEOLI)))
    phi = rng.uniform(0, 2 * np.pi, (n, N_NUCLEOLI))
    nucleoli[..., 0], nucleoli[..., 1] = r * np.cos(phi), r * np.sin(phi)
    nucleoli[..., 2] = rng.uniform(0.08, 0.2, (n, N_NUCLEOLI))
    has = np.arange(N_NUCLEOLI)[None] < n_nucleoli[:, None]
    nucleoli[..., 3] = has * style.nucleolus_contrast * rng.uniform(0.6, 1.4, (n, N_NUCLEOLI))
    nucleus = np.column_stack(
        [
            rng.uniform(-0.25, 0.25, n),
            rng.uniform(-0.25, 0.25, n),
            style.nucleus_ratio * rng.uniform(0.85, 1.15, n),
        ]
    )
    return _Population(
        cy=np.asarray(cy, np.float64),
        cx=np.asarray(cx, np.float64),
        a=radius * np.sqrt(aspect),
        b=radius / np.sqrt(aspect),
        theta=rng.uniform(0, np.pi, n),
        harm=harm,
        pinch=np.zeros(n),
        bleb=bleb,
        bright=bright,
        kind=np.zeros(n, np.int8),
        level=level,
        tex=rng.integers(512, 1024, (n, 2)),
        nucleoli=nucleoli,
        nucleus=nucleus,
        label=np.zeros(n, np.int64),
    )


def _make_mitotic(pop: _Population, index: NDArray, rng: np.random.Generator) -> None:
    """Turn the objects at ``index`` (in place) into rounded, condensed, bright mitoses.

    A quarter of them are metaphase plates: thin bright bars.
    """
    n = len(index)
    if n == 0:
        return
    r = pop.radius[index] * rng.uniform(0.6, 0.8, n)
    plate = rng.random(n) < 0.25
    aspect = np.where(plate, rng.uniform(2.2, 3.5, n), rng.uniform(1.0, 1.15, n))
    pop.a[index], pop.b[index] = r * np.sqrt(aspect), r / np.sqrt(aspect)
    pop.harm[index] *= 0.3
    pop.bleb[index, :, 1] = 0.0
    pop.nucleoli[index, :, 3] = 0.0
    pop.bright[index] *= rng.uniform(1.6, 3.0, n)
    pop.kind[index] = np.where(plate, METAPHASE, MITOTIC)


def _daughters(
    pop: _Population, index: NDArray, rng: np.random.Generator, pinched: NDArray
) -> _Population:
    """Dividing objects: ``pinched`` ones become a figure-eight (one object, in place), the
    others are replaced by two compact daughters close together (returned, to append)."""
    pinch_i, pair_i = index[pinched], index[~pinched]
    if len(pinch_i):
        r = pop.radius[pinch_i]
        aspect = rng.uniform(1.8, 2.6, len(pinch_i))
        pop.a[pinch_i], pop.b[pinch_i] = r * np.sqrt(aspect), r / np.sqrt(aspect)
        pop.pinch[pinch_i] = rng.uniform(0.35, 0.6, len(pinch_i))
        pop.harm[pinch_i] *= 0.3
        pop.bleb[pinch_i, :, 1] = 0.0
        pop.bright[pinch_i] *= rng.uniform(1.2, 1.8, len(pinch_i))
        pop.kind[pinch_i] = DAUGHTER
    if len(pair_i) == 0:
        return pop.take(np.zeros(0, np.int64))
    second = pop.take(pair_i)
    n = len(pair_i)
    r = pop.radius[pair_i] * rng.uniform(0.6, 0.75, n)
    axis = rng.uniform(0, np.pi, n)
    dist = r * rng.uniform(1.0, 1.5, n)  # centre to centre: 2r touching, more: separating
    for part, sign in ((pop, 1.0), (second, -1.0)):
        where = pair_i if part is pop else np.arange(n)
        part.cy[where] += sign * dist * np.sin(axis)
        part.cx[where] += sign * dist * np.cos(axis)
        aspect = rng.uniform(1.1, 1.7, n)
        part.a[where], part.b[where] = r * np.sqrt(aspect), r / np.sqrt(aspect)
        part.theta[where] = axis + np.pi / 2 + rng.normal(0, 0.2, n)  # across the axis
        part.harm[where] *= 0.3
        part.bleb[where, :, 1] = 0.0
        part.nucleoli[where, :, 3] = 0.0
        part.bright[where] *= rng.uniform(1.3, 2.2, n)
        part.kind[where] = DAUGHTER
        part.tex[where] = rng.integers(512, 1024, (n, 2))
    return second


def _gaps(pos: NDArray[np.float64], reach: NDArray[np.float64]) -> NDArray[np.float64]:
    """Half the free space between each disk and its nearest neighbour (0 where touching)."""
    k = min(7, len(pos))
    dist, index = cKDTree(pos).query(pos, k=k)
    free = dist[:, 1:] - reach[:, None] - reach[index[:, 1:]]
    return np.maximum(free.min(axis=1), 0.0) / 2


def _count(shape: tuple[int, int], style: Style, margin: float) -> int:
    mean_area = math.pi * (style.diameter / 2) ** 2 * math.exp(2 * style.size_spread**2)
    area = (shape[0] + 2 * margin) * (shape[1] + 2 * margin)
    n = style.coverage * area / mean_area
    return int(min(n, area / 40, 4000))


def _random_population(
    rng: np.random.Generator, shape: tuple[int, int], style: Style
) -> _Population:
    """Objects filling a field of ``shape`` for ``style``, labels ``1..N`` in drawing order.

    Centres may lie up to half a diameter outside the field (objects cut by the border).
    Objects are relaxed apart until the overlap of neighbours is at most ``style.overlap``
    (as a fraction of the sum of their radii); those that cannot be are dropped.
    """
    margin = 0.5 * style.diameter
    n = _count(shape, style, margin)
    radius = 0.5 * style.diameter * rng.lognormal(0.0, style.size_spread, n)
    radius = np.clip(radius, 2.0, 3 * style.diameter)
    lo, hi = np.array([-margin, -margin]), np.array([shape[0] + margin, shape[1] + margin])
    pos = rng.uniform(lo, hi, (n, 2))
    n_cluster = round(style.clustering * n)
    if n_cluster:
        n_colonies = max(1, int(n_cluster / rng.uniform(4, 25)))
        seeds = rng.uniform(lo, hi, (n_colonies, 2))
        member = rng.integers(0, n_colonies, n_cluster)
        size = np.bincount(member, minlength=n_colonies)[member]
        spread = 0.7 * style.diameter * np.sqrt(size)[:, None]
        pos[:n_cluster] = seeds[member] + rng.normal(0, 1, (n_cluster, 2)) * spread
    reach = radius * (1 + 0.5 * style.elongation)  # elongated objects need more room
    pos = _relax(pos, reach, style.overlap, iterations=10)
    keep = _drop_overlapping(pos, reach, style.overlap + 0.12)
    keep &= np.all((pos > lo) & (pos < hi), axis=1)
    pos, radius = pos[keep], radius[keep]
    fill = min(max((style.coverage - 0.35) / 0.3, 0.0), 1.0)
    if fill > 0 and len(pos) > 1:  # confluent: grow into the gaps until neighbours touch
        radius = radius * (1 + fill * np.minimum(_gaps(pos, reach[keep]) / reach[keep], 0.35))
    pop = _new_objects(rng, style, pos[:, 0], pos[:, 1], radius)
    n = len(pop)

    role = rng.random(n)
    mitotic = np.flatnonzero(role < style.mitotic_fraction)
    dividing = np.flatnonzero(
        (role >= style.mitotic_fraction) & (role < style.mitotic_fraction + style.dividing_fraction)
    )
    _make_mitotic(pop, mitotic, rng)
    p_pinch = 0.15 if style.modality == "nuclear" else 0.5
    extra = _daughters(pop, dividing, rng, rng.random(len(dividing)) < p_pinch)
    pop = _Population.concat([pop, extra])
    pop = pop.take(rng.permutation(len(pop)))  # drawing order: who lies on top
    pop.label = np.arange(1, len(pop) + 1)
    return pop
