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
) -> Sequence:
    """A movie with ``n_cells`` nuclei of about ``diameter`` px and 4-6 divisions."""
    for attempt in range(200):
        key = (SEED, seed, attempt)
        rng = np.random.default_rng(key)
        style = dataclasses.replace(
            syn.random_style(rng, modality="nuclear", shape=shape), diameter=diameter
        )
        dyn = dataclasses.replace(
            syn.random_dynamics(rng), division_rate=float(rng.uniform(0.004, 0.012))
        )
        movie = syn.microscopy_timelapse(
            n_frames, shape, seed=key, style=style, dynamics=dyn, n_cells=n_cells
        )
        out = Sequence(name, movie, diameter)
        if divisions[0] <= out.divisions <= divisions[1]:
            return out
    raise RuntimeError(f"no movie with {divisions} divisions found for {name}")


def quality_sequences() -> Iterator[Sequence]:
    """Several densities and sizes (256 x 256, 40 frames)."""
    yield sequence("sparse, 20 px", 12, 20.0, seed=1)
    yield sequence("medium, 16 px", 25, 16.0, seed=2)
    yield sequence("dense, 14 px", 45, 14.0, seed=3)
    yield sequence("large nuclei, 28 px", 12, 28.0, seed=4)
