"""How cells move, grow and divide in a time-lapse: :class:`Dynamics` and the simulation.

Cells live on a torus somewhat larger than the field of view, so they leave the field
through one border and others enter through the borders, at a steady density. Each frame
every cell takes a step of a persistent random walk, the stage drifts (all cells move
together), crowded cells are pushed apart, cells grow, and cells at the end of their cycle
round up, condense and brighten for ``mitosis_frames`` frames, then are replaced by two
daughters that move apart over a few frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import NDArray

from sam2_synthetic.packing import _relax
from sam2_synthetic.population import DAUGHTER, INTERPHASE, MITOTIC, _new_objects, _Population
from sam2_synthetic.style import Style

__all__ = ["Dynamics", "random_dynamics"]


@dataclass(frozen=True)
class Dynamics:
    """How the cells of a time-lapse behave. Lengths in pixels, times in frames.

    Attributes
    ----------
    speed : float
        Mean speed of a cell's own random walk (0 .. 4).
    persistence : float
        Correlation of a cell's velocity from one frame to the next (0 .. 0.95).
    drift : (float, float)
        Stage drift per frame, (row, col): every cell and all debris move by it.
    jitter : float
        Standard deviation of a random stage shake per frame, on top of the drift.
    division_rate : float
        Divisions per cell per frame: the inverse of the mean cycle length (0 .. 0.05).
    mitosis_frames : int
        Frames a mother spends rounded up and bright before its daughters appear (1 .. 3).
    bleaching : float
        Fraction of the fluorescence lost per frame (0 .. 0.03).
    focus_drift : float
        Standard deviation of the per-frame random walk of the defocus blur (0 .. 0.3).
    condense : bool
        Whether a dividing cell shows it: the mother rounds up, shrinks and brightens for
        ``mitosis_frames`` frames and her newborn daughters are brighter (a chromatin
        stain such as H2B or Hoechst). False: she keeps her shape and brightness until
        the daughters appear (a marker that does not follow the chromatin, or divisions
        drawn between two frames). Not drawn by :func:`random_dynamics` (always True).
    """

    speed: float = 1.0
    persistence: float = 0.7
    drift: tuple[float, float] = (0.0, 0.0)
    jitter: float = 0.1
    division_rate: float = 0.02
    mitosis_frames: int = 2
    bleaching: float = 0.005
    focus_drift: float = 0.0
    condense: bool = True

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            values = value if isinstance(value, tuple) else (value,)
            if not all(math.isfinite(v) for v in values):
                raise ValueError(f"{f.name}={value} is not valid; pass finite numbers.")
            if f.name != "drift" and value < 0:
                raise ValueError(f"{f.name}={value} is not valid; pass a number >= 0.")
        if not 0 <= self.persistence < 1:
            raise ValueError(f"persistence={self.persistence} is not valid; pass 0 .. <1.")
        if not 1 <= self.mitosis_frames <= 10:
            raise ValueError(f"mitosis_frames={self.mitosis_frames} is not valid; pass 1 .. 10.")


def random_dynamics(rng: np.random.Generator | int | None = None) -> Dynamics:
    """Draw random, plausible :class:`Dynamics` (slow or fast, drifting or not).

    Examples
    --------
    >>> random_dynamics(0).mitosis_frames in (1, 2, 3)
    True
    """
    rng = np.random.default_rng(rng)
    angle = rng.uniform(0, 2 * math.pi)
    drift = rng.exponential(0.4) * (rng.random() < 0.6)
    return Dynamics(
        speed=float(rng.uniform(0.2, 2.5)),
        persistence=float(rng.uniform(0.0, 0.9)),
        drift=(float(drift * math.sin(angle)), float(drift * math.cos(angle))),
        jitter=float(rng.uniform(0, 0.4)),
        division_rate=float(rng.uniform(0.005, 0.04)),
        mitosis_frames=int(rng.integers(1, 4)),
        bleaching=float(rng.uniform(0, 0.02)),
        focus_drift=float(rng.uniform(0, 0.25) * (rng.random() < 0.4)),
    )


@dataclass
class _Agents:
    """Simulated cells: their 2D objects plus the state of motion and cell cycle."""

    pop: _Population
    vy: NDArray[np.float64]
    vx: NDArray[np.float64]
    age: NDArray[np.float64]  # frames since birth
    cycle: NDArray[np.float64]  # cycle length in frames (inf: never divides)
    mitosis: NDArray[np.int64]  # frames spent in mitosis so far, -1 in interphase
    r_birth: NDArray[np.float64]
    aspect: NDArray[np.float64]
    brightness: NDArray[np.float64]
    uid: NDArray[np.int64]  # agent id 1.. (unique over the whole movie)

    def take(self, index: NDArray) -> _Agents:
        return _Agents(
            pop=self.pop.take(index),
            **{f.name: getattr(self, f.name)[index] for f in fields(self) if f.name != "pop"},
        )

    @staticmethod
    def concat(parts: list[_Agents]) -> _Agents:
        names = [f.name for f in fields(_Agents) if f.name != "pop"]
        return _Agents(
            pop=_Population.concat([p.pop for p in parts]),
            **{n: np.concatenate([getattr(p, n) for p in parts]) for n in names},
        )


def _cycles(rng: np.random.Generator, dyn: Dynamics, n: int) -> NDArray[np.float64]:
    if dyn.division_rate <= 0:
        return np.full(n, np.inf)
    return rng.uniform(0.8, 1.2, n) / dyn.division_rate


def _spawn(
    rng: np.random.Generator, style: Style, dyn: Dynamics, pos: NDArray, radius: NDArray
) -> _Agents:
    """Interphase agents at ``pos`` (N, 2) of birth radius ``radius``; uids left 0."""
    n = len(pos)
    pop = _new_objects(rng, style, pos[:, 0], pos[:, 1], radius)
    sigma_v = dyn.speed / math.sqrt(math.pi / 2)
    return _Agents(
        pop=pop,
        vy=rng.normal(0, sigma_v, n),
        vx=rng.normal(0, sigma_v, n),
        age=np.zeros(n),
        cycle=_cycles(rng, dyn, n),
        mitosis=np.full(n, -1, np.int64),
        r_birth=radius,
        aspect=pop.a / pop.b,
        brightness=pop.bright.copy(),
        uid=np.zeros(n, np.int64),
    )


def _shape(agents: _Agents, condense: bool = True) -> None:
    """Set the objects' geometry and brightness from the cell-cycle state (in place);
    ``condense`` False: mitosis does not show (see :class:`Dynamics`)."""
    pop = agents.pop
    growth = np.clip(agents.age / np.where(np.isfinite(agents.cycle), agents.cycle, 1e9), 0, 1)
    r = agents.r_birth * np.sqrt(1 + growth)
    aspect = agents.aspect.copy()
    bright = agents.brightness.copy()
    kind = np.full(len(r), INTERPHASE, np.int8)
    newborn = agents.age < 2
    r[newborn] *= 0.9
    aspect[newborn] = np.minimum(aspect[newborn], 1.4)
    if condense:
        kind[newborn] = DAUGHTER
        bright[newborn] *= 1.4
        mit = agents.mitosis >= 0
        kind[mit] = MITOTIC
        r[mit] *= 0.75
        aspect[mit] = 1.05
        bright[mit] *= 2.2
    pop.a, pop.b = r * np.sqrt(aspect), r / np.sqrt(aspect)
    pop.bright, pop.kind = bright, kind


def _divide(
    rng: np.random.Generator, style: Style, dyn: Dynamics, mothers: _Agents, next_uid: int
) -> tuple[_Agents, NDArray[np.int64]]:
    """Two daughters per mother (uids from ``next_uid``) and, per daughter, its mother's uid."""
    n = len(mothers.uid)
    r = mothers.r_birth * rng.uniform(0.9, 1.1, n)  # a daughter is born at the birth size
    axis = rng.uniform(0, np.pi, n)
    direction = np.column_stack([np.sin(axis), np.cos(axis)])
    centre = np.column_stack([mothers.pop.cy, mothers.pop.cx])
    parts = []
    for sign in (1.0, -1.0):
        pos = centre + sign * 0.6 * r[:, None] * direction
        d = _spawn(rng, style, dyn, pos, r * rng.uniform(0.95, 1.05, n))
        kick = sign * (0.25 * r + 0.5)[:, None] * direction  # apart, decays with persistence
        d.vy, d.vx = 0.3 * mothers.vy + kick[:, 0], 0.3 * mothers.vx + kick[:, 1]
        d.brightness = mothers.brightness * rng.uniform(0.9, 1.1, n)
        d.pop.bright = d.brightness.copy()
        d.pop.theta = axis + np.pi / 2 + rng.normal(0, 0.3, n)
        d.pop.level = mothers.pop.level.copy()
        parts.append(d)
    daughters = _Agents.concat(parts)
    daughters.uid = next_uid + np.arange(2 * n)
    return daughters, np.concatenate([mothers.uid, mothers.uid])


def _step(
    rng: np.random.Generator,
    style: Style,
    dyn: Dynamics,
    agents: _Agents,
    stage: NDArray[np.float64],
    domain: tuple[NDArray, NDArray],
    next_uid: int,
) -> tuple[_Agents, NDArray[np.int64], NDArray[np.int64]]:
    """Advance one frame. Returns the agents, new daughters' uids and their mothers' uids."""
    agents.age += 1
    in_mitosis = agents.mitosis >= 0
    agents.mitosis[in_mitosis] += 1
    starts = ~in_mitosis & (agents.age >= agents.cycle)
    agents.mitosis[starts] = 0
    done = agents.mitosis >= dyn.mitosis_frames
    born = mothers = np.zeros(0, np.int64)
    if done.any():
        daughters, mothers = _divide(rng, style, dyn, agents.take(done), next_uid)
        born = daughters.uid
        agents = _Agents.concat([agents.take(~done), daughters])
    kick = math.sqrt(1 - dyn.persistence**2) * dyn.speed / math.sqrt(math.pi / 2)
    n = len(agents.uid)
    agents.vy = dyn.persistence * agents.vy + kick * rng.standard_normal(n)
    agents.vx = dyn.persistence * agents.vx + kick * rng.standard_normal(n)
    slow = np.where(agents.mitosis >= 0, 0.2, 1.0)  # rounded-up cells barely move
    pop = agents.pop
    pop.cy += slow * agents.vy + stage[0]
    pop.cx += slow * agents.vx + stage[1]
    pop.theta += rng.normal(0, 0.04, n)
    pop.harm *= np.exp(1j * rng.normal(0, 0.05, pop.harm.shape))
    _shape(agents, dyn.condense)
    _crowd(agents, style)
    lo, hi = domain
    size = hi - lo
    pop.cy = lo[0] + np.mod(pop.cy - lo[0], size[0])
    pop.cx = lo[1] + np.mod(pop.cx - lo[1], size[1])
    return agents, born, mothers


def _crowd(agents: _Agents, style: Style) -> None:
    """Push crowded cells apart (in place); sisters of the last frames may stay closer."""
    pop = agents.pop
    if len(pop) < 2:
        return
    pos = np.column_stack([pop.cy, pop.cx])
    reach = pop.radius * (1 + 0.3 * (np.maximum(pop.a, pop.b) / pop.b - 1))
    mobility = np.where(agents.mitosis >= 0, 0.3, 1.0)  # rounded cells hold on
    pos = _relax(pos, reach, style.overlap, iterations=3, strength=0.5, mobility=mobility)
    pop.cy, pop.cx = pos[:, 0].copy(), pos[:, 1].copy()
