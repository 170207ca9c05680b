"""Settings of the automatic mask generator: one typed object that carries its defaults.

The defaults are those of the official SAM 2 generator. A model may recommend other
values (e.g. a small model trained on microscopy scores its masks lower than the official
models do): :meth:`MaskGeneratorSettings.for_model` reads them from the model's
``recommended`` settings (with lower thresholds for other models that recommend nothing),
so the plugin, the cell tracker, the console API and scripts agree.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SMALL_MODEL_SETTINGS", "FilterReport", "MaskGeneratorSettings"]


@dataclass(frozen=True)
class MaskGeneratorSettings:
    """What :class:`~sam2_engine.AutomaticMaskGenerator` does (see its parameters).

    Attributes
    ----------
    points_per_side : int or None
        Grid points along each side (``points_per_side**2`` prompts); None with explicit
        point grids.
    points_per_batch : int
        Points decoded together (memory vs speed).
    pred_iou_thresh : float
        Keep masks whose predicted IoU is above this (0 disables the filter).
    stability_score_thresh : float
        Keep masks whose stability score reaches this (0 disables the filter).
    stability_score_offset : float
        Shift of the logit threshold used by the stability score.
    mask_threshold : float
        Logit threshold that turns logits into masks.
    box_nms_thresh : float
        Box IoU above which a duplicate mask of a crop is dropped.
    crop_n_layers : int
        Extra layers of overlapping crops (finer objects, slower).
    crop_nms_thresh : float
        Box IoU for duplicates between crops.
    crop_overlap_ratio : float
        Overlap of neighbouring layer-1 crops as a fraction of the shorter image side.
    crop_n_points_downscale_factor : int
        Layer ``i`` uses ``points_per_side / factor**i`` points per side.
    min_mask_region_area : int
        Fill holes / remove islands below this area (0 disables the clean-up).
    use_m2m : bool
        Refine every mask once more with its own logits.
    multimask : bool
        Three candidate masks per point (True) or one.
    tile_sides : tuple of int or None
        Square tiles of these sides (image pixels), each prompted with its own point
        grid, instead of the crop layers; a quick probe picks the sides at which the
        image's objects fill a plausible share of a tile (for models made for windows,
        :mod:`sam2_engine.focus`). None: crop layers, as the official generator.
    tile_overlap : float
        Overlap of neighbouring tiles, share of the side.
    min_object_score : float or None
        Drop masks whose object-presence logit is not above this (None keeps all).
    """

    points_per_side: int | None = 32
    points_per_batch: int = 64
    pred_iou_thresh: float = 0.8
    stability_score_thresh: float = 0.95
    stability_score_offset: float = 1.0
    mask_threshold: float = 0.0
    box_nms_thresh: float = 0.7
    crop_n_layers: int = 0
    crop_nms_thresh: float = 0.7
    crop_overlap_ratio: float = 512 / 1500
    crop_n_points_downscale_factor: int = 1
    min_mask_region_area: int = 0
    use_m2m: bool = False
    multimask: bool = True
    tile_sides: tuple[int, ...] | None = None
    tile_overlap: float = 0.25
    min_object_score: float | None = None

    def replace(self, **changes: Any) -> MaskGeneratorSettings:
        """A copy with some fields changed; unknown names raise ``TypeError``."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise TypeError(
                f"unknown mask generator setting(s) {sorted(unknown)}; known: "
                f"{[f.name for f in dataclasses.fields(self)]}"
            )
        return dataclasses.replace(self, **changes)

    @classmethod
    def for_model(cls, model: Any) -> MaskGeneratorSettings:
        """The settings to start from with ``model``.

        What the model recommends (``model.recommended["automatic"]``, read from its
        checkpoint) over the defaults; the defaults as they are for the official SAM 2
        models; :data:`SMALL_MODEL_SETTINGS` over the defaults for every other model.
        """
        from sam2_engine.weights.official import OFFICIAL_CHECKPOINTS

        recommended = dict((getattr(model, "recommended", None) or {}).get("automatic", {}))
        if recommended.get("tile_sides") is not None:
            recommended["tile_sides"] = tuple(int(s) for s in recommended["tile_sides"])
        name = str(getattr(getattr(model, "cfg", None), "name", ""))
        if not recommended and name not in OFFICIAL_CHECKPOINTS:
            recommended = dict(SMALL_MODEL_SETTINGS)
        return cls().replace(**recommended)


#: Where a model that recommends nothing and is not an official SAM 2 model starts (e.g.
#: small models trained on microscopy, whose scores are lower: with the official 0.8 /
#: 0.95 thresholds the former demo model kept no mask on the plugin's samples; these found
#: objects on each of the three).
SMALL_MODEL_SETTINGS: dict[str, Any] = {
    "pred_iou_thresh": 0.6,
    "stability_score_thresh": 0.8,
    "min_object_score": 0.0,
    "min_mask_region_area": 20,
}


@dataclass
class FilterReport:
    """How many candidate masks each stage of a generator run kept.

    Attributes
    ----------
    points : int
        Grid points prompted (over all crops).
    decoded : int
        Candidate masks decoded (points x masks per point).
    no_object : int
        Dropped because the model says there is no object at the point.
    low_iou : int
        Dropped by ``pred_iou_thresh``.
    unstable : int
        Dropped by ``stability_score_thresh``.
    at_crop_edge : int
        Dropped because they touch an inner crop edge.
    duplicates : int
        Dropped by non-maximum suppression (within and across crops, and after clean-up).
    kept : int
        Masks returned.
    cancelled : bool
        The run was cancelled (the counts cover the batches done).
    """

    points: int = 0
    decoded: int = 0
    no_object: int = 0
    low_iou: int = 0
    unstable: int = 0
    at_crop_edge: int = 0
    duplicates: int = 0
    kept: int = 0
    cancelled: bool = False
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One sentence for a user: what was found and which filter removed what."""
        if self.decoded == 0:
            return "no candidate mask was decoded"
        removed = [
            (n, what)
            for n, what in (
                (self.no_object, "with no object at their point"),
                (self.low_iou, "below the predicted-IoU threshold"),
                (self.unstable, "below the stability threshold"),
                (self.at_crop_edge, "cut by a crop edge"),
                (self.duplicates, "duplicates"),
            )
            if n
        ]
        text = f"{self.kept} of {self.decoded} candidate masks kept"
        if removed:
            text += "; removed: " + ", ".join(f"{n} {what}" for n, what in removed)
        return text
