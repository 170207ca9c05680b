"""A synthetic time-lapse of drifting, growing and dividing nuclei, with tracks and lineage.

Axis order is (time, row, col); see :func:`nuclei_timelapse`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import DTypeLike
from scipy import ndimage as ndi

from sam2_cells.lineage import TrackRecord
from sam2_synthetic.camera import _PSF_SIGMA, _background, _expose, _fine_texture
from sam2_synthetic.checks import _check_dtype, _check_positive, _check_range, _check_shape
from sam2_synthetic.nuclei import _Nucleus, _random_nucleus, _render
from sam2_synthetic.results import SyntheticTimelapse

__all__ = ["nuclei_timelapse"]


@dataclass
class _Cell:
    """State of one tracked nucleus in the time-lapse simulation."""

    label: int
    nucleus: _Nucleus
    r_birth: float  # mean radius at birth; the area doubles over one cycle
    aspect: float  # interphase aspect ratio
    born: float  # frame of birth (negative for cells present at the start)
    divides: int  # frame at which the daughters appear (a huge number: never)
    cycle: float  # cell-cycle length in frames
    vy: float = 0.0
    vx: float = 0.0
    brightness: float = 1.0
    radius: float = 0.0  # current mean radius, set by _shape_cell


_MITOSIS_FRAMES = 3  # frames of visible elongation before the daughters appear


def _shape_cell(cell: _Cell, t: int) -> float:
    """Set the cell's geometry for frame ``t``; return its mitotic progress 0..1."""
    growth = min(max((t - cell.born) / cell.cycle, 0.0), 1.0)
    r = cell.r_birth * math.sqrt(1 + growth)
    mitosis = min(max((t - cell.divides + _MITOSIS_FRAMES) / (_MITOSIS_FRAMES - 1), 0.0), 1.0)
    newborn = math.exp(-(t - cell.born) / 2.0) if t >= cell.born else 0.0
    aspect = cell.aspect * (1 + 0.8 * mitosis)
    r *= (1 - 0.1 * mitosis) * (1 - 0.2 * newborn)  # condensed chromatin, compact daughters
    nuc = cell.nucleus
    nuc.a, nuc.b = r * math.sqrt(aspect), r / math.sqrt(aspect)
    nuc.pinch = 0.3 * mitosis**2
    nuc.brightness = cell.brightness * (1 + 0.7 * mitosis + 0.5 * newborn)
    cell.radius = r
    return mitosis


def _divide(
    mother: _Cell,
    t: int,
    first_label: int,
    speed: float,
    new_cycle: Callable[[], float],
    rng: np.random.Generator,
) -> list[_Cell]:
    """The two daughters (labels ``first_label`` and ``first_label + 1``) born at frame ``t``.

    They sit on the mother's long axis, where the two halves of the anaphase dumbbell were,
    and move apart along it.
    """
    nuc = mother.nucleus
    axis = np.array([math.sin(nuc.theta), math.cos(nuc.theta)])  # (row, col)
    daughters = []
    for label, sign in ((first_label, 1.0), (first_label + 1, -1.0)):
        r_birth = mother.r_birth * rng.uniform(0.92, 1.08)
        cy, cx = np.array([nuc.cy, nuc.cx]) + sign * 0.55 * nuc.a * axis
        aspect = rng.uniform(1.05, 1.35)
        cycle = new_cycle()
        kick = sign * (1.0 + 0.5 * speed)  # pixels per frame, decays with the persistence
        daughter = _Cell(
            label=label,
            nucleus=_random_nucleus(rng, cy, cx, r_birth, aspect),
            r_birth=r_birth,
            aspect=aspect,
            born=t,
            divides=t + max(1, math.ceil(cycle)),
            cycle=cycle,
            vy=0.3 * mother.vy + kick * axis[0],
            vx=0.3 * mother.vx + kick * axis[1],
            brightness=mother.brightness * rng.uniform(0.9, 1.1),
        )
        daughter.nucleus.theta = nuc.theta + rng.normal(0, 0.2)
        daughters.append(daughter)
    return daughters


def _separate(cells: list[_Cell], shape: tuple[int, int], rng: np.random.Generator) -> None:
    """Push overlapping cells apart and reflect them off the borders (in place)."""
    if len(cells) > 1:
        for _ in range(3):
            pos = np.array([[c.nucleus.cy, c.nucleus.cx] for c in cells])
            reach = np.array([max(c.nucleus.a, c.radius) for c in cells])
            diff = pos[:, None, :] - pos[None, :, :]
            dist = np.hypot(diff[..., 0], diff[..., 1])
            np.fill_diagonal(dist, np.inf)
            gap = 1.05 * (reach[:, None] + reach[None, :]) - dist
            gap[gap < 0] = 0
            if not gap.any():
                break
            same = dist < 1e-6
            if same.any():  # identical centres: pick a direction at random
                diff[same] = rng.normal(size=(int(same.sum()), 2))
                dist[same] = np.hypot(diff[same][:, 0], diff[same][:, 1])
            push = (0.5 * gap / dist)[..., None] * diff
            push = push.sum(axis=1)
            for cell, (py, px) in zip(cells, push, strict=True):
                cell.nucleus.cy += py
                cell.nucleus.cx += px
    for cell in cells:
        nuc = cell.nucleus
        for axis, size in enumerate(shape):
            lo = max(nuc.a, nuc.b) * 1.2 + 2
            hi = size - 1 - lo
            pos = nuc.cy if axis == 0 else nuc.cx
            vel = cell.vy if axis == 0 else cell.vx
            if pos < lo:
                pos, vel = 2 * lo - pos, abs(vel)
            elif pos > hi:
                pos, vel = 2 * hi - pos, -abs(vel)
            pos = min(max(pos, lo), hi)
            if axis == 0:
                nuc.cy, cell.vy = pos, vel
            else:
                nuc.cx, cell.vx = pos, vel


def nuclei_timelapse(
    n_frames: int = 30,
    shape: tuple[int, int] = (256, 256),
    n_nuclei: int = 12,
    *,
    seed: int = 0,
    division_rate: float = 1 / 60,
    speed: float = 1.5,
    radius: tuple[float, float] = (7.0, 10.0),
    snr: float = 8.0,
    dtype: DTypeLike = np.uint16,
) -> SyntheticTimelapse:
    """A time-lapse of drifting, growing and dividing nuclei with tracks and lineage.

    Each nucleus performs a persistent random walk (velocity with frame-to-frame correlation
    0.8), turns slightly, and doubles its area over its cell cycle. Near the end of the cycle
    it condenses, brightens and elongates into an anaphase dumbbell for ``3`` frames; in the
    next frame it is replaced by two daughters with new ids that move apart along its long
    axis. Nuclei stay entirely inside the field of view: they are reflected off the borders
    (bounce). Touching nuclei are pushed apart, so overlaps are rare and brief; where they
    happen each pixel goes to the nucleus whose outline it lies deeper inside. Fluorescence
    bleaches by about 0.4 % per frame.

    Parameters
    ----------
    n_frames : int
        Number of frames T, at least 1.
    shape : (int, int)
        (rows, cols) of each frame, each at least 64.
    n_nuclei : int
        Nuclei at frame 0 (as many as fit if the field is too crowded).
    seed : int
        Seed of ``numpy.random.default_rng``; equal seeds give equal data.
    division_rate : float
        Divisions per nucleus per frame: the inverse of the mean cell-cycle length in frames
        (cycles vary by +-15 %). Cells start at evenly spread cycle phases, so about
        ``n_nuclei * n_frames * division_rate`` divisions happen (6 with the defaults).
        0 disables division.
    speed : float
        Mean speed in pixels per frame.
    radius : (float, float)
        Range of the mean nuclear radius at birth in pixels; it grows by ``sqrt(2)``.
    snr : float
        Mean nuclear signal above background divided by the noise std inside nuclei.
    dtype : numpy dtype
        Output dtype of ``movie``, as in :func:`fluorescence_image`.

    Returns
    -------
    SyntheticTimelapse
        ``movie`` (T, H, W) of ``dtype``, ``labels`` (T, H, W) ``int32`` and ``tracks``, one
        :class:`TrackRecord` per label id ``1..len(tracks)``. A mother's track ends in the
        frame before its daughters' tracks begin, and each mother has exactly two daughters.

    Examples
    --------
    >>> data = nuclei_timelapse(seed=0)
    >>> data.n_divisions >= 2
    True
    """
    if n_frames < 1:
        raise ValueError(f"n_frames={n_frames} is not valid; pass a number >= 1.")
    if n_nuclei < 0:
        raise ValueError(f"n_nuclei={n_nuclei} is not valid; pass a number >= 0.")
    shape = _check_shape(shape, 2, 64)
    division_rate = _check_positive(division_rate, "division_rate", allow_zero=True)
    speed = _check_positive(speed, "speed", allow_zero=True)
    r_low, r_high = _check_range(radius, "radius")
    snr = _check_positive(snr, "snr")
    dt = _check_dtype(dtype)
    if 2 * (1.6 * r_high * math.sqrt(2) + 2) >= min(shape):
        raise ValueError(f"radius={radius} is too large for shape={shape}; pass smaller radii.")
    rng = np.random.default_rng(seed)
    mean_cycle = 1 / division_rate if division_rate > 0 else math.inf
    never = 2**31 - 1

    def new_cycle() -> float:
        return mean_cycle * rng.uniform(0.85, 1.15) if division_rate > 0 else math.inf

    # frame 0: evenly spread cycle phases, centres far enough apart for the grown nuclei
    cells: list[_Cell] = []
    phases = (rng.permutation(n_nuclei) + rng.uniform(size=n_nuclei)) / max(n_nuclei, 1)
    for phase in phases:
        r_birth = rng.uniform(r_low, r_high)
        r = r_birth * math.sqrt(1 + phase) * 1.3 + 2
        for _ in range(200):
            cy, cx = rng.uniform(r, shape[0] - r), rng.uniform(r, shape[1] - r)
            if all(
                math.hypot(cy - c.nucleus.cy, cx - c.nucleus.cx) > r + 1.3 * c.radius + 2
                for c in cells
            ):
                break
        else:
            continue
        cycle = new_cycle()
        divides = max(1, math.ceil((1 - phase) * cycle)) if division_rate > 0 else never
        aspect = rng.uniform(1.05, 1.35)
        cell = _Cell(
            label=len(cells) + 1,
            nucleus=_random_nucleus(rng, cy, cx, r_birth, aspect),
            r_birth=r_birth,
            aspect=aspect,
            born=-phase * cycle if division_rate > 0 else 0.0,
            divides=divides,
            cycle=cycle,
            brightness=float(rng.lognormal(0.0, 0.2)),
        )
        cell.radius = r_birth * math.sqrt(1 + phase)
        cells.append(cell)

    tracks = {c.label: [0, 0, 0] for c in cells}  # label -> [begin, end, parent]
    next_label = len(cells) + 1
    sigma_v = speed / math.sqrt(math.pi / 2)  # per-axis std giving mean speed ``speed``
    persistence = 0.8
    background = _background(rng, shape)
    movie = np.empty((n_frames, *shape), dt)
    labels = np.empty((n_frames, *shape), np.int32)

    for t in range(n_frames):
        if t > 0:
            survivors: list[_Cell] = []
            for cell in cells:
                if t < cell.divides:
                    survivors.append(cell)
                    continue
                tracks[cell.label][1] = t - 1
                for daughter in _divide(cell, t, next_label, speed, new_cycle, rng):
                    tracks[daughter.label] = [t, t, cell.label]
                    survivors.append(daughter)
                next_label += 2
            cells = survivors
            kick = math.sqrt(1 - persistence**2) * sigma_v
            for cell in cells:
                cell.vy = persistence * cell.vy + kick * rng.normal()
                cell.vx = persistence * cell.vx + kick * rng.normal()
                slow = 1 - 0.7 * _shape_cell(cell, t)  # mitotic cells round up and pause
                cell.nucleus.cy += slow * cell.vy
                cell.nucleus.cx += slow * cell.vx
                cell.nucleus.theta += rng.normal(0, 0.04)
                cell.nucleus.harmonics[:, 1] += rng.normal(0, 0.05, len(cell.nucleus.harmonics))
        for cell in cells:
            _shape_cell(cell, t)
        _separate(cells, shape, rng)
        for cell in cells:
            tracks[cell.label][1] = t

        density, labels[t] = _render([c.nucleus for c in cells], [c.label for c in cells], shape)
        density *= math.exp(-0.004 * t) * _fine_texture(rng, shape)
        expected = background + ndi.gaussian_filter(density, _PSF_SIGMA)
        expected += 0.05 * ndi.gaussian_filter(density, 8.0)
        movie[t] = _expose(expected, snr, rng, dt)

    records = [TrackRecord(label, b, e, p) for label, (b, e, p) in sorted(tracks.items())]
    return SyntheticTimelapse(movie=movie, labels=labels, tracks=records)
