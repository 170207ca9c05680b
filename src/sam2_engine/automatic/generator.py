"""AutomaticMaskGenerator: segment everything by prompting SAM 2 with a grid of points.

Every grid point is one positive click. The points of a crop are decoded in batches,
masks with a low predicted IoU or a low stability score are dropped, duplicates are
removed by box non-maximum suppression within each crop and across crops, and what is
left comes back as :class:`MaskRecord` objects or as a label image.

Coordinates follow the SAM convention: points are ``(x, y) = (column, row)`` pixels of
the original image, boxes are ``(x, y, width, height)`` in records.

Examples
--------
>>> import numpy as np, sam2_engine as se
>>> gen = se.AutomaticMaskGenerator(se.build_model("test_tiny"), points_per_side=4,
...                                 pred_iou_thresh=0, stability_score_thresh=0)
>>> image = np.random.default_rng(0).integers(0, 4000, (64, 80), dtype=np.uint16)
>>> labels = gen.generate_labels(image)
>>> labels.shape
(64, 80)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from sam2_engine.automatic.crops import batch_iterator, crop_boxes, unskipped_points
from sam2_engine.automatic.filters import (
    OUTPUT_MODES,
    BatchProgress,
    Candidates,
    FilterSettings,
    check_options,
    crop_scores,
    filter_batch,
    nms,
    remove_small_regions_and_nms,
    resolve_grids,
)
from sam2_engine.automatic.records import MaskRecord, candidate_record
from sam2_engine.automatic.settings import FilterReport, MaskGeneratorSettings
from sam2_engine.automatic.tiling import probe_sides, square_tiles, tile_scores
from sam2_engine.device import inference_context
from sam2_engine.image import ImagePredictor
from sam2_engine.imaging.intensity import Normalization, to_rgb
from sam2_engine.masks.label_image import masks_to_label_image
from sam2_engine.model.sam2 import LOGIT_CLAMP, SAM2Model
from sam2_engine.progress import CancelCallback, ProgressCallback
from sam2_engine.prompts import to_model_coords

__all__ = [
    "OUTPUT_MODES",
    "AutomaticMaskGenerator",
    "FilterReport",
    "MaskGeneratorSettings",
    "MaskRecord",
]

LABEL_ORDERS = ("area", "score")
# the crops are already normalised to [0, 1] RGB: the predictor must use them as they are
_AS_IS = Normalization("none", clip=False)


class AutomaticMaskGenerator:
    """Find all objects of an image with a grid of single-point prompts.

    Parameters
    ----------
    model
        A :class:`~sam2_engine.model.sam2.SAM2Model`.
    settings
        A :class:`~sam2_engine.automatic.settings.MaskGeneratorSettings` (default: the
        official generator's values); ``**overrides`` change single fields of it, e.g.
        ``AutomaticMaskGenerator(model, points_per_side=16, pred_iou_thresh=0.5)``.
        :meth:`MaskGeneratorSettings.for_model` gives the values a model recommends.
        The fields:

        ``points_per_side``: grid points along each side of the image
        (``points_per_side**2`` in all); give exactly one of it and ``point_grids``.
        ``points_per_batch``: points decoded together in one decoder call.
        ``pred_iou_thresh``: keep masks whose predicted IoU is ``> pred_iou_thresh``
        (0 disables the filter). ``stability_score_thresh``: keep masks whose stability
        score is ``>= stability_score_thresh`` (0 disables). ``stability_score_offset``:
        shift of the logit threshold used by the stability score. ``mask_threshold``:
        logit threshold that turns logits into masks. ``box_nms_thresh``: box IoU above
        which the lower-IoU mask of a crop is dropped as a duplicate. ``crop_n_layers``:
        extra layers of crops: layer ``i`` cuts the image into ``2**i x 2**i``
        overlapping crops, each encoded and prompted on its own. ``crop_nms_thresh``: box
        IoU for duplicates between crops; the mask from the smaller crop wins.
        ``crop_overlap_ratio``: overlap of neighbouring layer-1 crops as a fraction of
        the shorter image side. ``crop_n_points_downscale_factor``: layer ``i`` uses
        ``points_per_side / factor**i`` points per side. ``min_mask_region_area``: if
        > 0, two clean-ups run. (1) As the reference does on CUDA: in every decoded
        low-resolution logit map, holes and islands of at most this many low-resolution
        pixels are filled / removed before the stability score and the mask are
        computed. (2) As SAM 1 does: after de-duplication, holes and islands of fewer
        than this many image pixels are removed from every mask, and NMS (at
        ``max(box_nms_thresh, crop_nms_thresh)``) runs again, preferring unchanged masks.
        ``use_m2m``: refine every mask once more, prompting with its point and its own
        logits. ``multimask``: three masks per point (True) or one.
    point_grids
        Explicit normalised ``(x, y)`` grids in [0, 1], one (N_i, 2) array per layer
        (``crop_n_layers + 1`` of them), instead of ``points_per_side`` (pass
        ``points_per_side=None`` with them).
    output_mode
        ``"binary_mask"``, ``"uncompressed_rle"`` or ``"coco_rle"`` (COCO string RLE,
        written without pycocotools): the form of :attr:`MaskRecord.segmentation`.
    normalization
        Intensity normalisation of the image (see
        :class:`~sam2_engine.imaging.intensity.Normalization`); it is computed once on the
        whole image, so all crops share it.

    Attributes
    ----------
    report : FilterReport
        What the last run found and which filter removed what.
    """

    def __init__(
        self,
        model: SAM2Model,
        settings: MaskGeneratorSettings | None = None,
        *,
        point_grids: Sequence[np.ndarray] | None = None,
        output_mode: str = "binary_mask",
        normalization: Normalization | None = None,
        **overrides: Any,
    ) -> None:
        s = (settings or MaskGeneratorSettings()).replace(**overrides)
        check_options(s.points_per_batch, s.crop_n_layers, s.min_mask_region_area, output_mode)
        self.point_grids = resolve_grids(
            s.points_per_side, point_grids, s.crop_n_layers, s.crop_n_points_downscale_factor
        )
        # the generator makes its own crops or tiles: the predictor encodes them whole
        self.predictor = ImagePredictor(
            model, mask_threshold=s.mask_threshold, normalization=normalization, windows=None
        )
        self.options = s
        self.points_per_batch = int(s.points_per_batch)
        self.settings = FilterSettings(
            pred_iou_thresh=s.pred_iou_thresh,
            stability_score_thresh=s.stability_score_thresh,
            stability_score_offset=s.stability_score_offset,
            mask_threshold=s.mask_threshold,
            low_res_clean_area=int(s.min_mask_region_area),
        )
        self.box_nms_thresh = s.box_nms_thresh
        self.crop_n_layers = int(s.crop_n_layers)
        self.crop_nms_thresh = s.crop_nms_thresh
        self.crop_overlap_ratio = s.crop_overlap_ratio
        self.min_mask_region_area = int(s.min_mask_region_area)
        self.output_mode = output_mode
        self.use_m2m = s.use_m2m
        self.multimask = s.multimask
        self.report = FilterReport()

    @property
    def model(self) -> SAM2Model:
        return self.predictor.model

    # ------------------------------------------------------------------ public API
    def generate(
        self,
        image: np.ndarray,
        *,
        channel_axis: int | None = None,
        channels: Sequence[int] | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelCallback | None = None,
        skip: np.ndarray | None = None,
    ) -> list[MaskRecord]:
        """Find the masks of one 2D image.

        Parameters
        ----------
        image
            (H, W) grey, (H, W, 3) RGB, or multichannel with ``channel_axis``; any real
            dtype (as :meth:`ImagePredictor.set_image`). NaN/inf values are refused.
        channel_axis, channels
            As in :meth:`ImagePredictor.set_image`.
        progress
            Called as ``progress(done, total)`` after each decoded batch of points;
            ``total`` counts the batches of all crops.
        cancel
            Polled before each crop and each batch; once it returns True no more batches
            are decoded and the masks of the batches already done are returned,
            de-duplicated and cleaned up as usual (a partial but consistent result).
        skip
            (H, W) bool: grid points on True pixels are not prompted (e.g. pixels that
            already belong to known objects); a crop without points is not encoded.

        Returns
        -------
        list of MaskRecord
            In the reference's order: by predicted IoU within a crop (best first) and,
            with crops, smaller crops first.
        """
        records, _ = self._run(image, channel_axis, channels, progress, cancel, skip)
        return records

    def generate_labels(
        self,
        image: np.ndarray,
        *,
        channel_axis: int | None = None,
        channels: Sequence[int] | None = None,
        progress: ProgressCallback | None = None,
        cancel: CancelCallback | None = None,
        order: str = "area",
        min_area: int = 0,
        skip: np.ndarray | None = None,
    ) -> np.ndarray:
        """Find the masks and merge them into one label image (e.g. a napari Labels layer).

        Parameters
        ----------
        image, channel_axis, channels, progress, cancel, skip
            As in :meth:`generate`.
        order
            Who owns a pixel covered by several masks: ``"area"`` the smallest mask,
            ``"score"`` the one with the highest predicted IoU.
        min_area
            Masks left with fewer visible pixels are dropped.

        Returns
        -------
        numpy.ndarray of unsigned int, shape (H, W)
            0 is background; masks get consecutive labels 1, 2, ... in record order.
            See :func:`~sam2_engine.masks.label_image.masks_to_label_image`.
        """
        if order not in LABEL_ORDERS:
            raise ValueError(f"order must be one of {LABEL_ORDERS}, got {order!r}.")
        records, hw = self._run(image, channel_axis, channels, progress, cancel, skip)
        return masks_to_label_image(records, hw, order=order, min_area=min_area)  # type: ignore[return-value]

    # ------------------------------------------------------------------ pipeline
    def _run(
        self,
        image: np.ndarray,
        channel_axis: int | None,
        channels: Sequence[int] | None,
        progress: ProgressCallback | None,
        cancel: CancelCallback | None,
        skip: np.ndarray | None = None,
    ) -> tuple[list[MaskRecord], tuple[int, int]]:
        rgb = to_rgb(
            image,
            channel_axis=channel_axis,
            channels=channels,
            normalization=self.predictor.normalization,
        )
        hw = (int(rgb.shape[0]), int(rgb.shape[1]))
        with torch.inference_mode():
            found = self._find_masks(rgb, BatchProgress(progress, cancel), skip)
        return [candidate_record(found, i, self.output_mode) for i in range(len(found))], hw

    def _find_masks(
        self, rgb: np.ndarray, tracker: BatchProgress, skip: np.ndarray | None = None
    ) -> Candidates:
        hw = rgb.shape[:2]
        if skip is not None and tuple(skip.shape) != tuple(hw):
            raise ValueError(f"skip has shape {skip.shape} but the image is {tuple(hw)}")
        tiles = self.options.tile_sides
        if tiles:
            sides = probe_sides(hw, tiles, lambda tile: self._probe_tile(rgb, tile))
            boxes = [b for s in sides for b in square_tiles(hw, s, self.options.tile_overlap)]
            layers = [0] * len(boxes)
        else:
            boxes, layers = crop_boxes(hw, self.crop_n_layers, self.crop_overlap_ratio)
        # (N, 2) float64 (x, y) grid points of each crop, in crop pixels
        sizes = [np.array([[x1 - x0, y1 - y0]]) for x0, y0, x1, y1 in boxes]
        grids = [self.point_grids[k] * wh for k, wh in zip(layers, sizes, strict=True)]
        if skip is not None:
            boxes, grids = unskipped_points(boxes, grids, skip)
        tracker.total = sum(math.ceil(len(g) / self.points_per_batch) for g in grids)
        self.report = FilterReport(points=sum(len(g) for g in grids))
        parts = []
        for box, points in zip(boxes, grids, strict=True):
            if tracker.stop_requested():
                break
            parts.append(self._process_crop(rgb, box, points, tracker))
        found = Candidates.concat(parts)
        before = len(found)
        if len(boxes) > 1:
            score = (
                tile_scores(found.boxes, found.crop_boxes, found.iou)
                if tiles
                else crop_scores(found.crop_boxes)
            )
            found = found.select(nms(found.boxes, score, self.crop_nms_thresh))
        if self.min_mask_region_area > 0:
            thresh = max(self.box_nms_thresh, self.crop_nms_thresh)
            found = remove_small_regions_and_nms(found, self.min_mask_region_area, thresh)
        self.report.duplicates += before - len(found)
        self.report.kept = len(found)
        self.report.cancelled = tracker.stopped
        return found

    def _probe_tile(self, rgb: np.ndarray, tile: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Boxes and crop boxes of the masks a coarse 6 x 6 grid finds in one tile."""
        report = self.report
        self.report = FilterReport()
        x0, y0, x1, y1 = tile
        grid = (np.stack(np.meshgrid(np.arange(6), np.arange(6)), -1).reshape(-1, 2) + 0.5) / 6
        points = grid * [[x1 - x0, y1 - y0]]
        found = self._process_crop(rgb, tile, points, BatchProgress(None, None))
        self.report = report
        return found.boxes, found.crop_boxes

    def _process_crop(
        self, rgb: np.ndarray, box: Sequence[int], points: np.ndarray, tracker: BatchProgress
    ) -> Candidates:
        """Encode one crop, decode its points batch by batch, de-duplicate within it."""
        x0, y0, x1, y1 = box
        self.predictor.set_image(rgb[y0:y1, x0:x1], normalization=_AS_IS)
        feats = self.predictor.features
        with inference_context(self.model.device, self.model.precision):
            embed = self.model.embed_without_memory(feats)
        parts = []
        for (batch,) in batch_iterator(self.points_per_batch, points):
            if tracker.stop_requested():
                break
            parts.append(self._process_batch(embed, batch, box, rgb.shape[:2]))
            tracker.advance()
        self.predictor.reset()
        found = Candidates.concat(parts)
        kept = found.select(nms(found.boxes, found.iou, self.box_nms_thresh))
        self.report.duplicates += len(found) - len(kept)
        return kept.uncropped(box)

    def _process_batch(
        self, embed: torch.Tensor, points: np.ndarray, box: Sequence[int], image_hw: tuple
    ) -> Candidates:
        """Decode (n, 2) crop-pixel points in one decoder call; filter and encode the masks."""
        x0, y0, x1, y1 = box
        dev = self.model.device
        xy = torch.as_tensor(points, dtype=torch.float32)
        prompts = to_model_coords(xy, (y1 - y0, x1 - x0), self.model.image_size, dev)[:, None]
        low_res, iou, present = self._decode(embed, prompts, None, self.multimask)
        per_point = low_res.shape[0] // len(xy)
        xy = xy.repeat_interleave(per_point, dim=0)
        if self.use_m2m:
            prompts = prompts.repeat_interleave(per_point, dim=0)
            low_res, iou = self._refine(embed, prompts, low_res.clamp(-LOGIT_CLAMP, LOGIT_CLAMP))
        floor = self.options.min_object_score
        if floor is not None:  # points between objects: the model says "nothing here"
            keep = present > floor
            dropped = int((~keep).sum())
            self.report.no_object += dropped
            self.report.decoded += dropped  # filter_batch counts the rest
            low_res, iou, xy = low_res[keep], iou[keep], xy[keep.cpu()]
        return filter_batch(low_res, iou, xy, box, tuple(image_hw), self.settings, self.report)

    def _decode(
        self,
        embed: torch.Tensor,
        prompts: torch.Tensor,
        mask_input: torch.Tensor | None,
        multimask: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(n, 1, 2) model-pixel clicks -> (n * M, h, w) float logits, (n * M,) IoU and
        (n * M,) object-presence logits."""
        labels = torch.ones(prompts.shape[:2], dtype=torch.int32, device=prompts.device)
        high_res = self.predictor.features.high_res
        with inference_context(self.model.device, self.model.precision):
            out = self.model.decode(embed, high_res, prompts, labels, mask_input, multimask)
        m = out.masks.shape[1]
        present = out.object_score.float()[:, 0].repeat_interleave(m)
        return out.masks.float().flatten(0, 1), out.iou.float().flatten(0, 1), present

    def _refine(
        self, embed: torch.Tensor, prompts: torch.Tensor, low_res: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mask-to-mask refinement: each click again, with its own logits as mask prompt."""
        logits, ious = [], []
        for pts, masks in batch_iterator(self.points_per_batch, prompts, low_res):
            out = self._decode(embed, pts, masks[:, None], multimask=False)
            logits.append(out[0])
            ious.append(out[1])
        return torch.cat(logits), torch.cat(ious)
