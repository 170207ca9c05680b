"""Synthetic fluorescence microscopy data with exact ground truth.

No data set can be downloaded in tests or demos, so this module draws its own: nuclear-stain
images, time-lapses of moving and dividing nuclei, z-stacks of ellipsoidal nuclei and a small
RGB scene. Every generator is seeded (``numpy.random.default_rng(seed)``), pure numpy + scipy,
keeps no global state and runs in a fraction of a second at its default size.

The image formation follows a widefield microscope: fluorophore density (nuclei with chromatin
texture, bright chromocentres and dim nucleoli) -> Gaussian PSF blur plus a little out-of-focus
haze -> a smooth uneven background (autofluorescence and vignetting) -> Poisson shot noise and
Gaussian read noise of a camera whose offset (bias, 100 grey levels plus five read-noise stds)
keeps dark pixels above 0. Integer images use a few thousand grey levels out of 65535, as real
16-bit microscopy does.

Axis order is (row, col) for images, (time, row, col) for movies and (plane, row, col) for
volumes. Label images are ``int32`` with 0 for background and ids ``1..N``.

Examples
--------
>>> from sam2_engine.synthetic import fluorescence_image, nuclei_timelapse
>>> data = fluorescence_image(seed=1)
>>> data.image.shape, data.image.dtype.name, data.labels.dtype.name
((256, 256), 'uint16', 'int32')
>>> movie = nuclei_timelapse(n_frames=10, seed=1)
>>> movie.movie.shape
(10, 256, 256)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.typing import DTypeLike, NDArray
from scipy import ndimage as ndi

__all__ = [
    "SyntheticImage",
    "SyntheticTimelapse",
    "TrackRecord",
    "fluorescence_image",
    "natural_rgb_image",
    "natural_rgb_scene",
    "nuclei_timelapse",
    "nuclei_zstack",
    "write_ctc_folder",
]

_READ_NOISE = 1.6  # camera read noise, electrons rms
_BACKGROUND = 0.12  # mean background relative to the mean nuclear signal
_PSF_SIGMA = 1.1  # lateral PSF, Gaussian sigma in pixels


class TrackRecord(NamedTuple):
    """One track of a lineage: the ``L B E P`` line of a Cell Tracking Challenge track file.

    Attributes
    ----------
    label : int
        Label id of the track in every frame where it is present.
    begin, end : int
        First and last frame (inclusive) where the label is present.
    parent : int
        Label of the mother track, 0 for a track that has no parent in the movie.
    """

    label: int
    begin: int
    end: int
    parent: int

    def to_ctc(self) -> str:
        """Return the ``"L B E P"`` line (without newline) of ``man_track.txt``."""
        return f"{self.label} {self.begin} {self.end} {self.parent}"


def _describe(array: np.ndarray) -> str:
    return f"{array.dtype}{tuple(array.shape)}"


@dataclass(frozen=True, eq=False, repr=False)
class SyntheticImage:
    """An image with its ground-truth instance labels.

    Attributes
    ----------
    image : numpy.ndarray
        (H, W) or (Z, H, W) intensities (``uint16`` by default), or (H, W, 3) ``uint8`` RGB.
    labels : numpy.ndarray
        (H, W) or (Z, H, W) ``int32``; 0 is background, objects are ``1..n_objects``.
    """

    image: np.ndarray
    labels: np.ndarray

    @property
    def n_objects(self) -> int:
        """Number of labelled objects."""
        return int(self.labels.max(initial=0))

    def __repr__(self) -> str:
        return (
            f"SyntheticImage(image={_describe(self.image)}, labels={_describe(self.labels)}, "
            f"n_objects={self.n_objects})"
        )


@dataclass(frozen=True, eq=False, repr=False)
class SyntheticTimelapse:
    """A movie with tracked instance labels and its lineage.

    Attributes
    ----------
    movie : numpy.ndarray
        (T, H, W) intensities, ``uint16`` by default.
    labels : numpy.ndarray
        (T, H, W) ``int32``. A track keeps its id in every frame; daughters get new ids.
    tracks : list of TrackRecord
        One record per label id ``1..len(tracks)``, sorted by label (``man_track.txt`` order).
    """

    movie: np.ndarray
    labels: np.ndarray
    tracks: list[TrackRecord] = field(default_factory=list)

    @property
    def n_divisions(self) -> int:
        """Number of mothers that divided during the movie."""
        return len({t.parent for t in self.tracks if t.parent})

    def __repr__(self) -> str:
        return (
            f"SyntheticTimelapse(movie={_describe(self.movie)}, labels={_describe(self.labels)}, "
            f"tracks={len(self.tracks)}, divisions={self.n_divisions})"
        )


# --------------------------------------------------------------------------- argument checks


def _check_shape(shape: tuple[int, ...], ndim: int, minimum: int, name: str = "shape") -> tuple:
    shape = tuple(int(s) for s in shape)
    if len(shape) != ndim or min(shape) < minimum:
        raise ValueError(
            f"{name}={shape} is not valid; pass {ndim} sizes, each at least {minimum} pixels."
        )
    return shape


def _check_range(value: tuple[float, float], name: str) -> tuple[float, float]:
    low, high = (float(v) for v in value)
    if not 0 < low <= high:
        raise ValueError(f"{name}={value} is not valid; pass (low, high) with 0 < low <= high.")
    return low, high


def _check_positive(value: float, name: str, allow_zero: bool = False) -> float:
    value = float(value)
    if not (value >= 0 if allow_zero else value > 0) or not math.isfinite(value):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}={value} is not valid; pass a finite number {bound}.")
    return value


def _check_dtype(dtype: DTypeLike) -> np.dtype:
    dt = np.dtype(dtype)
    if dt.kind not in "uif":
        raise ValueError(f"dtype={dt} is not supported; pass an integer or float dtype.")
    return dt


# --------------------------------------------------------------------------- nuclei in 2D


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


# --------------------------------------------------------------------------- optics and camera


def _smooth_field(rng: np.random.Generator, shape: tuple[int, ...], cells: int = 4) -> NDArray:
    """A smooth random field with zero mean and unit std (cubic spline of a coarse grid)."""
    coarse = rng.normal(size=(cells + 2,) * len(shape))
    coords = np.meshgrid(*[np.linspace(1, cells, n) for n in shape], indexing="ij", sparse=False)
    out = ndi.map_coordinates(coarse, coords, order=3, mode="nearest")
    return (out - out.mean()) / (out.std() + 1e-12)


def _background(rng: np.random.Generator, shape: tuple[int, int]) -> NDArray[np.float64]:
    """Uneven illumination and autofluorescence, mean about ``_BACKGROUND``."""
    rows = np.linspace(-1, 1, shape[0])[:, None] - rng.uniform(-0.4, 0.4)
    cols = np.linspace(-1, 1, shape[1])[None, :] - rng.uniform(-0.4, 0.4)
    vignette = 1 - 0.18 * (rows**2 + cols**2)
    field_ = 1 + 0.2 * _smooth_field(rng, shape)
    out = vignette * field_
    return _BACKGROUND * out / out.mean()


def _fine_texture(rng: np.random.Generator, shape: tuple[int, ...]) -> NDArray[np.float64]:
    grain = ndi.gaussian_filter(rng.normal(size=shape), 0.8)
    return 1 + 0.35 * grain / (grain.std() + 1e-12)


def _debris(rng: np.random.Generator, shape: tuple[int, int], n: int) -> NDArray[np.float64]:
    """A few small bright specks (dust, dead-cell fragments) that are not labelled."""
    out = np.zeros(shape)
    rows = rng.integers(0, shape[0], n)
    cols = rng.integers(0, shape[1], n)
    out[rows, cols] = rng.uniform(3, 10, n)
    return ndi.gaussian_filter(out, 1.0)


def _expose(
    expected: NDArray[np.float64], snr: float, rng: np.random.Generator, dtype: np.dtype
) -> np.ndarray:
    """Camera: shot noise, read noise, gain and offset; returns ``expected.shape`` in ``dtype``.

    ``expected`` is in units of the mean nuclear signal. The photon budget is chosen so that
    (mean nuclear signal) / (noise std inside nuclei) equals ``snr``.
    """
    k = snr * snr * (1 + _BACKGROUND)
    photons = 0.5 * (k + math.sqrt(k * k + 4 * snr * snr * _READ_NOISE**2))
    electrons = rng.poisson(np.clip(expected, 0, None) * photons).astype(np.float64)
    electrons += rng.normal(0.0, _READ_NOISE, expected.shape)
    if dtype.kind in "ui" and np.iinfo(dtype).max < 4096:  # 8-bit: nuclei around 40% of range
        offset, level = 0.03 * np.iinfo(dtype).max, 0.4 * np.iinfo(dtype).max
    else:  # 16-bit camera: offset 100+, mean nucleus ~2000 grey levels above it
        offset, level = 100.0, 2000.0
    gain = level / photons  # grey levels per electron
    offset += 5 * gain * _READ_NOISE  # like a camera's bias: dark pixels are not clipped at 0
    grey = offset + electrons * gain
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        return np.clip(np.rint(grey), info.min, info.max).astype(dtype)
    return grey.astype(dtype)


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


# --------------------------------------------------------------------------- time-lapse


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


# --------------------------------------------------------------------------- z-stack


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


# --------------------------------------------------------------------------- CTC export


def write_ctc_folder(timelapse: SyntheticTimelapse, root: Path | str, sequence: str = "01") -> Path:
    """Write a time-lapse as a Cell Tracking Challenge data set.

    Layout (``NNN`` is the frame number, zero-padded to at least 3 digits)::

        root/01/tNNN.tif                  the movie frames
        root/01_GT/TRA/man_trackNNN.tif   tracking labels (uint16)
        root/01_GT/TRA/man_track.txt      one "L B E P" line per track
        root/01_GT/SEG/man_segNNN.tif     segmentation labels of every frame (uint16)

    Parameters
    ----------
    timelapse : SyntheticTimelapse
        The data to write; labels must fit in ``uint16``.
    root : path
        Data set folder; created if missing. Existing files of the same names are replaced.
    sequence : str
        Sequence name, ``"01"`` by default.

    Returns
    -------
    pathlib.Path
        ``root`` (the folder that holds ``<sequence>/`` and ``<sequence>_GT/``).
    """
    import tifffile

    root = Path(root)
    if int(timelapse.labels.max(initial=0)) > np.iinfo(np.uint16).max:
        raise ValueError("The labels do not fit in uint16, which the CTC format requires.")
    images = root / sequence
    tra = root / f"{sequence}_GT" / "TRA"
    seg = root / f"{sequence}_GT" / "SEG"
    for folder in (images, tra, seg):
        folder.mkdir(parents=True, exist_ok=True)
    digits = max(3, len(str(len(timelapse.movie) - 1)))
    for t, (frame, label) in enumerate(zip(timelapse.movie, timelapse.labels, strict=True)):
        label16 = label.astype(np.uint16)
        tifffile.imwrite(images / f"t{t:0{digits}d}.tif", frame)
        tifffile.imwrite(tra / f"man_track{t:0{digits}d}.tif", label16)
        tifffile.imwrite(seg / f"man_seg{t:0{digits}d}.tif", label16)
    lines = "".join(record.to_ctc() + "\n" for record in timelapse.tracks)
    (tra / "man_track.txt").write_text(lines)
    return root
