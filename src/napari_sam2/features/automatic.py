"""Segment everything: the automatic mask generator on the current plane.

The generator runs in a worker with progress and cancel; its label image is merged into
the target Labels layer with fresh labels, under the overlap policy, as one undo step.
Its settings are the engine's :class:`sam2_engine.MaskGeneratorSettings`, starting from
what the model in use recommends; the user's changes are kept until the model changes.

A plane that the image predictor's ``TilingSettings`` would tile (the Segment tab's rule:
much larger than the model input) is segmented tile by tile and merged across tile
borders (:func:`segment_in_tiles`), not squashed into the model input. Progress counts
tiles; Cancel keeps the objects of the tiles (or batches of points) done.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from napari_sam2.core.jobs import Job, JobContext
from napari_sam2.core.labels_edit import PlaneEdit, read_plane
from napari_sam2.core.state import OverlapPolicy, PlaneKey
from napari_sam2.core.workspace import Workspace


class AutomaticSegmentation:
    """Automatic segmentation of one plane.

    Attributes
    ----------
    settings
        ``sam2_engine.MaskGeneratorSettings`` used by :meth:`segment_everything` when it
        is given none; reset to the model's recommendation when the model changes.
    report
        ``sam2_engine.FilterReport`` of the last run (None before the first).
    """

    def __init__(self, ws: Workspace) -> None:
        import sam2_engine as se

        self._ws = ws
        self.settings: Any = se.MaskGeneratorSettings()
        self.report: Any = None
        #: "instances" (the model's instance head, when it has one) or "grid" prompts
        self.method = "grid"
        #: object diameter in image pixels for the instance head; None estimates it
        self.diameter: float | None = None
        self.last_run: tuple[str, float | None] | None = None  # (method, diameter used)

    def model_changed(self, model: Any) -> None:
        import sam2_engine as se

        self.settings = se.MaskGeneratorSettings.for_model(model)
        self.method = "instances" if se.has_instance_head(model) else "grid"

    def methods(self) -> list[str]:
        """Methods the model in use offers ("instances" first when it has the head)."""
        import sam2_engine as se

        model = self._ws.models.model
        has_head = model is not None and se.has_instance_head(model)
        return ["instances", "grid"] if has_head else ["grid"]

    def describe(self, written: int) -> str:
        """What the last run did, for the user: objects written, candidates found, what
        each filter removed, and (when nothing was written) what to change."""
        report, s = self.report, self.settings
        if self.last_run is not None and self.last_run[0] == "instances":
            size = self.last_run[1]
            how = "given" if self.diameter is not None else "estimated"
            text = (
                f"{written} object(s) written by the model's instance head "
                f"(object diameter {size:.0f} px, {how})."
            )
            if written == 0:
                text += (
                    " Nothing was found: set the object diameter by hand, or use the grid "
                    "prompts method."
                )
            return text
        if report is None:
            return f"{written} object(s) written."
        text = f"{written} object(s) written: {report.summary()}."
        if report.kept > written:
            text += (
                f" {report.kept - written} kept mask(s) lay on pixels of existing objects "
                f"and were left out (overlap policy {self._ws.settings.overlap.value!r})."
            )
        if written == 0:
            text += " " + _hint(report, s)
        return text

    def segment_everything(
        self,
        settings: Any = None,
        *,
        method: str | None = None,
        diameter: float | None = None,
    ) -> bool:
        """Segment every object of the current plane into the target Labels layer.

        New objects get fresh labels; the overlap policy protects existing ones; the
        result is one undo step.

        Parameters
        ----------
        settings
            ``sam2_engine.MaskGeneratorSettings`` (default: :attr:`settings`) of the grid
            method; its ``min_mask_region_area`` also drops smaller masks from the result.
        method
            "instances" (the model's instance head: one pass and a watershed) or "grid"
            (a grid of click prompts); default :attr:`method`.
        diameter
            Object diameter in image pixels for the instance head (0 or None:
            estimated from the image); kept in :attr:`diameter`.
        """
        ws = self._ws
        settings = settings or self.settings
        method = method or self.method
        if method not in self.methods():
            ws.notify(
                "warning",
                f"The model in use cannot segment everything with {method!r}; "
                f"choose {' or '.join(self.methods())}.",
            )
            return False
        self.method, self.diameter = method, (float(diameter) if diameter else None)
        if ws.image.layout is None or ws.models.model is None:
            ws.notify("warning", "Choose an image layer and load a model first.")
            return False
        if ws.jobs.is_running("automatic"):
            ws.notify("warning", "Automatic segmentation is already running.")
            return False
        plane, model, token = ws.image.plane, ws.models.model, ws.image.token
        source = ws.image.source(plane)

        size = self.diameter
        kept: list[tuple[np.ndarray, Any]] = []  # the work's result, also when cancelled

        def work(ctx: JobContext) -> tuple[np.ndarray, Any]:
            import sam2_engine as se

            if method == "instances":
                seg = se.InstanceSegmenter(model, diameter=size)
                # read lazily: a big plane is segmented in tiles, one tile read at a time
                labels = seg.segment(
                    source.lazy(plane.frame),
                    progress=ctx.report,
                    cancel=lambda: ctx.cancelled,
                )
                kept.append((labels, ("instances", seg.last_diameter)))
                return kept[-1]
            gen = se.AutomaticMaskGenerator(model, settings)
            lazy = source.lazy(plane.frame)
            hw = (int(lazy.shape[0]), int(lazy.shape[1]))
            # the Segment tab's rule (the image predictor's TilingSettings): a plane much
            # larger than the model input is segmented tile by tile, not squashed
            if gen.predictor.tiling.should_tile(hw, model.image_size):
                kept.append(segment_in_tiles(gen, lazy, ctx, settings.min_mask_region_area))
                return kept[-1]
            labels = gen.generate_labels(
                source.normalized(plane.frame),
                progress=ctx.report,
                cancel=lambda: ctx.cancelled,
                min_area=settings.min_mask_region_area,
            )
            kept.append((labels, gen.report))
            return kept[-1]

        def current() -> bool:
            return token == ws.image.token and model is ws.models.model

        def done(found: tuple[np.ndarray, Any]) -> None:
            kept.clear()  # written here: a late cancel must not write it again
            if current():
                self._finished(plane, found, settings)

        def finish(cancelled: bool) -> None:
            # Cancel keeps finished work: the masks of the batches (tiles) done
            if cancelled and kept and current():
                self._finished(plane, kept[-1], settings)
            elif cancelled and current():
                ws.status.set("Segment everything cancelled: nothing was written.")

        ws.jobs.start(
            Job(
                "automatic",
                work,
                on_done=done,
                on_finish=finish,
                on_progress=ws.jobs.progress_fn("automatic"),
                description="SAM 2 segment everything",
            ),
            announce=f"Segmenting everything on {ws.image.plane_name(plane)}…",
        )
        return True

    def _finished(self, plane: PlaneKey, found: tuple[np.ndarray, Any], settings: Any) -> None:
        """Write a run's labels (``found``: labels and report, or ("instances",
        diameter)) and say what it did."""
        ws = self._ws
        labels, outcome = found
        if isinstance(outcome, tuple):
            self.last_run, self.report = outcome, None
        else:
            self.last_run, self.report = ("grid", None), outcome
            self.settings = settings
        n = self._write(plane, np.asarray(labels))
        text = self.describe(n)
        if self.report is not None and self.report.cancelled:
            text = f"cancelled; {text}"
        ws.status.set(f"Segment everything: {text}")
        if n == 0:
            ws.notify("warning", f"Segment everything wrote nothing: {text}")
        ws.events.automatic_finished.emit(n)

    def _write(self, plane: PlaneKey, found: np.ndarray) -> int:
        ws = self._ws
        layout = ws.image.layout
        assert layout is not None
        labels = ws.labels.ensure(layout, ws.image.layer)
        index = layout.labels_index(tuple(labels.data.shape), plane)
        before = read_plane(labels, index)
        offset = ws.next_label() - 1
        fg = found > 0
        if ws.settings.overlap is not OverlapPolicy.OVERWRITE:
            fg &= before == 0
        new = before.copy()
        new[fg] = found[fg].astype(before.dtype) + offset
        rows, cols = np.nonzero(new != before)
        ws.labels.write(index, PlaneEdit(rows, cols, new[rows, cols]), labels)
        ids = np.unique(new[fg])
        ws.labels.ids.written(int(ids.max(initial=0)))
        return int(ids.size)


def _hint(report: Any, settings: Any) -> str:
    """What to change when a run wrote nothing, from the filter that removed most."""
    if report.decoded == 0:
        return "No mask was decoded: check the image and the model."
    removed = {
        "low_iou": report.low_iou,
        "unstable": report.unstable,
        "no_object": report.no_object,
        "at_crop_edge": report.at_crop_edge,
    }
    worst = max(removed, key=lambda k: removed[k])
    if removed[worst] == 0:
        return "Every mask overlapped an existing object: choose 'overwrite others' under Overlap."
    return {
        "low_iou": f"Lower 'Predicted IoU ≥' (now {settings.pred_iou_thresh:g}) and run again.",
        "unstable": f"Lower 'Stability ≥' (now {settings.stability_score_thresh:g}) and run again.",
        "no_object": "The model sees no object at the grid points: try more points per side or "
        "another model.",
        "at_crop_edge": "Masks were cut by crop edges: use fewer crop layers.",
    }[worst]


def segment_in_tiles(
    gen: Any, plane: Any, ctx: JobContext, min_area: int = 0
) -> tuple[np.ndarray, Any]:
    """Segment everything on a plane much larger than the model input, tile by tile
    (``sam2_engine.generate_tiled``: objects cut by tile borders are merged).

    Parameters
    ----------
    gen
        The ``sam2_engine.AutomaticMaskGenerator`` run on each tile.
    plane
        The plane as a ``sam2_engine.LazyPlane``: only one tile's pixels are read and
        normalised at a time.
    ctx
        The job: progress is reported per tile (done, total tiles); a cancel skips the
        tiles not started (and the rest of the current one), and the objects of the
        tiles done are kept.
    min_area
        Objects left with fewer pixels in the label image are dropped.

    Returns
    -------
    labels : numpy.ndarray
        (H, W) int32 labels 1..N of the plane, (row, col).
    report : sam2_engine.FilterReport
        The tiles' reports added up; ``kept`` counts the merged objects, ``duplicates``
        includes the copies merged across tile borders.
    """
    import sam2_engine as se

    side = gen.predictor.tiling.tile_side(gen.model.image_size)
    halo = gen.predictor.tiling.halo_px(gen.model.image_size)
    grid = se.TileGrid((int(plane.shape[0]), int(plane.shape[1])), side, halo)
    total = se.FilterReport()
    per_tile = se.generator_tile_masks(gen, cancel=lambda: ctx.cancelled)

    def tile_masks(rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
        found = per_tile(rgb)
        r = gen.report
        for name in ("points", "decoded", "no_object", "low_iou", "unstable", "at_crop_edge"):
            setattr(total, name, getattr(total, name) + getattr(r, name))
        total.duplicates += r.duplicates
        total.kept += r.kept
        return found

    def cancelled() -> bool:
        return ctx.cancelled

    masks, labels = se.generate_tiled(
        plane, grid, tile_masks, progress=ctx.report, cancel=cancelled
    )
    if min_area > 0 and masks:
        counts = np.bincount(labels.ravel(), minlength=len(masks) + 1)
        keep = counts >= min_area
        keep[0] = False
        lut = np.zeros(counts.size, dtype=np.int32)
        lut[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
        labels = lut[labels]
    n = int(labels.max(initial=0))
    total.duplicates += total.kept - len(masks)
    total.kept = n
    total.cancelled = ctx.cancelled
    total.notes.append(f"found tile by tile on {len(grid)} tiles of {side} px")
    return labels, total
