"""A classical detector for fluorescent nuclei: the baseline, built with scikit-image.

No model, no training: what a careful analyst would write for bright nuclei on a dark,
possibly uneven background. Every length follows one number, the typical object
diameter ``D`` in pixels (estimated from the frame when not given). Per frame:

0. **polarity**: whether the nuclei are brighter than the background (a fluorescence
   stain) or darker (an inverted display, a negative stain) is read from the histogram
   of the frame's fine structure (:func:`bright_objects`; the tracker decides it once, on
   frame 0); dark nuclei are negated and handled as bright ones;
1. **background flattening**: the background is the grey opening of the frame with a
   disk wider than a nucleus (on a frame shrunk so that ``D`` is about 8 px, for speed),
   smoothed; it is subtracted, so uneven illumination, vignetting and haze go away;
2. **noise-aware, object-relative threshold**: smoothing (sigma ``D / 12``), then a pixel
   is foreground when it is above ``k`` times the noise over the background level (the
   histogram mode, not the median: right however much of the field nuclei cover; the
   noise is the robust spread of the pixels below it) *and* above a share of its own
   neighbourhood's brightness
   (a Gaussian-weighted local maximum about one nucleus wide), so a dim nucleus is kept
   beside bright ones and a bright nucleus' halo is not;
3. **distance-transform seeded watershed**: markers at the h-maxima of the smoothed
   distance transform, at least ``D / 3`` apart; neighbours whose shared border is not a
   waist (one elongated nucleus cut in two) are merged again; an object that fails the
   shape tests below has its thin attachments stripped first (a fibre or a scratch
   touching a nucleus: :func:`strip_attachments`); objects under a tenth of a typical
   nucleus' area, thin debris (low solidity) and fibres (long and narrow) are dropped.

It is a baseline: it knows nothing about texture, so it splits very textured nuclei
(``ClassicalParams.texture``, off by default, reads their brightness smoothed instead),
merges nuclei touching along a long border, and takes bright debris of nucleus size for a
nucleus. A segmentation model (``--detector model``) or your own label stack
(``--labels``) does better where those happen.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

__all__ = [
    "TEXTURED",
    "ClassicalParams",
    "bright_objects",
    "ellipse_axes",
    "estimate_diameter",
    "fill_small_holes",
    "histogram_mode",
    "merge_close_markers",
    "merge_wide_necks",
    "segment_nuclei",
    "strip_attachments",
]

DEFAULT_DIAMETER = 17.0  # pixels, when nothing else is known
TEXTURED = 0.17  # ClassicalParams.texture for textured nuclei (diameters)
#: In a size estimate (:func:`median_diameter`), objects under this share of the
#: area-weighted median object are specks, not cells, and do not count.
SPECK_AREA = 0.1


@dataclass(frozen=True)
class ClassicalParams:
    """The classical detector's settings; lengths in units of the object diameter.

    Attributes
    ----------
    noise_k : float
        Foreground is at least this many noise standard deviations above background.
    relative : float
        ... and at least this share of the local brightness (the smoothed local maximum).
    smooth : float
        Gaussian sigma before thresholding, in diameters.
    h : float
        Height of a distance-transform maximum to seed a watershed region, in diameters.
    min_distance : float
        Smallest distance between two seeds, in diameters.
    neck_ratio : float
        Two touching regions are one nucleus when the distance transform on their shared
        border is at least this share of the lower peak.
    min_area : float
        Smallest object kept, as a share of a disk of the diameter.
    min_solidity : float
        Objects less solid than this (fibres, debris) are dropped.
    min_thickness : float
        Objects whose largest inscribed disk is narrower than this (in diameters, as a
        radius) are fibres or debris and dropped.
    max_elongation : float
        Objects longer than 1.5 diameters and more than this many times as long as wide
        (fibres, scratches) are dropped; 0 keeps them.
    closing : float
        Radius (in diameters) of a closing of each foreground object on its own, which
        fills the dark pits and bays of very textured nuclei so that they are not split
        (0: none). On the tracking benchmark 0.12 raises TRA where nuclei are textured
        (fast movers 0.69 -> 0.75, large nuclei 0.85 -> 0.88) but finds fewer divisions
        (a condensed mother is filled out), so it is off by default.
    strip_radius : float
        An object that fails the shape tests (``min_solidity``, ``max_elongation``) is
        opened with a disk of this radius (in diameters) before it is dropped: what a
        fibre, a scratch or a strand of debris touching a nucleus added to it goes, the
        compact parts left are tested again (:func:`strip_attachments`). 0 drops such an
        object whole. Not used while the diameter is estimated
        (:func:`estimate_diameter` reads the objects as the threshold finds them).
    texture : float
        Gaussian sigma (in diameters) of the image the local brightness of the relative
        threshold is read from; 0: the thresholded image itself. A bright spot of a very
        textured nucleus (chromocentres, condensed chromatin) raises its local
        brightness, so its dimmer parts fall under the relative threshold: the nucleus is
        under-filled or cut in pieces. :data:`TEXTURED` averages the texture out (the
        ``textured`` option of the tracker): see ``docs/tracking.md`` for what it gains
        and costs.
    """

    noise_k: float = 3.0
    relative: float = 0.35
    smooth: float = 1 / 12
    h: float = 0.06
    min_distance: float = 0.33
    neck_ratio: float = 0.85
    min_area: float = 0.12
    min_solidity: float = 0.6
    min_thickness: float = 0.18
    max_elongation: float = 4.0
    closing: float = 0.0
    strip_radius: float = 0.2
    texture: float = 0.0


def flatten_background(img: np.ndarray, diameter: float) -> np.ndarray:
    """``img`` minus its background (grey opening wider than a nucleus, smoothed)."""
    zoom = min(1.0, 8.0 / max(diameter, 1.0))
    small = ndi.zoom(img, zoom, order=1) if zoom < 1.0 else img
    size = max(3, round(diameter * zoom * 2.0) | 1)
    bg = ndi.grey_opening(small, size=(size, size))
    bg = ndi.uniform_filter(bg, size)
    if zoom < 1.0:
        factors = (img.shape[0] / bg.shape[0], img.shape[1] / bg.shape[1])
        bg = ndi.zoom(bg, factors, order=1)
        bg = _fit(bg, img.shape)
    return img - bg


def _fit(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    out = np.empty(shape, a.dtype)
    h, w = min(shape[0], a.shape[0]), min(shape[1], a.shape[1])
    out[:h, :w] = a[:h, :w]
    out[h:, :w] = a[h - 1 : h, :w]
    out[:, w:] = out[:, w - 1 : w]
    return out


def histogram_mode(values: np.ndarray, bins: int = 256) -> float:
    """The most common value of ``values`` (any shape): the peak of a lightly smoothed
    histogram between the 0.5th and 99.5th percentiles.

    Unlike the median it stays on the background when nuclei cover half the field or
    more: the background is one flat level (a sharp peak), nuclei are spread over many.
    """
    v = np.asarray(values, np.float64).ravel()
    lo, hi = np.percentile(v, [0.5, 99.5])
    if not hi > lo:
        return float(np.median(v))
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    peak = int(np.argmax(ndi.gaussian_filter1d(counts.astype(np.float64), 2.0)))
    return float(0.5 * (edges[peak] + edges[peak + 1]))


def _background_level(img: np.ndarray, rounds: int = 5) -> tuple[float, float]:
    """(level, noise) of the background.

    A first guess that does not assume most pixels are background: the histogram mode
    of the frame and the robust spread of the pixels below it (the side no nucleus
    reaches). The guess is then refined on the pixels within 3 noise deviations of the
    level (their median and robust spread, until they settle, at most ``rounds`` times):
    the mode of a coarse histogram and the spread of one side alone are biased when the
    background noise is small against the nuclei's brightness (a clean 16-bit image),
    which would let a third of the background through the threshold."""
    level = histogram_mode(img)
    low = level - img[img <= level]
    sigma = max(1.4826 * float(np.median(low)) if low.size else 0.0, 1e-6)
    for _ in range(rounds):
        near = img[np.abs(img - level) <= 3.0 * sigma]
        if near.size < 64:
            break
        new_level = float(np.median(near))
        new_sigma = max(1.4826 * float(np.median(np.abs(near - new_level))), 1e-6)
        settled = abs(new_level - level) < 0.01 * sigma and abs(new_sigma - sigma) < 0.01 * sigma
        level, sigma = new_level, new_sigma
        if settled:
            break
    return level, sigma


def bright_objects(frame: np.ndarray, diameter: float) -> bool:
    """Whether the nuclei of ``frame`` (H, W) are brighter than the background (a
    fluorescence stain) rather than darker (an inverted display, a negative stain).

    The frame is smoothed (1 px) and its structure wider than a nucleus removed (minus a
    Gaussian blur of ``2 * diameter``); objects make a long tail of the histogram on
    their side of the background's level (the mode), noise a short one on both sides.
    """
    img = ndi.gaussian_filter(np.asarray(frame, np.float32), 1.0)
    high = img - ndi.gaussian_filter(img, 2.0 * max(float(diameter), 1.0))
    mode = histogram_mode(high)
    lo, hi = np.percentile(high, [0.5, 99.5])
    return bool(hi - mode >= mode - lo)


def foreground(
    frame: np.ndarray, diameter: float, p: ClassicalParams, bright: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """(foreground mask, flattened smoothed frame) of one (H, W) frame; ``bright``:
    the nuclei are brighter than the background (else the frame is negated first)."""
    img = np.asarray(frame, dtype=np.float32)
    if not bright:
        img = -img
    flat = flatten_background(img, diameter)
    smooth = ndi.gaussian_filter(flat, max(0.7, p.smooth * diameter))
    level, noise = _background_level(smooth)  # noise and background structure left
    size = max(3, round(diameter))
    reference = (
        ndi.gaussian_filter(flat, max(0.7, p.texture * diameter)) if p.texture > 0 else smooth
    )
    local_max = ndi.gaussian_filter(ndi.maximum_filter(reference, size=size), diameter / 2)
    bright = smooth > level + p.noise_k * noise
    mask = bright & (smooth - level > p.relative * (local_max - level))
    return mask, smooth


def segment_nuclei(
    frame: np.ndarray,
    diameter: float | None = None,
    params: ClassicalParams | None = None,
    bright: bool | None = None,
) -> np.ndarray:
    """(H, W) int32 labels 1..N of the nuclei of one frame (0: background).

    Parameters
    ----------
    frame
        (H, W) intensities, axis order (row, col).
    diameter
        Typical nucleus diameter in pixels (None: :func:`estimate_diameter`).
    params
        Defaults to ``ClassicalParams()``.
    bright
        True: nuclei brighter than the background; False: darker; None: decided on this
        frame (:func:`bright_objects`).
    """
    from skimage.segmentation import watershed

    p = params or ClassicalParams()
    frame = np.asarray(frame)
    if frame.ndim != 2:
        raise ValueError(f"segment_nuclei takes one (H, W) frame, got shape {frame.shape}")
    if diameter is None:
        diameter = estimate_diameter(frame, params=p, bright=bright)
    d = float(diameter)
    if bright is None:
        bright = bright_objects(frame, d)
    mask, _ = foreground(frame, d, p, bright)
    mask = ndi.binary_opening(mask, iterations=1 if d < 24 else 2)
    if p.closing > 0:
        mask = close_mask(mask, max(1, round(p.closing * d)))
    mask = fill_small_holes(mask, max(4, int(0.15 * np.pi * d * d / 4)))
    if not mask.any():
        return np.zeros(mask.shape, np.int32)
    edt = ndi.distance_transform_edt(mask).astype(np.float32)
    dist = ndi.gaussian_filter(edt, max(1.0, d / 16))
    peaks = _seeds(dist, mask, max(0.5, p.h * d))
    markers, n = ndi.label(peaks)
    if n > 1:
        markers = merge_close_markers(markers, dist, max(2.0, p.min_distance * d))
    labels = watershed(-dist, markers, mask=mask).astype(np.int32)
    labels = merge_wide_necks(labels, dist, p.neck_ratio)
    if p.strip_radius > 0:
        stripped, passed = _strip(labels, d, p)
        if stripped is not labels:
            edt = _edt_without(edt, (labels > 0) & (stripped == 0))
            labels = stripped
        return _clean(labels, edt, d, p, passed)
    return _clean(labels, edt, d, p)


def _edt_without(edt: np.ndarray, removed: np.ndarray) -> np.ndarray:
    """The (H, W) distance transform ``edt`` of a mask, updated for the ``removed``
    pixels (an attachment stripped) turning to background: the smaller of the old
    distance and the distance to a removed pixel, computed only around them (no pixel
    farther from them than the largest old distance can change)."""
    out = edt.copy()
    reach = int(np.ceil(float(edt.max()))) + 1
    parts, _ = ndi.label(removed, structure=np.ones((3, 3), bool))
    for box in ndi.find_objects(parts):
        if box is None:
            continue
        window = tuple(slice(max(0, b.start - reach), b.stop + reach) for b in box)
        near = ndi.distance_transform_edt(~removed[window])
        np.minimum(out[window], near, out=out[window], casting="unsafe")
    return out


def estimate_diameter(
    frame: np.ndarray,
    guess: float = DEFAULT_DIAMETER,
    params: ClassicalParams | None = None,
    bright: bool | None = None,
) -> float:
    """Typical nucleus diameter (pixels) of one (H, W) frame: the median equivalent
    diameter of the objects found with a guessed diameter, refined twice (``bright`` as
    in :func:`segment_nuclei`)."""
    d = float(guess)
    whole = dataclasses.replace(params or ClassicalParams(), strip_radius=0.0)
    for _ in range(3):
        labels = segment_nuclei(frame, d, whole, bright)
        found = median_diameter(labels)
        if found is None:
            return d
        if abs(found - d) < 0.1 * d:
            return found
        d = found
    return d


def median_diameter(labels: np.ndarray) -> float | None:
    """Median equivalent-disk diameter of the objects of a label image (None: empty),
    specks left out.

    An object under :data:`SPECK_AREA` of the area-weighted median object (the size
    that half of the objects' area is in objects at least as large as) does not count:
    bright specks of debris can outnumber a few large nuclei, and the plain median would
    then be a speck's size (a field of nine 28 px nuclei among specks of 7 px was
    estimated at 7 px). Daughters, fragments and small cells, a tenth of that size in
    area or more, still count.
    """
    areas = np.bincount(np.asarray(labels).ravel())[1:]
    areas = areas[areas > 0]
    if areas.size == 0:
        return None
    ranked = np.sort(areas)
    running = np.cumsum(ranked)
    weighted = float(ranked[np.searchsorted(running, 0.5 * running[-1])])
    counted = areas[areas >= SPECK_AREA * weighted]
    return float(2.0 * np.sqrt(np.median(counted) / np.pi))


def merge_wide_necks(labels: np.ndarray, dist: np.ndarray, ratio: float) -> np.ndarray:
    """Merge neighbouring regions whose shared border is not a waist (saddle of the
    distance transform at least ``ratio`` x the lower peak)."""
    n = int(labels.max())
    if n < 2:
        return labels
    pairs, saddles = [], []
    for a, b, da, db in (
        (labels[:, :-1], labels[:, 1:], dist[:, :-1], dist[:, 1:]),
        (labels[:-1, :], labels[1:, :], dist[:-1, :], dist[1:, :]),
    ):
        touch = (a != b) & (a > 0) & (b > 0)
        lo, hi = np.minimum(a[touch], b[touch]), np.maximum(a[touch], b[touch])
        pairs.append(lo.astype(np.int64) * (n + 1) + hi)
        saddles.append(np.minimum(da[touch], db[touch]))
    keys = np.concatenate(pairs)
    if keys.size == 0:
        return labels
    uniq, inverse = np.unique(keys, return_inverse=True)
    saddle = np.full(len(uniq), -np.inf)
    np.maximum.at(saddle, inverse, np.concatenate(saddles))
    peak = np.zeros(n + 1)
    np.maximum.at(peak, labels.ravel(), dist.ravel())
    root = np.arange(n + 1)

    def find(i: int) -> int:
        while root[i] != i:
            root[i] = root[root[i]]
            i = int(root[i])
        return i

    for key, value in zip(uniq.tolist(), saddle.tolist(), strict=True):
        a, b = divmod(key, n + 1)
        if value >= ratio * min(peak[a], peak[b]):
            ra, rb = find(a), find(b)
            if ra != rb:
                root[max(ra, rb)] = min(ra, rb)
    lut = np.asarray([find(i) for i in range(n + 1)], dtype=np.int32)
    return lut[labels]


def close_mask(mask: np.ndarray, radius: int) -> np.ndarray:
    """(H, W) bool: every connected part of ``mask`` closed on its own with a disk of
    ``radius`` pixels: the dark pits and bays of a textured nucleus are filled, and the
    gap to a neighbour (two daughters just parted, two nuclei side by side) stays open,
    as a closing of the whole mask would not leave it."""
    parts, _ = ndi.label(mask)
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    disk = yy**2 + xx**2 <= radius * radius
    out = mask.copy()
    pad = radius + 1
    for k, box in enumerate(ndi.find_objects(parts), start=1):
        if box is None:
            continue
        closed = ndi.binary_closing(np.pad(parts[box] == k, pad), disk)[pad:-pad, pad:-pad]
        out[box] |= closed & (parts[box] == 0)
    return out


def fill_small_holes(mask: np.ndarray, max_hole: int) -> np.ndarray:
    """Fill background holes up to ``max_hole`` pixels (dim nucleoli), not the gaps
    enclosed by a ring of touching nuclei."""
    holes, n = ndi.label(~mask)
    if n == 0:
        return mask
    sizes = np.bincount(holes.ravel())
    small = sizes <= max_hole
    small[0] = False
    return mask | small[holes]


def merge_close_markers(markers: np.ndarray, dist: np.ndarray, min_distance: float) -> np.ndarray:
    """Keep the highest of markers closer than ``min_distance`` (greedy, by height)."""
    index = np.arange(1, int(markers.max()) + 1)
    rows, cols = np.nonzero(markers)
    ids = markers[rows, cols]
    count = np.bincount(ids, minlength=len(index) + 1)[1:]
    centres = np.column_stack(
        [np.bincount(ids, weights=w, minlength=len(index) + 1)[1:] / count for w in (rows, cols)]
    )
    heights = np.asarray(ndi.maximum(dist[rows, cols], ids, index))
    from scipy.spatial import cKDTree

    near = cKDTree(centres).query_ball_point(centres, np.nextafter(min_distance, 0))
    kept = np.zeros(len(index), bool)
    suppressed = np.zeros(len(index), bool)
    for i in np.argsort(-heights):  # a marker is kept unless a kept higher one is near
        if not suppressed[i]:
            kept[i] = True
            suppressed[near[i]] = True
    keep = np.flatnonzero(kept).tolist()
    lut = np.zeros(len(index) + 1, dtype=np.int32)
    lut[np.asarray(keep) + 1] = np.arange(1, len(keep) + 1)
    return lut[markers]


def _seeds(dist: np.ndarray, mask: np.ndarray, h: float) -> np.ndarray:
    """(H, W) bool: the h-maxima of ``dist`` inside ``mask``, found object by object (a
    crop around each connected part of the mask): several times faster than over the
    whole frame (the reconstruction sorts fewer pixels), with practically the same seeds
    (a crop can keep a few more shallow maxima; on the benchmark movies the detections
    score the same)."""
    from skimage.morphology import h_maxima

    parts, _ = ndi.label(mask)
    out = np.zeros(mask.shape, bool)
    pad = 4
    for k, box in enumerate(ndi.find_objects(parts), start=1):
        if box is None:
            continue
        box = tuple(slice(max(0, b.start - pad), b.stop + pad) for b in box)
        out[box] |= h_maxima(dist[box], h).astype(bool) & (parts[box] == k)
    return out


def _fails_shape(obj: np.ndarray, d: float, p: ClassicalParams) -> bool:
    """Whether a (h, w) bool object is debris (not solid) or a fibre, by ``p``'s tests."""
    if p.min_solidity > 0 and _solidity(obj) < p.min_solidity:
        return True
    return p.max_elongation > 0 and _is_fibre(obj, d, p.max_elongation)


def strip_attachments(labels: np.ndarray, d: float, p: ClassicalParams) -> np.ndarray:
    """Strip thin attachments from the objects that fail the shape tests.

    A nucleus touched by a fibre, a scratch or a strand of debris is one object of the
    threshold, long or not solid, which the shape tests would drop whole. Each such
    object (at least ``p.min_area`` typical nuclei large) is opened with a disk of
    ``p.strip_radius * d`` pixels: parts narrower than the disk go. What is left, grown
    back by the disk's radius inside the object (its own rim, not the attachment), is
    one new object per connected part; :func:`segment_nuclei` then tests each again.

    Parameters
    ----------
    labels
        (H, W) integer labels 1..N, axes (row, col); 0 is background.
    d
        Typical nucleus diameter in pixels.
    p
        The detector's settings (``strip_radius``, ``min_area`` and the shape tests).

    Returns
    -------
    numpy.ndarray
        ``labels`` itself when no object was stripped, else a new (H, W) ``int32``
        array: the objects left as they were keep their ids, the parts of a stripped
        object get new ids above the largest (the attachment's pixels become 0).
    """
    return _strip(labels, d, p)[0]


def _strip(labels: np.ndarray, d: float, p: ClassicalParams) -> tuple[np.ndarray, set[int]]:
    """:func:`strip_attachments`, and the ids of the objects it tested that passed the
    shape tests (kept as they are: :func:`_clean` need not test them again)."""
    passed: set[int] = set()
    radius = max(1, round(p.strip_radius * d))
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    disk = yy**2 + xx**2 <= radius * radius
    smallest = max(12.0, p.min_area * np.pi * d * d / 4)
    out = labels
    next_id = int(labels.max()) + 1
    pad = radius + 1
    for i, box in enumerate(ndi.find_objects(labels), start=1):
        if box is None:
            continue
        obj = labels[box] == i
        if obj.sum() < smallest:
            continue
        if not _fails_shape(obj, d, p):
            passed.add(i)
            continue
        if out is labels:
            out = labels.astype(np.int32, copy=True)
        core = ndi.binary_opening(np.pad(obj, pad), disk)[pad:-pad, pad:-pad]
        parts, n = ndi.label(core)
        view = out[box]
        view[obj] = 0
        for k in range(1, n + 1):
            part = ndi.binary_dilation(parts == k, disk) & obj & (view == 0)
            view[part] = next_id
            next_id += 1
    return out, passed


def _clean(
    labels: np.ndarray,
    edt: np.ndarray,
    d: float,
    p: ClassicalParams,
    passed: set[int] | frozenset[int] = frozenset(),
) -> np.ndarray:
    """Drop small objects and debris (thin: a small inscribed radius; or not solid);
    number the rest 1..N. ``passed``: ids already known to pass the shape tests."""
    n = int(labels.max())
    if n == 0:
        return labels
    areas = np.bincount(labels.ravel(), minlength=n + 1)
    keep = areas >= p.min_area * np.pi * d * d / 4
    radius = np.zeros(n + 1)
    np.maximum.at(radius, labels.ravel(), edt.ravel())
    keep &= radius >= p.min_thickness * d
    keep[0] = False
    for i, box in enumerate(ndi.find_objects(labels), start=1):
        if box is None or not keep[i] or i in passed:
            continue
        obj = labels[box] == i
        if obj.sum() >= 12 and _fails_shape(obj, d, p):
            keep[i] = False
    lut = np.zeros(n + 1, np.int32)
    lut[keep] = np.arange(1, int(keep.sum()) + 1)
    return lut[labels]


def _is_fibre(obj: np.ndarray, d: float, max_elongation: float) -> bool:
    """Whether a (h, w) bool object is a fibre or a scratch: longer than one and a half
    nuclei and more than ``max_elongation`` times as long as it is wide (the axes of the
    ellipse with its second moments). A nucleus cut by the frame's border can be as
    elongated, but is never longer than a nucleus."""
    small, large = ellipse_axes(obj)
    return bool(4.0 * large > 1.5 * d and large > max_elongation * small)


def ellipse_axes(obj: np.ndarray) -> tuple[float, float]:
    """(minor, major) standard deviations in pixels of a (h, w) bool object's pixels
    along the axes of its second moments (a quarter of the ellipse's axis lengths)."""
    rows, cols = np.nonzero(obj)
    if rows.size < 2:
        return 1e-3, 1e-3
    cov = np.cov(np.stack([rows, cols]).astype(np.float64))
    small, large = np.sqrt(np.maximum(np.linalg.eigvalsh(cov), 1e-6))
    return float(small), float(large)


def _solidity(obj: np.ndarray) -> float:
    from skimage.morphology import convex_hull_image

    hull = convex_hull_image(obj)
    return float(obj.sum()) / max(1.0, float(hull.sum()))
