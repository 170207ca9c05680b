"""What the synthetic-data generators return: images, time-lapses and their tracks.

Label images are ``int32`` with 0 for background and ids ``1..N``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sam2_cells.lineage import TrackRecord

__all__ = ["SyntheticImage", "SyntheticTimelapse"]


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
