"""Segment everything with the instance head: one pass, then seeded watershed.

For models that have an instance head (``model.instance_head``; the bundled
``microscopy`` model does, the official ones do not). The image is rescaled so that its
objects are about the head's training diameter across (``cfg.instance_head.diameter``
model pixels), padded to a multiple of 32 and run through the trunk, neck and head at
once (all convolutional: no grid of prompts). The two maps come back at the image's
resolution; the cores of the distance map (pixels above a share of their local peak) seed
a watershed of the foreground. An image larger than ``InstanceSettings.max_pixels`` at
the model's scale is segmented in overlapping tiles and merged
(:mod:`sam2_engine.automatic.instance_tiles`): memory bounded by one tile, objects cut
by tile borders whole and once.

The object size follows Cellpose's convention: ``diameter`` in image pixels, given by the
user or, when None, estimated from the image by running the head at a few scales on a
central crop and keeping the scale whose objects come out at the size it assumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage as ndi

from sam2_engine.automatic.object_size import (
    PROBE_DIAMETERS,
    larger_plateau,
    plateau_diameter,
    prefer_larger,
)
from sam2_engine.imaging.frames import imagenet_normalize
from sam2_engine.imaging.image_input import as_lazy_plane
from sam2_engine.imaging.intensity import Normalization
from sam2_engine.imaging.lazy_plane import LazyPlane
from sam2_engine.model.recommended import recommended_section
from sam2_engine.model.sam2 import SAM2Model
from sam2_engine.progress import CancelCallback, ProgressCallback

__all__ = ["InstanceSegmenter", "InstanceSettings", "has_instance_head"]

#: the thresholds a model may recommend (``model.recommended["instance"]``, stored with
#: its weights): they are on its own head's scale, so they travel with the weights
RECOMMENDABLE = ("foreground_threshold", "seed_threshold", "min_seed", "min_area_fraction")


def has_instance_head(model: SAM2Model) -> bool:
    """True when ``model`` can segment everything with its instance head."""
    return getattr(model, "instance_head", None) is not None


@dataclass(frozen=True)
class InstanceSettings:
    """Thresholds of the instance segmentation.

    Attributes
    ----------
    foreground_threshold : float
        Foreground probability above which a pixel belongs to an object.
    seed_threshold : float
        Share of the local peak of the distance map (0 at a boundary, 1 at a centre;
        the peak is taken within one diameter) above which a pixel belongs to an object's
        core; each core seeds one object. Relative, so that a head that is not sure of
        its distances (peaks below 1) still separates touching objects at their saddle.
    min_seed : float
        Distance a core pixel needs at least, whatever its neighbourhood.
    min_area_fraction : float
        Objects smaller than this share of a disc of the diameter are dropped.
    max_pixels : int
        Largest image (pixels at the model's scale, i.e. rescaled so that objects are the
        head's diameter across) run in one pass; beyond this, the image is tiled. One
        pass of 2,048² model pixels takes about 0.7 GB on a CPU.
    tile : int
        Tile side at the model's scale (model pixels) when tiling: ``tile * diameter /
        head diameter`` image pixels.
    tile_halo : float
        Pixels a tile shares with each neighbour, in object diameters (neighbours overlap
        by twice this). An object up to about ``2 * tile_halo - 1`` diameters across is
        whole in the tile that keeps it.
    refine_with_boxes : bool
        Prompt the mask decoder with each object's box and keep its mask where it agrees
        with the head's (micro-sam's "AIS + box prompts" idea): sharper outlines, one
        decoder pass per object.
    refine_min_iou : float
        A refined mask replaces the head's only if their IoU is at least this (guards
        against a box prompt that grabbed a neighbour).
    check_fragments : bool
        When the size is estimated: weigh a plateau at least 1.5x larger than the best
        against it, by how many objects touch each other at each size (sparse fields,
        where the best can be made of fragments; see
        :mod:`sam2_engine.automatic.object_size`).
    """

    # defaults for a model that recommends none (the bundled model carries its own, tuned
    # for its weights by sam2_training.instance_tuning). Chosen for the step-3,600 model on
    # generated tuning fields (16 fields of nuclei, cytoplasm and phase stains, 7-60 px
    # objects, seeds neither held-out nor drawn by training): relative seeds at 0.7 of the
    # local peak instead of 0.5 part touching objects whose saddle the head leaves high
    # (F1 with the true diameter 0.68 -> 0.76), and a foreground at 0.6 with them
    # estimates the diameter within 1.3x on 88 % of fields instead of 75 %
    foreground_threshold: float = 0.6
    seed_threshold: float = 0.7
    min_seed: float = 0.05
    min_area_fraction: float = 0.12
    max_pixels: int = 2048 * 2048
    tile: int = 1024
    tile_halo: float = 3.0
    refine_with_boxes: bool = False
    refine_min_iou: float = 0.5
    check_fragments: bool = True

    def __post_init__(self) -> None:
        for name in ("foreground_threshold", "seed_threshold"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ValueError(f"{name}={value} must be between 0 and 1 (exclusive)")
        if self.min_area_fraction < 0:
            raise ValueError(f"min_area_fraction={self.min_area_fraction} must be >= 0")
        if self.tile < 64 or self.max_pixels < 1:
            raise ValueError(
                f"tile={self.tile} and max_pixels={self.max_pixels} must be at least 64 "
                "and 1 pixels"
            )
        if not self.tile_halo > 0:
            raise ValueError(f"tile_halo={self.tile_halo} must be a positive number of diameters")

    @classmethod
    def for_model(cls, model: Any, **overrides: Any) -> InstanceSettings:
        """The settings to start from with ``model``: the thresholds it recommends
        (``model.recommended["instance"]``, fields of :data:`RECOMMENDABLE`) over the
        defaults, then ``overrides``.

        Raises
        ------
        ValueError
            The model recommends a field that is not one of :data:`RECOMMENDABLE`.
        """
        spec = recommended_section(model, "instance", RECOMMENDABLE)
        return cls(**{**{k: float(v) for k, v in spec.items()}, **overrides})


class InstanceSegmenter:
    """Label every object of an image with the model's instance head.

    Parameters
    ----------
    model : SAM2Model
        A model with an instance head (see :func:`has_instance_head`).
    diameter : float, optional
        Typical object diameter in image pixels; None estimates it per image.
    settings : InstanceSettings, optional
        Thresholds; by default those the model recommends
        (:meth:`InstanceSettings.for_model`).

    Attributes
    ----------
    last_diameter : float or None
        The diameter used by the last :meth:`segment` call (given or estimated).
    last_cancelled : bool
        Whether the last :meth:`segment` call was cancelled.

    Examples
    --------
    >>> import numpy as np, sam2_engine as se
    >>> model = se.build_model("conv_micro", checkpoint=False, device="cpu")
    >>> labels = se.InstanceSegmenter(model, diameter=20).segment(np.zeros((64, 64)))
    >>> labels.shape, labels.dtype
    ((64, 64), dtype('int32'))
    """

    def __init__(
        self,
        model: SAM2Model,
        diameter: float | None = None,
        *,
        settings: InstanceSettings | None = None,
    ) -> None:
        if not has_instance_head(model):
            raise ValueError(
                f"model {model.cfg.name!r} has no instance head; use AutomaticMaskGenerator "
                "(grid prompts) with it, or a model that has one (e.g. 'microscopy')"
            )
        if diameter is not None and not (np.isfinite(diameter) and diameter > 0):
            raise ValueError(f"diameter={diameter} must be a positive number of pixels, or None")
        self.model = model
        self.diameter = None if diameter is None else float(diameter)
        self.settings = settings or InstanceSettings.for_model(model)
        self.last_diameter: float | None = None
        self.last_cancelled = False

    @property
    def head_diameter(self) -> float:
        """Object diameter (model pixels) the head was trained at."""
        return float(self.model.cfg.instance_head.diameter)

    # ------------------------------------------------------------------ public
    def segment(
        self,
        image: Any,
        *,
        channel_axis: int | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelCallback | None = None,
        out: np.ndarray | None = None,
    ) -> np.ndarray:
        """Label image of every object.

        Parameters
        ----------
        image : array_like, shape (H, W) or (H, W, C), or a LazyPlane
            Axes (row, col[, channel]); any dtype (numpy, memmap, zarr, dask); not
            modified. Only the pixels a pass needs are read and normalised at a time.
        channel_axis : int, optional
            Channel axis if not last (see :func:`sam2_engine.to_rgb`).
        progress : callable, optional
            Called with (done, total): the diameter probes (when estimated), then the
            passes of the head (one, or one per tile).
        cancel : callable, optional
            Polled before each pass; once True, the objects of the tiles done are kept
            (none for a one-pass image) and :attr:`last_cancelled` is True.
        out : ndarray of int32, shape (H, W), optional
            Array of zeros to write the labels into (e.g. a ``numpy.memmap`` for a
            slide whose label image should not live in memory); returned.

        Returns
        -------
        labels : ndarray of int32, shape (H, W)
            0 for background, 1..N for objects (ordered by first pixel, row-major).
        """
        from sam2_engine.automatic.instance_tiles import segment_tiles

        plane = _as_plane(image, channel_axis)
        h, w = plane.shape[:2]
        if out is None:
            out = np.zeros((h, w), np.int32)
        elif out.shape != (h, w) or out.dtype != np.int32:
            raise ValueError(f"out is {out.shape} {out.dtype}; give an ({h}, {w}) int32 array")
        self.last_cancelled = False
        diameter = self.diameter
        probes = 0 if diameter is not None else len(PROBE_DIAMETERS)
        if cancel is not None and cancel():
            self.last_cancelled = True
            return out
        if diameter is None:
            diameter = self.estimate_diameter(plane, progress=progress)
        self.last_diameter = diameter
        scale = self.head_diameter / diameter
        if max(round(h * scale), 1) * max(round(w * scale), 1) > self.settings.max_pixels:
            self.last_cancelled = segment_tiles(
                self, plane, diameter, out, progress=progress, cancel=cancel, done=probes
            )
            return out
        if cancel is not None and cancel():
            self.last_cancelled = True
            return out
        out[...] = self.segment_rgb(plane.full(), diameter)
        if progress is not None:
            progress(probes + 1, probes + 1)
        return out

    def segment_rgb(self, rgb: np.ndarray, diameter: float) -> np.ndarray:
        """One pass: int32 labels of an (H, W, 3) image in [0, 1] whose objects are
        ``diameter`` pixels across (maps, watershed, and box refinement when set)."""
        fg, dist = self.maps(rgb, diameter)
        labels = self.labels_from_maps(fg, dist, diameter)
        del fg, dist
        if self.settings.refine_with_boxes and labels.any():
            labels = self.refine(rgb, labels)
        return labels

    def size_of(
        self,
        image: Any,
        *,
        channel_axis: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> float:
        """Typical object diameter (image pixels) of an image, read as :meth:`segment`
        reads it (its size estimate alone, without segmenting).

        Parameters
        ----------
        image : array_like, shape (H, W) or (H, W, C), or a LazyPlane
            Axes (row, col[, channel]); any dtype.
        channel_axis : int, optional
            Channel axis if not last.
        progress : callable, optional
            Called with (done, total) over the diameter probes.
        """
        return self.estimate_diameter(_as_plane(image, channel_axis), progress=progress)

    def estimate_diameter(self, rgb: Any, progress: ProgressCallback | None = None) -> float:
        """Typical object diameter (image pixels) of an (H, W, 3) image in [0, 1] (an
        array, or a LazyPlane: only the central crops are read).

        Each probe diameter d rescales a central crop so that objects of size d would
        match the head, and the median size of what the head finds is noted. At the true
        size, the objects come out at the size assumed and *stay* that size when the
        probe changes a little (a plateau); a texture or a fragment of an object, which
        the head also finds at whatever size it is told, grows with the probe. See
        :func:`~sam2_engine.automatic.object_size.plateau_diameter`. Where another
        plateau is at least 1.5x larger (the best-scored such), one central crop is
        segmented at both sizes and the larger is taken if clearly fewer of its objects
        touch each other (the smaller's are fragments:
        :func:`~sam2_engine.automatic.object_size.prefer_larger`;
        ``InstanceSettings.check_fragments``).
        With objects at no scale, the head's own diameter is returned (the image is then
        used at its own scale).
        """
        found: list[float | None] = []
        total = len(PROBE_DIAMETERS) + 1
        for i, probe in enumerate(PROBE_DIAMETERS):
            scale = self.head_diameter / probe
            crop = _central_crop(rgb, int(np.ceil(512 / scale)))
            fg, dist = self.maps(crop, probe)
            labels = self.labels_from_maps(fg, dist, probe)
            if progress is not None:
                progress(i + 1, total)
            several = np.count_nonzero(np.bincount(labels.ravel())[1:]) >= 2
            found.append(_median_diameter(labels) if several else None)
        estimate = plateau_diameter(PROBE_DIAMETERS, found)
        if estimate is None:
            return self.head_diameter
        larger = larger_plateau(PROBE_DIAMETERS, found, estimate)
        if larger is not None and self.settings.check_fragments:  # are they fragments?
            # about 512 model px at the larger size, and one pass of at most max_pixels
            # at the smaller one (a plateau of 8 px against one of 90 px would otherwise
            # ask for some 6,000² model pixels)
            side = min(512 * larger, np.sqrt(self.settings.max_pixels) * estimate)
            crop = _central_crop(rgb, int(np.ceil(side / self.head_diameter)))
            crop = np.asarray(crop, np.float32)
            at = [self.labels_from_maps(*self.maps(crop, d), d) for d in (estimate, larger)]
            if prefer_larger(*at):
                estimate = larger
        return estimate

    @torch.inference_mode()
    def maps(self, rgb: np.ndarray, diameter: float) -> tuple[np.ndarray, np.ndarray]:
        """Foreground probability and normalised distance, (H, W) float32 each, of an
        (H, W, 3) image in [0, 1] whose objects are ``diameter`` pixels across, in one
        pass whatever its size (:meth:`segment` tiles big images)."""
        h, w = rgb.shape[:2]
        scale = self.head_diameter / float(diameter)
        sh, sw = max(round(h * scale), 1), max(round(w * scale), 1)
        device = self.model.device
        x = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).to(device)
        x = x.permute(2, 0, 1)[None]
        if (sh, sw) != (h, w):
            x = F.interpolate(
                x, size=(sh, sw), mode="bilinear", align_corners=False, antialias=True
            )
        x = imagenet_normalize(x)
        ph, pw = (-sh) % 32, (-sw) % 32
        if ph or pw:
            mode = "reflect" if min(sh, sw) > max(ph, pw) else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)
        out = self.model.instance_maps(x.to(self.model.dtype)).float()[:, :, :sh, :sw]
        if (sh, sw) != (h, w):
            out = F.interpolate(out, size=(h, w), mode="bilinear", align_corners=False)
        probs = out[0].sigmoid().cpu().numpy()
        return probs[0], probs[1]

    def refine(self, rgb: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Each object of ``labels`` re-segmented from its box by the mask decoder.

        Parameters
        ----------
        rgb : ndarray, shape (H, W, 3)
            The image, floats in [0, 1].
        labels : ndarray of int32, shape (H, W)
            The head's objects.

        Returns
        -------
        ndarray of int32, shape (H, W)
            Refined objects (largest first; a pixel keeps the first object that takes
            it); an object whose refined mask disagrees with the head's keeps the head's.
        """
        from sam2_engine.image import ImagePredictor
        from sam2_engine.imaging.intensity import NormalizedFrame

        predictor = ImagePredictor(self.model)
        predictor.set_image(NormalizedFrame(np.ascontiguousarray(rgb, dtype=np.float32)))
        out = np.zeros_like(labels)
        order = np.argsort(-np.bincount(labels.ravel())[1:]) + 1
        slices = ndi.find_objects(labels)
        for obj in order:
            window = slices[obj - 1]
            if window is None:
                continue
            own = labels == obj
            rows, cols = window
            # (x0, y0, x1, y1) with inclusive corners, as training draws boxes
            box = [cols.start, rows.start, cols.stop - 1, rows.stop - 1]
            mask = predictor.predict(box=box, multimask=False).masks[0]
            union = np.logical_or(mask, own).sum()
            agree = union > 0 and np.logical_and(mask, own).sum() / union >= (
                self.settings.refine_min_iou
            )
            out[(mask if agree else own) & (out == 0)] = obj
        return _relabel(out)

    def labels_from_maps(self, fg: np.ndarray, dist: np.ndarray, diameter: float) -> np.ndarray:
        """Seeded watershed of (H, W) foreground / distance maps -> int32 labels."""
        from skimage.segmentation import watershed

        s = self.settings
        sigma = max(float(diameter) / 12.0, 0.0)
        smooth = ndi.gaussian_filter(dist, sigma) if sigma >= 0.5 else dist
        mask = fg > s.foreground_threshold
        size = max(round(float(diameter)), 3)
        peak = ndi.maximum_filter(smooth, size=size)
        core = (smooth >= s.seed_threshold * peak) & (smooth > s.min_seed) & mask
        cores, n = ndi.label(core)
        if n == 0:
            return np.zeros(fg.shape, np.int32)
        labels = watershed(-smooth, cores, mask=mask).astype(np.int32)
        min_area = s.min_area_fraction * np.pi * (float(diameter) / 2.0) ** 2
        areas = np.bincount(labels.ravel())
        small = np.flatnonzero(areas < min_area)
        small = small[small > 0]
        if small.size:
            labels[np.isin(labels, small)] = 0
        return _relabel(labels)


def _as_plane(image: Any, channel_axis: int | None) -> LazyPlane:
    """The image as a LazyPlane (no copy; channels moved last as a view), as the image
    predictor reads one (default intensity normalisation)."""
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    return as_lazy_plane(image, channel_axis, None, Normalization())


def _central_crop(rgb: Any, side: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    top, left = max((h - side) // 2, 0), max((w - side) // 2, 0)
    rows, cols = slice(top, top + side), slice(left, left + side)
    return rgb.region(rows, cols) if isinstance(rgb, LazyPlane) else rgb[rows, cols]


def _median_diameter(labels: np.ndarray) -> float | None:
    areas = np.bincount(labels.ravel())[1:]
    areas = areas[areas > 0]
    if areas.size == 0:
        return None
    return float(np.median(np.sqrt(4.0 * areas / np.pi)))


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Consecutive ids 1..N in order of first appearance (row-major)."""
    ids, first = np.unique(labels.ravel(), return_index=True)
    keep = ids > 0
    ids, first = ids[keep], first[keep]
    lookup = np.zeros(int(labels.max()) + 1, np.int32)
    lookup[ids[np.argsort(first)]] = np.arange(1, ids.size + 1, dtype=np.int32)
    return lookup[labels]
