"""The classical baseline the SAM 2 tracker is compared with: threshold + watershed + LAP.

What a careful analyst does today with scikit-image and laptrack. Per frame:

1. Gaussian smoothing (sigma 1 px) against shot noise;
2. a local (adaptive) threshold, ``skimage.filters.threshold_local`` (Gaussian-weighted
   51 px neighbourhood, about 2-3 nuclear diameters) made a little stricter than the local
   mean, with two global guards from the Otsu level: a floor (dim background bumps stay
   out) and a cap (a dim nucleus among bright neighbours, whose local mean is above it,
   stays in); specks opened away, small holes (nucleoli) filled but not the gaps enclosed
   by a ring of nuclei;
3. a distance-transform watershed: markers at the h-maxima of the smoothed Euclidean
   distance transform (at least ``min_distance`` apart); neighbouring regions whose shared
   border is not a waist (saddle >= 0.9 x the lower peak: one elongated nucleus cut in
   two) are merged again, fragments under ``min_area`` dropped. These three watershed
   helpers (hole filling, close markers, wide necks) are the same functions our classical
   detector uses (:mod:`sam2_cells.classical`), so the comparison is of what differs:
   the background and threshold of step 2, the seeds' spacing and the linking costs.

Across frames, ``laptrack.LapTrack`` links centroids (squared Euclidean cost) frame to
frame, then closes gaps of one missing frame and finds divisions (splitting), no merging.
The LAP graph becomes CTC labels and :class:`~sam2_cells.TrackRecord` s: each unbranched
chain is a track, a chain that splits ends and its two successors begin as daughters, and
:func:`sam2_cells.make_ctc_valid` turns gap-closed chains into parent-linked tracks.

Parameters were tuned on ``sam2_synthetic.nuclei_timelapse`` sequences (seeds 0-3; the
report's numbers are on other seeds). Run ``python benchmarks/baseline_laptrack.py`` to
track one generated sequence and print DET/SEG/TRA and the time per frame.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from sam2_cells import TrackRecord, make_ctc_valid
from sam2_cells.classical import fill_small_holes, merge_close_markers, merge_wide_necks

__all__ = ["BaselineParams", "segment_frame", "track_classical"]


@dataclass(frozen=True)
class BaselineParams:
    """Parameters of :func:`track_classical`; lengths in pixels.

    Attributes
    ----------
    sigma : float
        Gaussian smoothing before thresholding.
    block_size : int
        Odd neighbourhood size of the local threshold.
    offset : float
        ``threshold_local`` offset as a fraction of the frame's contrast (Otsu level minus
        the 10th percentile); negative raises the threshold above the local mean.
    floor_fraction, cap_fraction : float
        Foreground needs intensity above ``background + floor_fraction * contrast`` and
        above the local threshold, or above ``background + cap_fraction * contrast``.
    min_distance : int
        Minimum distance between watershed markers.
    h : float
        Minimum height of a distance-transform maximum over its surroundings (h-maxima).
    neck_ratio : float
        Neighbouring regions are merged when the distance transform on their border is at
        least this fraction of the lower of their peaks.
    min_area : int
        Objects smaller than this are dropped.
    max_hole : int
        Holes up to this area are filled.
    max_speed : float
        Largest frame-to-frame displacement linked (also for gap closing).
    split_distance : float
        Largest distance from a mother's last centroid to a daughter's first; starting a
        new track costs as much as the farthest such division.
    gap_frames : int
        ``gap_closing_max_frame_count`` of laptrack: 2 bridges one missing frame.
    """

    sigma: float = 1.0
    block_size: int = 51
    offset: float = -0.2
    floor_fraction: float = 0.5
    cap_fraction: float = 0.8
    min_distance: int = 5
    h: float = 1.0
    neck_ratio: float = 0.9
    min_area: int = 30
    max_hole: int = 10
    max_speed: float = 16.0
    split_distance: float = 16.0
    gap_frames: int = 2

    TUNED_DIAMETER = 17.0  # typical nucleus diameter of the sequences the values were tuned on

    @classmethod
    def for_diameter(cls, diameter: float) -> BaselineParams:
        """The defaults with every length scaled to nuclei of ``diameter`` pixels (what a
        careful analyst does for her own data: she knows her cells' size)."""
        k = float(diameter) / cls.TUNED_DIAMETER
        d = cls()
        return cls(
            sigma=d.sigma * max(k, 0.5),
            block_size=int(2 * round(d.block_size * k / 2) + 1),
            offset=d.offset,
            floor_fraction=d.floor_fraction,
            cap_fraction=d.cap_fraction,
            min_distance=max(2, round(d.min_distance * k)),
            h=d.h * k,
            neck_ratio=d.neck_ratio,
            min_area=max(4, round(d.min_area * k * k)),
            max_hole=max(2, round(d.max_hole * k * k)),
            max_speed=d.max_speed * k,
            split_distance=d.split_distance * k,
            gap_frames=d.gap_frames,
        )


def segment_frame(frame: np.ndarray, params: BaselineParams | None = None) -> np.ndarray:
    """Instance segmentation of one frame of nuclei.

    Parameters
    ----------
    frame : numpy.ndarray
        (H, W) intensities (bright nuclei on a dark, possibly uneven background).
    params : BaselineParams, optional
        Defaults to ``BaselineParams()``.

    Returns
    -------
    numpy.ndarray
        (H, W) ``int32`` labels 1..N (0 background).
    """
    from skimage.filters import threshold_local, threshold_otsu
    from skimage.morphology import h_maxima
    from skimage.segmentation import watershed

    p = params or BaselineParams()
    img = ndi.gaussian_filter(np.asarray(frame, dtype=np.float32), p.sigma)
    background = float(np.percentile(img, 10))
    otsu = threshold_otsu(img)
    contrast = max(otsu - background, 1e-6)
    local = threshold_local(img, p.block_size, method="gaussian", offset=p.offset * contrast)
    low = background + p.floor_fraction * contrast
    high = background + p.cap_fraction * contrast
    mask = (img > low) & ((img > local) | (img > high))
    mask = ndi.binary_opening(mask, iterations=1)
    mask = fill_small_holes(mask, p.max_hole)
    if not mask.any():
        return np.zeros(mask.shape, dtype=np.int32)
    dist = ndi.gaussian_filter(ndi.distance_transform_edt(mask).astype(np.float32), 1.0)
    peaks = h_maxima(dist, p.h) & mask
    markers, n = ndi.label(peaks)
    if p.min_distance > 1 and n > 1:
        markers = merge_close_markers(markers, dist, p.min_distance)
    labels = watershed(-dist, markers, mask=mask).astype(np.int32)
    labels = merge_wide_necks(labels, dist, p.neck_ratio)
    return _drop_small(labels, p.min_area)


def _drop_small(labels: np.ndarray, min_area: int) -> np.ndarray:
    areas = np.bincount(labels.ravel())
    small = np.flatnonzero(areas < min_area)
    small = small[small > 0]
    if small.size:
        labels = labels.copy()
        labels[np.isin(labels, small)] = 0
    ids = np.unique(labels)
    lut = np.zeros(int(ids.max()) + 1, dtype=np.int32)
    lut[ids[ids > 0]] = np.arange(1, int((ids > 0).sum()) + 1)
    return lut[labels]


def _link(
    centroids: list[np.ndarray], params: BaselineParams
) -> tuple[dict[tuple[int, int], int], dict[int, int]]:
    """LAP linking; (frame, index) -> track id and track id -> parent track id."""
    from laptrack import LapTrack

    tracker = LapTrack(
        cutoff=params.max_speed**2,
        splitting_cutoff=params.split_distance**2,
        merging_cutoff=False,
        gap_closing_cutoff=params.max_speed**2,
        gap_closing_max_frame_count=params.gap_frames,
        segment_start_cost=params.split_distance**2,
        no_splitting_cost=params.split_distance**2,
    )
    coords = [c if len(c) else np.zeros((0, 2)) for c in centroids]
    tree = tracker.predict(coords)
    track_of: dict[tuple[int, int], int] = {}
    parent: dict[int, int] = {}
    next_id = 1
    starts = [n for n in tree.nodes if tree.in_degree(n) == 0]
    stack: list[tuple[tuple[int, int], int]] = [(n, 0) for n in sorted(starts)]
    while stack:
        node, mother = stack.pop()
        track = next_id
        next_id += 1
        parent[track] = mother
        while True:
            track_of[node] = track
            succ = sorted(tree.successors(node))
            if len(succ) == 1 and tree.in_degree(succ[0]) == 1:
                node = succ[0]
                continue
            stack.extend((s, track) for s in succ)
            break
    return track_of, parent


def track_classical(
    movie: np.ndarray, params: BaselineParams | None = None
) -> tuple[np.ndarray, list[TrackRecord]]:
    """Segment every frame and link the nuclei into a CTC-valid lineage.

    Parameters
    ----------
    movie : numpy.ndarray
        (T, H, W) intensities, axis order (time, row, col); read frame by frame.
    params : BaselineParams, optional
        Defaults to ``BaselineParams()``.

    Returns
    -------
    labels : numpy.ndarray
        (T, H, W) ``int32`` tracked labels, one id per track.
    tracks : list of TrackRecord
        The lineage, following the Cell Tracking Challenge rules.
    """
    p = params or BaselineParams()
    segs = [segment_frame(np.asarray(movie[t]), p) for t in range(len(movie))]
    centroids = []
    for seg in segs:
        n = int(seg.max())
        c = np.asarray(ndi.center_of_mass(seg > 0, seg, np.arange(1, n + 1))) if n else None
        centroids.append(c.reshape(-1, 2) if c is not None else np.zeros((0, 2)))
    track_of, parent = _link(centroids, p)
    labels = np.zeros((len(segs), *segs[0].shape), dtype=np.int32)
    for t, seg in enumerate(segs):
        lut = np.zeros(int(seg.max()) + 1, dtype=np.int32)
        for i in range(int(seg.max())):
            lut[i + 1] = track_of.get((t, i), 0)
        labels[t] = lut[seg]
    valid, tracks = make_ctc_valid(labels, parent)
    return np.asarray(valid).astype(np.int32), tracks


def main() -> None:
    """Track one generated sequence and print DET/SEG/TRA and the time per frame."""
    from sam2_cells import score_arrays
    from sam2_synthetic import nuclei_timelapse

    config = {"n_frames": 50, "shape": (256, 256), "n_nuclei": 20, "seed": 10}
    data = nuclei_timelapse(**config)  # type: ignore[arg-type]
    start = time.perf_counter()
    labels, tracks = track_classical(data.movie)
    per_frame = (time.perf_counter() - start) / len(data.movie)
    scores = score_arrays(labels, tracks, data.labels, data.tracks)
    print(
        f"nuclei_timelapse({config}): {len(tracks)} tracks (truth {len(data.tracks)}, "
        f"{data.n_divisions} divisions), {per_frame:.3f} s per frame"
    )
    print(
        f"DET {scores.det:.4f}  SEG {scores.seg:.4f}  TRA {scores.tra:.4f}  "
        f"LNK {scores.lnk:.4f}  BC(1) {scores.bc.get(1)}  BIO(1) {scores.bio.get(1)}"
    )


if __name__ == "__main__":
    main()
