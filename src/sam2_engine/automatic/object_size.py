"""The typical object size of an image, from what an instance head finds at probe sizes.

:class:`~sam2_engine.automatic.instances.InstanceSegmenter` runs its head at a series of
assumed object diameters (probes) and notes the median size of what it finds at each. At
the true size, the objects come out at the size assumed and stay that size when the probe
changes a little: a *plateau* (:func:`plateau_scores`). Textures and fragments of objects
make false plateaus. The one that fails users is on sparse fields: the few objects in the
central crop of a small probe, magnified, come apart into fragments of one consistent
size, a plateau at a third to a half of the true size. Fragments of an object lie against
each other; the objects of a field that is not crowded do not. So where another plateau
is at least :data:`SIZE_JUMP` times larger (the best-scored such:
:func:`larger_plateau`), the head segments one central crop at both sizes and the
larger is taken where clearly fewer of its objects touch another (:func:`prefer_larger`).
That rule was set on three generated fields, two where the failure was seen (a 1024 x
1024 tracking field, a 384 x 384 one) and one where the best plateau was right, and
checked on 72 other generated fields (``benchmarks/bench_size_estimate.py``: 63 -> 64
within 1.3x of the truth: two sizes put right, one put wrong). It is strict, to
take few right sizes for wrong ones, and so catches the clearest cases only
(the 384 x 384 field, 8.0 -> 38.4 px for 35.5, and not the 1024 x 1024 one, where the
shares are 0.52 and 0.23; the tracker adds a second check, ``sam2_cells.cell_size``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage as ndi

__all__ = [
    "PLATEAU_WEIGHT",
    "PROBE_DIAMETERS",
    "SIZE_JUMP",
    "TOUCH_MARGIN",
    "TOUCH_RATIO",
    "larger_plateau",
    "plateau_diameter",
    "plateau_scores",
    "prefer_larger",
    "touching_share",
]

#: diameters (image pixels) tried when estimating the object size: 6 to 121 px, each
#: 1.35 times the one before (the estimate needs both neighbours of a probe: 8-90 px)
PROBE_DIAMETERS = tuple(round(6.0 * 1.35**k, 2) for k in range(11))
#: weight of a probe's instability (spread of the sizes found by it and its neighbours, in
#: log units) against its inconsistency (found / assumed size, in log units); chosen on
#: 64 generated fields of 8-50 px objects (seeds 700,000-700,063; nuclear, cytoplasm and
#: phase) for steps 5,400 and 9,600 of the bundled recipe: within 1.3x of the true size on
#: 97-98 % of fields (the consistency alone: 69-73 %); weights 2-4 do as well
PLATEAU_WEIGHT = 3.0
#: a second plateau is weighed against the best only when it is this many times larger
SIZE_JUMP = 1.5
#: ... and taken when the share of objects touching another is at its size at most half
#: of the best's and lower by at least TOUCH_MARGIN (fragments at the wrong size: 0.47-0.93
#: of the objects touch on the fields where it was seen; whole objects: 0-0.23). A margin
#: of 0.2 took the larger size wrongly on 3 of 72 generated fields (a run of
#: ``benchmarks/bench_size_estimate.py`` on seeds 900,000)
TOUCH_RATIO = 2.0
TOUCH_MARGIN = 0.3


def plateau_scores(
    probes: Sequence[float], found: Sequence[float | None], weight: float = PLATEAU_WEIGHT
) -> list[tuple[float, float]]:
    """Every plateau candidate, best first.

    Parameters
    ----------
    probes : sequence of float, length P
        Object diameters assumed (pixels), increasing.
    found : sequence of float or None, length P
        Median diameter of the objects found with each assumption; None where fewer than
        two objects were found.
    weight : float
        Weight of the instability against the inconsistency.

    Returns
    -------
    list of (score, size)
        One per probe k with found sizes at k - 1, k and k + 1: the score
        ``|log(found_k / probe_k)| + weight * std(log found_{k-1..k+1})`` (lower is
        better) and the geometric mean of those three sizes; sorted by score.
    """
    if len(probes) != len(found):
        raise ValueError(f"{len(probes)} probes but {len(found)} found sizes")
    logs = [None if f is None else float(np.log(f)) for f in found]
    out = []
    for k in range(1, len(probes) - 1):
        near = logs[k - 1 : k + 2]
        if any(v is None for v in near):
            continue
        score = abs(near[1] - np.log(probes[k])) + weight * float(np.std(near))
        out.append((float(score), float(np.exp(np.mean(near)))))
    return sorted(out)


def plateau_diameter(
    probes: Sequence[float], found: Sequence[float | None], weight: float = PLATEAU_WEIGHT
) -> float | None:
    """The object size from the sizes found at each probe size.

    Parameters
    ----------
    probes, found, weight
        As in :func:`plateau_scores`.

    Returns
    -------
    float or None
        The size of the best plateau (:func:`plateau_scores`). Where no probe has both
        neighbours, the found size closest to its probe; None when nothing was found.
    """
    ranked = plateau_scores(probes, found, weight)
    if ranked:
        return ranked[0][1]
    pairs = [(abs(np.log(f / p)), f) for p, f in zip(probes, found, strict=True) if f is not None]
    return float(min(pairs)[1]) if pairs else None


def larger_plateau(
    probes: Sequence[float],
    found: Sequence[float | None],
    best: float,
    jump: float = SIZE_JUMP,
    weight: float = PLATEAU_WEIGHT,
) -> float | None:
    """The size of the best-scoring plateau at least ``jump`` times larger than ``best``
    (pixels), or None where there is none."""
    for _, size in plateau_scores(probes, found, weight):
        if size >= jump * best:
            return size
    return None


def touching_share(labels: np.ndarray) -> float:
    """Share of the objects of an (H, W) integer label image (0: background) that touch
    another object, 8-connected; 0 for an image without objects."""
    labels = np.asarray(labels)
    ids = np.unique(labels)
    ids = ids[ids > 0]
    if ids.size == 0:
        return 0.0
    # an object pixel touches another object where a larger or a smaller label is among
    # its 3 x 3 neighbours (background counted as larger than any label for the smallest)
    largest = ndi.grey_dilation(labels, size=3)
    smallest = ndi.grey_erosion(np.where(labels > 0, labels, labels.max() + 1), size=3)
    edge = (labels > 0) & ((largest > labels) | (smallest < labels))
    return float(np.unique(labels[edge]).size) / float(ids.size)


def prefer_larger(
    smaller: np.ndarray,
    larger: np.ndarray,
    ratio: float = TOUCH_RATIO,
    margin: float = TOUCH_MARGIN,
) -> bool:
    """Whether the larger of two candidate sizes wins.

    Parameters
    ----------
    smaller, larger : ndarray of int, shape (H, W)
        One image segmented at each size.
    ratio, margin : float
        The larger wins when it finds at least two objects and the share of its objects
        that touch another (:func:`touching_share`) is at most ``1 / ratio`` of the
        smaller's and lower by at least ``margin``: the smaller's objects are fragments
        lying against each other.
    """
    if np.count_nonzero(np.bincount(np.asarray(larger).ravel())[1:]) < 2:
        return False
    small, large = touching_share(smaller), touching_share(larger)
    return small >= ratio * large and small - large >= margin
