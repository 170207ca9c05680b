"""The generated time-lapses the tracking benchmarks run on (held out from training).

Realistic nuclear-stain movies from ``sam2_synthetic``: random looks (dim cells, uneven
illumination, haze, debris, camera noise) with nuclei of a chosen size, crowding and
touching neighbours, cells entering and leaving, and 4-6 divisions per movie (the seed is
advanced until the movie has that many).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

import sam2_synthetic as syn

SEED = 800_000  # far from the seeds of the training recipes


@dataclass
class Sequence:
    """One benchmark movie and what it was made with."""

    name: str
    movie: syn.SyntheticTimelapse
    diameter: float

    @property
    def divisions(self) -> int:
        return len({t.parent for t in self.movie.tracks if t.parent})


def sequence(
    name: str,
    n_cells: int,
    diameter: float,
    n_frames: int = 40,
    shape: tuple[int, int] = (256, 256),
    divisions: tuple[int, int] = (4, 6),
    seed: int = 0,
    look: dict | None = None,
    motion: dict | None = None,
    condense: bool = True,
) -> Sequence:
    """A movie with ``n_cells`` nuclei of about ``diameter`` px and 4-6 divisions;
    ``look`` and ``motion`` override fields of the random style and dynamics;
    ``condense``: whether mothers show mitosis (``Dynamics.condense``)."""
    for attempt in range(200):
        key = (SEED, seed, attempt)
        rng = np.random.default_rng(key)
        style = dataclasses.replace(
            syn.random_style(rng, modality="nuclear", shape=shape),
            diameter=diameter,
            **(look or {}),
        )
        dyn = dataclasses.replace(
            syn.random_dynamics(rng),
            division_rate=float(rng.uniform(0.004, 0.012)),
            condense=condense,
            **(motion or {}),
        )
        movie = syn.microscopy_timelapse(
            n_frames, shape, seed=key, style=style, dynamics=dyn, n_cells=n_cells
        )
        out = Sequence(name, movie, diameter)
        if divisions[0] <= out.divisions <= divisions[1]:
            return out
    raise RuntimeError(f"no movie with {divisions} divisions found for {name}")


TUNING_DRAW = 100  # seed offset of the tuning draws (tuning_sequences)
NOCONDENSE_DRAW = 200  # seed offset of the draws without condensation (nocondense_sequences)
RANDOM_DRAW = 1000  # seed offset of the random recipes (random_sequences)


def quality_sequences(draw: int = 0, condense: bool = True) -> Iterator[Sequence]:
    """Several densities and sizes (256 x 256, 40 frames); ``draw`` offsets the seeds
    (another movie of each recipe); ``condense`` as in :func:`sequence`."""
    yield sequence("sparse, 20 px", 12, 20.0, seed=1 + draw, condense=condense)
    yield sequence("medium, 16 px", 25, 16.0, seed=2 + draw, condense=condense)
    yield sequence("dense, 14 px", 45, 14.0, seed=3 + draw, condense=condense)
    yield sequence("large nuclei, 28 px", 12, 28.0, seed=4 + draw, condense=condense)


def tuning_sequences() -> Iterator[Sequence]:
    """Another movie of each 256 x 256 recipe (seeds offset by :data:`TUNING_DRAW`): the
    draws the detector's and linker's constants are chosen on, so that the benchmark's
    own movies stay a test of them."""
    yield from quality_sequences(TUNING_DRAW)
    yield from hard_sequences(TUNING_DRAW)


def nocondense_sequences() -> Iterator[Sequence]:
    """The seven 256 x 256 recipes with mothers that do not show mitosis
    (``Dynamics(condense=False)``: no rounding up, shrinking or brightening before the
    daughters appear): a marker that does not follow the chromatin, or divisions drawn
    between two frames, where the tracker's condensation rule must not undo every
    division."""
    yield from quality_sequences(NOCONDENSE_DRAW, condense=False)
    yield from hard_sequences(NOCONDENSE_DRAW, condense=False)


def hard_sequences(draw: int = 0, condense: bool = True) -> Iterator[Sequence]:
    """Harder movies (256 x 256, 40 frames): cells moving about half their diameter a
    frame, dense touching nuclei, dim nuclei under uneven light; ``draw`` and
    ``condense`` as in :func:`quality_sequences`."""
    yield sequence(
        "fast movers, 16 px",
        20,
        16.0,
        seed=5 + draw,
        condense=condense,
        motion={"speed": 7.0, "persistence": 0.85, "drift": (2.0, 1.5), "jitter": 1.0},
    )
    yield sequence(
        "dense touching, 14 px",
        70,
        14.0,
        seed=6 + draw,
        condense=condense,
        divisions=(4, 14),
        look={"clustering": 0.9, "overlap": 0.15, "coverage": 0.5},
    )
    yield sequence(
        "dim, uneven light, 18 px",
        20,
        18.0,
        seed=7 + draw,
        condense=condense,
        look={
            "dim_fraction": 0.4,
            "brightness_spread": 0.7,
            "gradient": 0.6,
            "vignetting": 0.6,
            "haze": 0.3,
            "snr": 3.0,
        },
    )


def big_sequences() -> Iterator[Sequence]:
    """A field of the size microscopes record (1024 x 1024, 20 frames) with about 100
    nuclei of 20 px: the scale of the issue's speed target, scored like the others."""
    yield sequence(
        "1024 x 1024, 100 cells, 20 px",
        100,
        20.0,
        n_frames=20,
        shape=(1024, 1024),
        divisions=(4, 30),
        seed=8,
    )


def random_sequences(n: int = 16) -> Iterator[Sequence]:
    """``n`` movies (256 x 256, 40 frames) of recipes drawn at random, none of which any
    constant of the tracker was chosen on: a nucleus diameter of 9-32 px, nuclei covering
    5-35 % of the field, 2-40 divisions, and the random look and motion of every other
    movie (``sam2_synthetic.random_style`` / ``random_dynamics``: texture, debris,
    out-of-focus ghosts, speed, ...), seeds offset by :data:`RANDOM_DRAW`. The fixed
    recipes above each stress one thing; these ask how the tracker does on movies nobody
    picked."""
    for i in range(n):
        rng = np.random.default_rng((SEED, RANDOM_DRAW + i))
        diameter = float(rng.uniform(9.0, 32.0))
        cover = float(rng.uniform(0.05, 0.35))
        n_cells = max(4, round(cover * 256 * 256 / (np.pi * diameter**2 / 4)))
        yield sequence(
            f"random {i}: {diameter:.0f} px, {n_cells} cells",
            n_cells,
            diameter,
            seed=RANDOM_DRAW + i,
            divisions=(2, 40),
        )
