"""Domain-randomised time-lapse microscopy with tracks and lineage: :func:`microscopy_timelapse`.

Axis order is (time, row, col). The cells are simulated by :mod:`sam2_synthetic.dynamics`,
every frame is imaged like a still field (:mod:`~sam2_synthetic.raster`,
:mod:`~sam2_synthetic.optics`, one camera for the whole movie) and the lineage follows the
Cell Tracking Challenge rules (:mod:`~sam2_synthetic.tracks`).
"""

from __future__ import annotations

import math

import numpy as np

from sam2_synthetic.appearance import _texture_tile, _values
from sam2_synthetic.checks import _check_shape
from sam2_synthetic.dynamics import (
    Dynamics,
    _Agents,
    _crowd,
    _shape,
    _spawn,
    _step,
    random_dynamics,
)
from sam2_synthetic.microscopy import _MIN_PIXELS, Seed, _resolve_style
from sam2_synthetic.optics import _clutter, _expected, _scope
from sam2_synthetic.packing import _relax
from sam2_synthetic.population import _count
from sam2_synthetic.raster import _render
from sam2_synthetic.results import SyntheticTimelapse
from sam2_synthetic.sensor import _camera
from sam2_synthetic.style import Style
from sam2_synthetic.tracks import _lineage

__all__ = ["microscopy_timelapse"]

_MAX_CELLS = 600  # cells in the field when n_cells is left to the style (keeps movies fast)


def _first_frame(
    rng: np.random.Generator,
    style: Style,
    dyn: Dynamics,
    n: int,
    domain: tuple[np.ndarray, np.ndarray],
) -> _Agents:
    """``n`` cells spread over the simulation domain at random cell-cycle phases."""
    lo, hi = domain
    pos = rng.uniform(lo, hi, (n, 2))
    radius = 0.5 * style.diameter * rng.lognormal(0.0, style.size_spread, n) / math.sqrt(1.5)
    radius = np.clip(radius, 2.0, 3 * style.diameter)
    pos = _relax(pos, radius * 1.3, style.overlap, iterations=10)
    pos = lo + np.mod(pos - lo, hi - lo)
    agents = _spawn(rng, style, dyn, pos, radius)
    finite = np.isfinite(agents.cycle)
    agents.age = np.where(finite, rng.uniform(0, 1, n) * np.where(finite, agents.cycle, 0), 10.0)
    agents.uid = np.arange(1, n + 1)
    return agents


def microscopy_timelapse(
    n_frames: int = 30,
    shape: tuple[int, int] = (256, 256),
    *,
    seed: Seed = 0,
    style: Style | None = None,
    dynamics: Dynamics | None = None,
    n_cells: int | None = None,
    modality: str | None = None,
    dtype: str | None = None,
) -> SyntheticTimelapse:
    """A realistic, domain-randomised time-lapse with tracked labels and CTC lineage.

    Cells move by a persistent random walk, the stage drifts and shakes, crowded cells push
    each other apart, cells leave and enter the field through its borders, grow, and divide:
    the mother rounds up and brightens for ``dynamics.mitosis_frames`` frames, then two
    daughters with new labels appear and move apart. Fluorescence bleaches over time and the
    focus may drift. The look of every frame comes from ``style`` as in
    :func:`~sam2_synthetic.microscopy_image`; debris and out-of-focus blobs drift with the
    stage, illumination and the camera's fixed pattern stay.

    Parameters
    ----------
    n_frames : int
        Number of frames T, at least 1.
    shape : (int, int)
        (rows, cols) of each frame, each at least 32.
    seed : int or sequence of int
        Seed of ``numpy.random.default_rng``; equal seeds give equal data.
    style : Style, optional
        The look; random (:func:`~sam2_synthetic.random_style`) if not given.
    dynamics : Dynamics, optional
        The behaviour; random (:func:`~sam2_synthetic.random_dynamics`) if not given.
    n_cells : int, optional
        Mean number of cells in the field; by default from ``style.coverage`` (at most 600).
    modality, dtype : str, optional
        Force the modality or output dtype, as in :func:`~sam2_synthetic.microscopy_image`.

    Returns
    -------
    SyntheticTimelapse
        ``movie`` (T, H, W) of the style's dtype, ``labels`` (T, H, W) ``int32`` and
        ``tracks``, one :class:`~sam2_cells.TrackRecord` per label ``1..N`` in order of
        first appearance. Following the Cell Tracking Challenge, a track is present in every
        frame from its begin to its end and nowhere else (a cell that leaves and comes back
        gets a new label), and a daughter begins in the frame after its mother ends.

    Examples
    --------
    >>> movie = microscopy_timelapse(5, (64, 64), seed=1)
    >>> movie.movie.shape, len(movie.tracks) == int(movie.labels.max())
    ((5, 64, 64), True)
    """
    if int(n_frames) != n_frames or n_frames < 1:
        raise ValueError(f"n_frames={n_frames} is not valid; pass a whole number >= 1.")
    if n_cells is not None and (int(n_cells) != n_cells or n_cells < 0):
        raise ValueError(f"n_cells={n_cells} is not valid; pass a whole number >= 0.")
    n_frames = int(n_frames)
    shape = _check_shape(shape, 2, 32)
    style_rng, dyn_rng, rng = np.random.default_rng(seed).spawn(3)
    style = _resolve_style(style_rng, shape, style, modality, dtype)
    dyn = random_dynamics(dyn_rng) if dynamics is None else dynamics

    margin = max(1.5 * style.diameter, 16.0)
    domain = (np.array([-margin, -margin]), np.array([shape[0] + margin, shape[1] + margin]))
    area = shape[0] * shape[1]
    ext_area = float(np.prod(domain[1] - domain[0]))
    count = min(_count(shape, style, 0.0), _MAX_CELLS) if n_cells is None else int(n_cells)
    agents = _first_frame(rng, style, dyn, round(count * ext_area / area), domain)
    stage = rng.normal(0.0, dyn.jitter, (n_frames, 2)) + np.asarray(dyn.drift)
    stage[0] = 0.0
    shift = np.cumsum(stage, axis=0)
    clutter = _clutter(rng, shape, style, margin=float(np.abs(shift).max()) + 4.0)
    tile = _texture_tile(rng, style)
    value = _values(style, tile)
    scope = _scope(rng, shape, style, tile)
    focus = np.abs(np.cumsum(rng.normal(0.0, dyn.focus_drift, n_frames)))
    flicker = 1 + 0.01 * rng.standard_normal(n_frames)

    movie = np.empty((n_frames, *shape), np.dtype(style.dtype))
    agent_labels = np.empty((n_frames, *shape), np.int32)
    mother = list(np.zeros(len(agents.uid), np.int64))
    born = list(np.zeros(len(agents.uid), np.int64))
    present: list[tuple[np.ndarray, int]] = []
    camera = None
    _shape(agents, dyn.condense)
    _crowd(agents, style)
    for t in range(n_frames):
        if t > 0:
            agents, new, mothers = _step(rng, style, dyn, agents, stage[t], domain, len(born) + 1)
            mother += list(mothers)
            born += [t] * len(new)
        agents.pop.label = agents.uid
        maps, agent_labels[t], visible = _render(agents.pop, shape, value)
        if style.fluorescent:
            maps *= math.exp(-dyn.bleaching * t)
        expected = _expected(maps, style, scope, clutter, tuple(shift[t]), float(focus[t]))
        expected *= flicker[t]
        if camera is None:
            camera = _camera(style, expected, rng)
        movie[t] = camera.expose(expected, rng)
        present.append((agents.uid[visible >= _MIN_PIXELS], t))

    presence = np.zeros((len(born), n_frames), bool)
    for uids, t in present:
        presence[uids - 1, t] = True
    tracks, table = _lineage(presence, np.array(mother), np.array(born))
    labels = np.stack([table[t][agent_labels[t]] for t in range(n_frames)])
    return SyntheticTimelapse(movie=movie, labels=labels, tracks=tracks)
